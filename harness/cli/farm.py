"""``harness farm``: a labgrid board farm (docs/farm.md). ``agent`` serves flashing beside this host's probes;
``exporter-config`` writes the labgrid exporter configuration for the boards attached here; ``places`` creates and
tags a place per board of it; ``list`` shows the farm's places with their board, probe, state and holder."""

from __future__ import annotations

import json

from harness.cli.common import OK
from harness.errors import UsageError
from harness.options import add
from harness.progress import Progress


def _host_port(text: str, option: str = "--listen") -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"{option} {text}: give HOST:PORT, e.g. 0.0.0.0:20500 (port 0 picks a free one)")
    return host, int(port)


def cmd_agent(args) -> int:
    from harness.farm.agent import serve
    from harness.targets.virtual_bench import die_with_parent

    die_with_parent()
    host, port = _host_port(args.listen)

    def ready(bound: int) -> None:
        if args.json:
            print(json.dumps({"host": host, "port": bound}), flush=True)
        else:
            Progress().say(f"flash agent listening on {host}:{bound}; Ctrl-C stops it")

    try:
        serve(host, port, args.boards_file, ready)
    except KeyboardInterrupt:
        pass
    return OK


def cmd_exporter_config(args) -> int:
    import socket
    from pathlib import Path

    from harness.farm.exporter import attached_boards, exporter_config

    boards = attached_boards(args.boards_file, tuple(args.only_probe or ()))
    if not boards:
        raise UsageError("no board on this host: no debug probe pyOCD sees here belongs to a board in boards.yaml "
                         "(`pyocd list`; a probe's board name or target type must match a profile)")
    host, port = _host_port(args.agent, "--agent") if args.agent else (socket.getfqdn(), 20500)
    text = exporter_config(boards, host, port)
    if args.output == "-":
        print(text, end="")
    else:
        Path(args.output).write_text(text)
        Progress().say(f"wrote {args.output}: {', '.join(b.place for b in boards)}; start it with "
                       f"`labgrid-exporter -c COORDINATOR -n {socket.gethostname()} {args.output}`")
    return OK


def cmd_places(args) -> int:
    from harness.farm.choice import require_labgrid
    from harness.farm.coordinator import Coordinator, coordinator_address
    from harness.farm.exporter import read_places

    require_labgrid()
    wanted = read_places(args.config)
    with Coordinator(coordinator_address(args.lg_coordinator)) as client:
        have = client.places()
        for place, board, probe in wanted:
            if place not in have:
                client.create_place(place)
            pattern = f"{args.exporter}/{place}/*"
            if place not in have or pattern not in have[place].matches:
                client.add_match(place, pattern)
            client.set_tags(place, {"board": board, "probe": probe})
            Progress().say(f"place {place}: {pattern}, board={board} probe={probe}")
    return OK


def cmd_list(args) -> int:
    import time

    from harness.farm.choice import require_labgrid
    from harness.farm.coordinator import Coordinator, coordinator_address
    from harness.farm.lease import lease_of

    require_labgrid()
    address = coordinator_address(args.lg_coordinator)
    with Coordinator(address) as client:
        places = client.places()
    print(f"{'place':<20} {'board':<22} {'probe':<26} {'state':<10} holder")
    for name, place in sorted(places.items()):
        lease = lease_of(place)
        state = "acquired" if place.acquired else "reserved" if place.reservation else "free"
        holder = place.acquired or ""
        if place.acquired and lease:
            left = lease[2] - time.time()
            holder += f" (harness {lease[0]}, lease {'ran out' if left < 0 else f'{left:.0f} s left'})"
        print(f"{name:<20} {place.tags.get('board', '?'):<22} {place.tags.get('probe', '?'):<26} {state:<10} "
              f"{holder}")
    if not places:
        Progress().warn(f"no places on the labgrid coordinator at {address}")
    return OK


def register(sub, bench) -> None:
    farm = sub.add_parser("farm", help="a labgrid board farm: the flash agent, exporter configuration, places")
    fsub = farm.add_subparsers(dest="farm_command", required=True)
    a = fsub.add_parser("agent", help="flash, verify and reset this host's boards for farm clients (only the ELF "
                                      "crosses the network)")
    a.add_argument("--listen", default="0.0.0.0:20500", metavar="HOST:PORT",
                   help="address to serve on (port 0: a free one). Default: 0.0.0.0:20500")
    add(a, "--boards-file")
    a.add_argument("--json", action="store_true", help='print {"host", "port"} once listening')
    a.set_defaults(func=cmd_agent)
    e = fsub.add_parser("exporter-config", help="write the labgrid exporter configuration for the boards attached "
                                                "here (probes and their serial ports; the flash agent)")
    e.add_argument("-o", "--output", default="exporter.yaml", metavar="FILE",
                   help="where to write it (- for stdout). Default: exporter.yaml")
    e.add_argument("--agent", metavar="HOST:PORT", help="the flash agent's address as clients reach it. Default: "
                                                        "this host's name, port 20500")
    e.add_argument("--only-probe", action="append", metavar="ID",
                   help="only the board on this probe (repeat for more). Default: every board attached here")
    add(e, "--boards-file")
    e.set_defaults(func=cmd_exporter_config)
    pl = fsub.add_parser("places", help="create and tag a place per board of an exporter configuration")
    pl.add_argument("config", help="the file `harness farm exporter-config` wrote")
    pl.add_argument("--exporter", required=True, metavar="NAME", help="the exporter's name (labgrid-exporter -n)")
    pl.add_argument("--lg-coordinator", metavar="HOST:PORT",
                    help="the labgrid coordinator. Default: LG_COORDINATOR, else 127.0.0.1:20408")
    pl.set_defaults(func=cmd_places)
    ls = fsub.add_parser("list", help="the farm's places: board, probe, state and holder (with a harness lease)")
    ls.add_argument("--lg-coordinator", metavar="HOST:PORT",
                    help="the labgrid coordinator. Default: LG_COORDINATOR, else 127.0.0.1:20408")
    ls.set_defaults(func=cmd_list)
