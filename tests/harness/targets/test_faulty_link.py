"""harness/targets/faulty_link.py on pyserial's own loopback (``loop://``): each fault kind does what it says,
seeded runs replay exactly, stalls delay without losing, and a bad --fault is one line naming the fix."""

import time

import pytest
import serial

from harness.errors import UsageError
from harness.targets.faulty_link import FaultyLink, parse_faults

DATA = bytes(range(1, 256)) * 40  # 10,200 bytes, no zeros


def through(spec: str, seed: int = 1, direction: str = "to-device") -> tuple[bytes, FaultyLink]:
    """``DATA`` written through a FaultyLink on a loopback, and read back whole (loop:// echoes writes)."""
    loop = serial.serial_for_url("loop://", timeout=0.05)
    link = FaultyLink(loop, parse_faults(spec), seed, (direction,))
    link.timeout, out = 0.05, bytearray()
    for at in range(0, len(DATA), 256):  # the loopback's queue holds 4 KiB
        link.write(DATA[at:at + 256])
        out += link.read(65536)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        out += link.read(65536)
        if not link._outbound and not link._inbound and not loop.in_waiting:
            break
    return bytes(out), link


@pytest.mark.parametrize("direction", ["to-device", "from-device"])
def test_each_kind_changes_the_stream_as_it_says(direction):
    flipped, link = through("flip:0.01", direction=direction)
    n = link.counts[direction]["flip"]
    assert len(flipped) == len(DATA) and 50 < n < 170
    assert sum(bin(a ^ b).count("1") for a, b in zip(flipped, DATA)) == n  # one bit per fault
    dropped, link = through("drop:0.01", direction=direction)
    assert len(dropped) == len(DATA) - link.counts[direction]["drop"]
    doubled, link = through("duplicate:0.01", direction=direction)
    assert len(doubled) == len(DATA) + link.counts[direction]["duplicate"]
    garbage, link = through("garbage:0.01", direction=direction)
    assert len(garbage) == len(DATA) + link.counts[direction]["garbage"]
    burst, link = through("burst:2e-3:64", direction=direction)
    bad = sum(a != b for a, b in zip(burst, DATA))
    assert len(burst) == len(DATA) and link.counts[direction]["burst"] >= 5
    assert bad >= 40 * link.counts[direction]["burst"]  # ~63 of every 64 replaced bytes differ


@pytest.mark.parametrize("spec, rate", [("drop:0.01", 0.01), ("flip:0.003,garbage:0.02", 0.023)])
def test_faults_hit_at_the_rate_asked_for_however_the_bytes_are_split(spec, rate):
    loop = serial.serial_for_url("loop://", timeout=0)
    link = FaultyLink(loop, parse_faults(spec), 5, ("to-device",))
    sizes, n = [1, 2, 3, 7, 40, 255, 1000], 0
    for i in range(4000):  # writes of every size, so the spacing between faults must carry across writes
        chunk = DATA[:sizes[i % len(sizes)]]
        link.write(chunk)
        n += len(chunk)
        loop.reset_input_buffer()
    hits = sum(link.counts["to-device"].values())
    sigma = (n * rate * (1 - rate)) ** 0.5
    assert abs(hits - n * rate) < 4 * sigma, (hits, n * rate)


def test_the_same_seed_replays_the_same_damage_and_another_does_not():
    assert through("flip:0.01,drop:0.005", seed=3)[0] == through("flip:0.01,drop:0.005", seed=3)[0]
    assert through("flip:0.01,drop:0.005", seed=3)[0] != through("flip:0.01,drop:0.005", seed=4)[0]


def test_a_stall_holds_bytes_back_and_loses_none():
    start = time.monotonic()
    out, link = through("stall:5e-4:0.1")
    stalls = link.counts["to-device"]["stall"]
    assert out == DATA and stalls >= 1
    assert time.monotonic() - start >= 0.1 * stalls - 0.02


def test_the_link_is_clean_while_disabled():
    loop = serial.serial_for_url("loop://", timeout=0.05)
    link = FaultyLink(loop, parse_faults("flip:0.5"), 0)
    link.enabled = False
    link.write(DATA[:100])
    assert link.read(100) == DATA[:100]


@pytest.mark.parametrize("spec, message", [
    ("bend:0.01", r"unknown fault kind 'bend'; use one of flip, drop, duplicate, garbage, burst, stall"),
    ("flip", r"--fault flip: expected KIND:RATE\[:PARAM\] with numbers"),
    ("flip:often", r"expected KIND:RATE\[:PARAM\] with numbers"),
    ("drop:2", r"the rate is a probability per byte, 0 to 0.5"),
    ("flip:0.01:3", r"only burst \(bytes\) and stall \(seconds\) take a third field"),
    ("stall:1e-5:5-1", r"the range must be positive and ordered"),
    ("", r"give at least one KIND:RATE"),
])
def test_a_bad_fault_spec_is_one_line_naming_the_fix(spec, message):
    with pytest.raises(UsageError, match=message) as err:
        parse_faults(spec)
    assert "\n" not in str(err.value)
