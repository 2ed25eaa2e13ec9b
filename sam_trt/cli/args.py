"""Argument types and option groups shared by several verbs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..config import MODEL_CONFIGS
from ..runtime.loader import BACKENDS


def parse_point(text: str) -> tuple[float, float, int]:
    """'x,y' or 'x,y,label' (label 1 foreground, 0 background) -> (x, y, label)."""
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (2, 3) or (len(values) == 3 and values[2] not in (0.0, 1.0)):
        raise argparse.ArgumentTypeError(f"point {text!r} must be x,y or x,y,label with label 1 (fg) or 0 (bg)")
    return values[0], values[1], int(values[2]) if len(values) == 3 else 1


def parse_box(text: str) -> tuple[float, float, float, float]:
    """'x0,y0,x1,y1' -> XYXY box."""
    try:
        values = [float(p) for p in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"box {text!r} must be x0,y0,x1,y1 (pixels, left top right bottom)")
    return values[0], values[1], values[2], values[3]


def add_model_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--checkpoint", required=True,
                       help="official SAM checkpoint (.pth/.safetensors) or an export folder from sam-trt export")
    group.add_argument("--model-type", choices=["default", *MODEL_CONFIGS], default=None,
                       help="architecture of --checkpoint (default: read from the checkpoint's shapes)")
    group.add_argument("--backend", choices=BACKENDS, default="auto",
                       help="auto: ort for an export folder, torch for a checkpoint")
    group.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda (default: cuda if available)")


def load_predictor(args: Any) -> Any:
    """A SamPredictor for the model options of `add_model_args`."""
    from ..predictor import SamPredictor
    from ..runtime.loader import load_backend

    options = {}
    if Path(args.checkpoint).is_file():
        import torch

        options["device"] = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    return SamPredictor(load_backend(args.checkpoint, backend=args.backend, model_type=args.model_type, **options))
