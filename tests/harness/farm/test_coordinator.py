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
