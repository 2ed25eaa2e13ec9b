"""`sam-trt build`: an export folder -> a gated precision variant (ONNX) -> TensorRT plans for this GPU."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

PRECISIONS = ("fp32", "fp16", "int8", "fp8")


def parse_range(text: str) -> tuple[int, int, int]:
    """'MIN,OPT,MAX' (or one number for all three) -> (min, opt, max), 1 <= min <= opt <= max."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) == 1:
        values *= 3
    if len(values) != 3 or not 1 <= values[0] <= values[1] <= values[2]:
        raise argparse.ArgumentTypeError(f"range {text!r} must be MIN,OPT,MAX with 1 <= MIN <= OPT <= MAX")
    return values[0], values[1], values[2]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "build", help="precision variant (fp32/fp16/int8/fp8) of an export, accuracy-gated, and TensorRT plans")
    parser.add_argument("--onnx", required=True,
                        help="FP32 export folder from sam-trt export ('demo': the bundled one)")
    parser.add_argument("--precision", required=True, choices=PRECISIONS, help="precision written into the graphs")
    parser.add_argument("--calib", default=None, help="folder of calibration images for int8/fp8 "
                                                      "(>= 500 recommended; default: generated scenes)")
    parser.add_argument("--calib-count", type=int, default=None,
                        help="calibration images used (default: 64, or every image of --calib up to 1000)")
    parser.add_argument("--calib-method", choices=["max", "entropy"], default="max", help="int8/fp8 calibration")
    parser.add_argument("--output", required=True, help="engines folder: onnx/<model>-<precision>/ and "
                                                        "<gpu>-sm<cc>-trt<version>/ go in it")
    parser.add_argument("--force", action="store_true",
                        help="rebuild what is up to date, and publish a variant that fails (or cannot run) its gate")
    parser.add_argument("--plan-only-check", action="store_true",
                        help="build the plans with tensorrt-rtx (works without a GPU) to prove they build; keep none")
    parser.add_argument("--no-engine", action="store_true", help="stop after the gated ONNX variant")
    group = parser.add_argument_group("engine")
    group.add_argument("--encoder-batch", type=parse_range, default=(1, 1, 1), help="encoder batch MIN,OPT,MAX")
    group.add_argument("--prompts", type=parse_range, default=(1, 4, 16), help="decoder prompts B MIN,OPT,MAX")
    group.add_argument("--points", type=parse_range, default=(1, 3, 10), help="decoder points N MIN,OPT,MAX")
    group.add_argument("--opt-level", type=int, choices=range(6), default=None,
                       help="builder optimization level 0-5 (default: TensorRT's, 3)")
    group.add_argument("--workspace-mb", type=int, default=None, help="builder workspace limit in MiB")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..engine.profiles import ProfileRanges
    from ..errors import InputError, SamTrtError
    from ..precision.variant import make_variant, variant_name

    source = Path(args.onnx)
    if args.onnx == "demo":
        from ..demo import DEMO_EXPORT

        source = DEMO_EXPORT
    if not source.is_dir():
        raise InputError(f"export folder not found: {source}; create it with sam-trt export --checkpoint ... "
                         "--output DIR (or pass --onnx demo)")
    if args.calib is not None and not Path(args.calib).is_dir():
        raise InputError(f"calibration folder not found: {args.calib}; pass a folder of images, or leave --calib out "
                         "to calibrate on generated scenes")
    if args.calib is not None and args.precision in ("fp32", "fp16"):
        print(f"note: --calib is used by int8/fp8; {args.precision} uses it only to find FP16 overflows",
              file=sys.stderr)
    from ..export.manifest import read_manifest

    model_type = read_manifest(source).model_type
    output = Path(args.output)
    count = args.calib_count or (1000 if args.calib else 64)
    variant = make_variant(source, args.precision, output / "onnx" / variant_name(model_type, args.precision),
                           calib=args.calib, calib_count=count, calib_method=args.calib_method, force=args.force)
    gate = variant.gate
    checks = ", ".join(f"{k} {c['value']:.4f}" for k, c in gate.get("checks", {}).items())
    print(f"{variant.folder}: {args.precision}, gate {gate.get('status')}{f' ({checks})' if checks else ''}")
    if args.no_engine:
        return 0
    from ..engine.build import build_engines

    ranges = ProfileRanges(args.encoder_batch, args.prompts, args.points)
    rebuild = "sam-trt build " + " ".join(shlex.quote(a) for a in (
        "--onnx", str(args.onnx), "--precision", args.precision, "--output", str(args.output),
        *(["--calib", args.calib] if args.calib else []), "--force"))
    try:
        build_engines(variant.folder, output, ranges, optimization_level=args.opt_level,
                      workspace_bytes=None if args.workspace_mb is None else args.workspace_mb << 20,
                      force=args.force, plan_only_check=args.plan_only_check, rebuild_command=rebuild)
    except SamTrtError as exc:
        if args.plan_only_check:
            raise
        print(f"engines: not built here: {exc}", file=sys.stderr)
    return 0
