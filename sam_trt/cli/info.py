"""`sam-trt info`: what this installation can run (version, models, backends, devices)."""

from __future__ import annotations

import argparse
import importlib.util
import platform

from .. import __version__
from ..config import KNOWN_CONFIGS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("info", help="show version, model types and available backends")
    parser.set_defaults(run=run)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def run(args: argparse.Namespace) -> int:
    print(f"sam-trt {__version__} (Python {platform.python_version()}, {platform.machine()})")
    for name, config in KNOWN_CONFIGS.items():
        print(f"  model {name}: embed {config.encoder_embed_dim}, depth {config.encoder_depth}, "
              f"input {config.image_size}px, embedding {config.embedding_size}x{config.embedding_size}")
    backends = {
        "torch": _installed("torch"),
        "ort (onnxruntime)": _installed("onnxruntime"),
        "trt (tensorrt)": _installed("tensorrt") or _installed("tensorrt_rtx"),
    }
    for name, ok in backends.items():
        print(f"  backend {name}: {'available' if ok else 'not installed'}")
    if backends["torch"]:
        import torch

        cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
        print(f"  torch {torch.__version__}, CUDA device: {cuda}")
    return 0
