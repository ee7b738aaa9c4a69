"""Board pools: each worker takes a free real board and holds its lock; a busy pool waits, then fails naming
who holds the boards; emulated boards are never locked (each worker has its own emulator)."""

import dataclasses
import os

import pytest

from harness.boards import board
from harness.dut import BoardChoice
from harness.errors import TargetTimeout
from harness.targets import pool


@pytest.fixture(autouse=True)
def lock_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(pool, "LOCK_DIR", tmp_path / "locks")


@pytest.fixture
def ports():
    pairs = [os.openpty() for _ in range(2)]
    yield [os.ttyname(slave) for _, slave in pairs]
    for master, slave in pairs:
        os.close(master)
        os.close(slave)


def test_workers_take_different_boards_and_wait_when_all_are_busy(ports):
    choices = [BoardChoice(board("nucleo-f429zi"), port) for port in ports]
    first, lock1 = pool.acquire(choices, worker=0)
    second, lock2 = pool.acquire(choices, worker=0)  # same preference, but the first board is taken
    assert {first.port, second.port} == set(ports)
    with pytest.raises(TargetTimeout, match=f"busy.*pid {os.getpid()}"):
        pool.acquire(choices, worker=1, timeout=0.3, poll=0.05)
    lock1.release()
    third, lock3 = pool.acquire(choices, worker=1, timeout=1.0, poll=0.05)
    assert third == first
    lock2.release()
    lock3.release()


def test_emulated_boards_are_shared_round_robin_without_locks():
    qemu = BoardChoice(board("qemu-stm32f405"))
    renode = BoardChoice(board("renode-stm32f4"))
    assert pool.acquire([qemu, renode], worker=0)[0] == qemu
    assert pool.acquire([qemu, renode], worker=1)[0] == renode
    assert pool.acquire([qemu], worker=5)[1].handle is None


def test_a_lock_survives_only_as_long_as_its_holder(ports):
    choice = BoardChoice(board("nucleo-f439zi"), ports[0])
    _, lock = pool.acquire([choice])
    lock.release()
    lock.release()  # twice is harmless
    _, again = pool.acquire([dataclasses.replace(choice)], timeout=0.2, poll=0.05)
    again.release()
