"""`sam-trt export`: checkpoint -> encoder.onnx + decoder.onnx + manifest.json (checked with ONNX Runtime)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..config import KNOWN_CONFIGS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export the encoder and decoder of a checkpoint to ONNX")
    parser.add_argument("--checkpoint", required=True, help="SAM checkpoint (.pth or .safetensors)")
    parser.add_argument("--model-type", choices=["default", *KNOWN_CONFIGS], default=None,
                        help="architecture of --checkpoint (default: read from the checkpoint's shapes)")
    parser.add_argument("--output", required=True, help="export folder to create")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default: 20)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing, non-empty --output")
    parser.add_argument("--no-check", action="store_true", help="skip the ONNX Runtime smoke test")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..export.exporter import DEFAULT_OPSET, export_model
    from ..runtime.loader import build_from_checkpoint

    if args.opset is not None and args.opset < 18:
        from ..errors import InputError

        raise InputError(f"--opset {args.opset} is too old: LayerNormalization needs opset >= 17 and the exporter "
                         "is tested at 18-20")
    sam, model_type = build_from_checkpoint(Path(args.checkpoint), args.model_type)
    folder = export_model(sam, args.output, model_type=model_type, opset=args.opset or DEFAULT_OPSET,
                          overwrite=args.overwrite)
    if not args.no_check:
        smoke_test(folder)
    return 0


def smoke_test(folder: Path) -> None:
    """Run both graphs once through ONNX Runtime on a blank image and a click."""
    from ..predictor import SamPredictor
    from ..runtime.ort_backend import OrtBackend

    predictor = SamPredictor(OrtBackend(folder))
    predictor.set_image(np.full((48, 64, 3), 127, np.uint8))
    masks, scores, _ = predictor.predict(point_coords=np.array([[32, 24]]), point_labels=np.array([1]))
    if masks.shape != (3, 48, 64) or not np.isfinite(scores).all():
        from ..errors import BackendError

        raise BackendError(f"the export in {folder} runs but gives wrong outputs; please report this")
    print(f"checked {folder} with onnxruntime: ok")
