"""`sam-trt` command line: one module per verb, each with `add_parser(subparsers)` and `run(args)`."""

from __future__ import annotations

import argparse
import sys

from ..errors import SamTrtError
from . import amg, bench, build, export, info, segment, video

VERBS = (export, info, segment, amg, bench, build, video)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sam-trt", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb in VERBS:
        verb.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except SamTrtError as exc:
        print(f"sam-trt {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sam-trt {args.verb}: interrupted", file=sys.stderr)
        return 130
