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
    costs = _installed("torch")
    if costs:
        from ..modeling.complexity import model_cost
    for name, config in KNOWN_CONFIGS.items():
        encoder = (f"ViT embed {config.encoder_embed_dim} depth {config.encoder_depth}"
                   if config.encoder_type == "vit" else f"{config.encoder_type} {config.encoder_variant}")
        line = (f"  model {name}: {encoder}, encoder input {config.encoder_size}px, prompt frame "
                f"{config.image_size}px, embedding {config.embedding_size}x{config.embedding_size}")
        if costs:
            cost = model_cost(name)
            line += f", {cost.params / 1e6:.1f} M params, encoder {cost.encoder_gflops:.1f} GFLOPs"
        print(line)
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
