"""`sam-trt info`: what this installation can run (version, models, backends, devices)."""

from __future__ import annotations

import argparse
import importlib.util
import platform

from .. import __version__
from ..config import KNOWN_CONFIGS
from ..engine.cache import detect_gpu
from ..engine.tensorrt_import import CANDIDATES, HOW_TO_GET, import_tensorrt
from ..errors import BackendError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("info", help="show version, model types and available backends")
    parser.set_defaults(run=run)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a dotted name whose parent package is missing
        return False


def tensorrt_status() -> str:
    """What this machine can do with TensorRT plans: which installed flavour builds them (tensorrt-rtx also ahead
    of time, without a GPU), and whether they can run here (a CUDA GPU, TensorRT and cuda-python). Probes only:
    TensorRT is imported, the GPU is asked for through cudaGetDeviceCount / torch.cuda (safe without a driver)."""
    gpu_name, capability = detect_gpu()
    gpu = f"{gpu_name} (sm {capability})" if gpu_name else None
    builds, loads = [], []
    for name in CANDIDATES:
        if not _installed(name):
            continue
        label = name.replace("_", "-")
        try:
            version = str(import_tensorrt(name).__version__)
        except BackendError:
            builds.append(f"{label} is installed but does not load")
            continue
        loads.append(name)
        if name == "tensorrt_rtx":
            builds.append(f"{label} {version} can build plans ahead of time (no GPU needed: sam-trt build "
                          "--plan-only-check)")
        elif gpu:
            builds.append(f"{label} {version} can build plans for {gpu}")
        else:
            builds.append(f"{label} {version} is installed but builds plans only on a CUDA GPU")
    if not builds:
        return HOW_TO_GET + (f"; it would run plans on {gpu} with cuda-python" if gpu else "")
    missing = [what for what, ok in (("no CUDA GPU", gpu), ("no TensorRT that loads", loads),
                                     ("no cuda-python (pip install 'sam-trt[trt]')", _installed("cuda.bindings")))
               if not ok]
    if missing:
        runs = f"running plans needs a CUDA GPU, TensorRT and cuda-python: {', '.join(missing)} found"
    else:  # TensorRT-RTX runs on RTX GPUs only (GeForce RTX / RTX PRO), not on data-centre or Jetson ones
        runs = f"runs plans on {gpu}" + ("" if "tensorrt" in loads else " if it is an RTX GPU (tensorrt-rtx)")
    return f"{'; '.join(builds)}; {runs}"


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
    backends = {"torch": _installed("torch"), "ort (onnxruntime)": _installed("onnxruntime")}
    for name, ok in backends.items():
        print(f"  backend {name}: {'available' if ok else 'not installed'}")
    print(f"  backend trt: {tensorrt_status()}")
    if backends["torch"]:
        import torch

        cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
        print(f"  torch {torch.__version__}, CUDA device: {cuda}")
    return 0
