"""Argument types and option groups shared by several verbs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..config import KNOWN_CONFIGS
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
    group.add_argument("--checkpoint", default="demo",
                       help="'demo' (the bundled model, default), an official SAM checkpoint (.pth/.safetensors) "
                            "or an export folder from sam-trt export, or an engines folder from sam-trt build")
    group.add_argument("--model-type", choices=["default", *KNOWN_CONFIGS], default=None,
                       help="architecture of --checkpoint (default: read from the checkpoint's shapes)")
    group.add_argument("--backend", choices=BACKENDS, default="auto",
                       help="auto: ort for an export folder and the demo, torch for a checkpoint, trt for an "
                            "engines folder (ort on its export when the plans do not suit this machine)")
    group.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda (default: cuda if available)")


def load_predictor(args: Any) -> Any:
    """A SamPredictor for the model options of `add_model_args`."""
    from ..predictor import SamPredictor
    from ..runtime.loader import load_backend

    options = {}
    if args.backend == "torch" or Path(args.checkpoint).is_file():
        import torch

        options["device"] = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    backend = load_backend(args.checkpoint, backend=args.backend, model_type=args.model_type, **options)
    print(f"model {args.checkpoint} on {backend.name} ({backend.device}, {backend.precision})")
    return SamPredictor(backend)


def read_prompt_file(path: str | Path) -> tuple[list[tuple[float, float, int]], tuple[float, ...] | None]:
    """JSON {"points": [[x, y, label], ...], "box": [x0, y0, x1, y1]} (both optional) -> (points, box)."""
    import json

    from ..errors import InputError

    try:
        data = json.loads(Path(path).read_text())
        points = [(float(p[0]), float(p[1]), int(p[2]) if len(p) > 2 else 1) for p in data.get("points", [])]
        box = tuple(float(v) for v in data["box"]) if data.get("box") is not None else None
    except FileNotFoundError:
        raise InputError(f"prompt file not found: {path}") from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise InputError(f"{path} is not a valid prompt file ({exc}); expected "
                         '{"points": [[x, y, label], ...], "box": [x0, y0, x1, y1]}') from None
    if box is not None and len(box) != 4:
        raise InputError(f"{path}: box must have 4 numbers x0, y0, x1, y1, got {len(box)}")
    return points, box
