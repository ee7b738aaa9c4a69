"""``--board=labgrid:…`` checked before any build: the coordinator answers, some place matches, and every matching
place names the same boards.yaml profile of a board on a probe (its ``board=`` tag)."""

from __future__ import annotations

from pathlib import Path

from harness.errors import DependencyError, UsageError
from harness.farm.lease import FarmRequest, parse_farm_board

INSTALL = "pip install -e '.[farm]' (./setup.sh installs it)"


def require_labgrid() -> None:
    try:
        import labgrid  # noqa: F401
    except ImportError as exc:
        raise DependencyError(f"--board=labgrid:… needs labgrid: {INSTALL}") from exc


def farm_board(spec: str, boards_file: str | Path | None, coordinator: str | None):
    """(board profile, FarmRequest, coordinator address) for ``spec``; one-line errors naming the fix."""
    from harness.boards import board
    from harness.farm.coordinator import Coordinator, coordinator_address

    request: FarmRequest = parse_farm_board(spec)
    require_labgrid()
    address = coordinator_address(coordinator)
    with Coordinator(address) as client:
        places = client.places()
    matching = [p for p in places.values() if request.matches(p)]
    if not matching:
        have = ", ".join(f"{p.name} ({','.join(f'{k}={v}' for k, v in sorted(p.tags.items()))})"
                         for p in places.values()) or "none"
        raise UsageError(f"no place on the labgrid coordinator at {address} matches {request} (places: {have}); "
                         f"`harness farm places` creates them")
    untagged = [p.name for p in matching if not p.tags.get("board")]
    if untagged:
        raise UsageError(f"place {untagged[0]} has no board=<boards.yaml name> tag: "
                         f"labgrid-client -p {untagged[0]} set-tags board=NAME")
    names = sorted({p.tags["board"] for p in matching})
    if len(names) > 1:
        raise UsageError(f"{request} matches places of several boards ({', '.join(names)}): add board=NAME")
    profile = board(names[0], boards_file)
    if not profile.on_serial_port:
        raise UsageError(f"places for {request} are tagged board={profile.name}, which is not a board on a probe "
                         f"({profile.backend}); a farm shares boards flashed through pyOCD")
    return profile, request, address
