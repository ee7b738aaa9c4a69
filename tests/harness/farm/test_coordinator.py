"""harness/farm/coordinator.py against a real labgrid-coordinator (tests/harness/farm/loopback.py, no exporters)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("labgrid", reason="the [farm] extra is not installed: pip install -e '.[farm]'")

from harness.errors import FarmError  # noqa: E402
from harness.farm.coordinator import Coordinator  # noqa: E402
from tests.harness.farm.loopback import LoopbackFarm  # noqa: E402


def test_a_sync_the_broken_stream_never_answers_names_the_fix(tmp_path: Path):
    """labgrid answers a sync pending when its stream breaks with False; that says what every lost-coordinator
    path says (CI once met this path with a message that gave no fix)."""
    with LoopbackFarm(tmp_path, hosts=()) as farm, Coordinator(farm.address) as client:
        client.sync()

        async def unanswered():
            return False

        client.session.sync_with_coordinator = unanswered
        with pytest.raises(FarmError) as err:
            client.places()
    assert str(err.value) == (f"cannot sync with the coordinator: the connection to the labgrid coordinator at "
                              f"{farm.address} was lost; is labgrid-coordinator still running there?")


def test_the_coordinator_lost_right_after_a_place_is_acquired_says_the_place_is_lost(tmp_path: Path):
    """CI met this window once: the coordinator died between the acquire and the session's next request, and the
    session said only "cannot sync …", not which place it had lost as every later path does."""
    from harness.farm.lease import FarmRequest, Lease

    with LoopbackFarm(tmp_path, hosts=()) as farm, Coordinator(farm.address) as client:
        client.create_place("farm-x")
        client.set_tags("farm-x", {"host": "x"})
        acquire = client.acquire

        def acquire_then_lose(name: str) -> None:
            acquire(name)

            async def unanswered():
                return False

            client.session.sync_with_coordinator = unanswered

        client.acquire = acquire_then_lose
        lease = Lease(client, FarmRequest(tags={"host": "x"}, wait=20))
        with pytest.raises(FarmError) as err:
            lease.acquire()
    assert str(err.value) == (f"place farm-x lost: cannot sync with the coordinator: the connection to the labgrid "
                              f"coordinator at {farm.address} was lost; is labgrid-coordinator still running there?")
