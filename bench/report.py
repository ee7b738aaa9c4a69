"""What the bench scripts share: a figure measured once, printed as JSON (``--json``) or for a person."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable


def main(doc: str, measure: Callable[[argparse.Namespace], object], show: Callable[[object], None],
         options: Callable[[argparse.ArgumentParser], None] | None = None) -> int:
    """Parse ``--json`` (and ``options``' own), measure, print."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    if options:
        options(parser)
    args = parser.parse_args()
    result = measure(args)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        show(result)
    return 0
