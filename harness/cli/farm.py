"""``harness farm``: a labgrid board farm (docs/farm.md). ``agent`` serves flashing beside this host's probes;
``exporter-config`` writes the labgrid exporter configuration for the boards attached here; ``places`` creates and
tags a place per board; ``list`` shows the farm's places with their board, state and holder."""

from __future__ import annotations

import json

from harness.cli.common import OK
from harness.options import add
from harness.progress import Progress


def _host_port(text: str) -> tuple[str, int]:
    from harness.errors import UsageError

    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen {text}: give HOST:PORT, e.g. 0.0.0.0:20500 (port 0 picks a free one)")
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
