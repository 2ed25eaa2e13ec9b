"""`sam-trt` command line: one module per verb, each with `add_parser(subparsers)` and `run(args)`."""

from __future__ import annotations

import argparse
import sys

from ..errors import SamTrtError
from ..extras import missing_module_hint
from . import amg, bench, build, export, info, segment, video

VERBS = (export, info, segment, amg, bench, build, video)
DESCRIPTION = ("Segment Anything (SAM) with the official API on torch, ONNX Runtime or TensorRT: export a "
               "checkpoint to ONNX, build TensorRT engines for this GPU, segment an image from clicks or a box, "
               "generate every mask of images, track objects through a video or camera, and benchmark backends.")
EPILOG = ("Typical flow: sam-trt export -> sam-trt build -> sam-trt video --engines. Without a model, segment, "
          "amg, video and bench run the bundled demo model. 'sam-trt VERB --help' lists a verb's options.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sam-trt", description=DESCRIPTION, epilog=EPILOG)
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
    except ModuleNotFoundError as exc:  # an optional dependency of this verb: name the extra that installs it
        hint = missing_module_hint(exc, verb=args.verb)
        if hint is None:
            raise
        print(f"sam-trt {args.verb}: error: {hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sam-trt {args.verb}: interrupted", file=sys.stderr)
        return 130
