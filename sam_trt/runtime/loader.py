"""load_backend: the one entry point that turns a model source into a backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import BackendError
from .base import SamBackend

BACKENDS = ("auto", "torch", "ort", "trt")
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".safetensors")


DEMO = "demo"


def load_backend(source: Any = DEMO, backend: str = "auto", model_type: str | None = None,
                 **options: Any) -> SamBackend:
    """A backend for `source`: "demo" (the bundled model), an export folder (ort), a checkpoint path
    (torch, with `model_type`, read from the weights when omitted), or a torch `Sam`. `options` go to the
    backend's constructor (torch: device, precision; ort: providers, threads, graph_optimization,
    verify_checksums). With backend "auto": ort for export folders and the demo (torch if onnxruntime is
    missing), torch for checkpoints and models.
    """
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if isinstance(source, str) and source == DEMO:
        return _demo_backend(backend, **options)
    from_model = _torch_model(source)
    if from_model is not None:
        return _torch_backend(from_model, backend, **options)
    path = Path(source)
    if path.is_dir():
        from ..export.manifest import MANIFEST

        if not (path / MANIFEST).is_file():
            raise BackendError(f"{path} is a folder without {MANIFEST}; pass an export folder from sam-trt export "
                               "or a checkpoint file")
        if backend in ("auto", "ort"):
            from .ort_backend import OrtBackend

            return OrtBackend(path, **options)
        if backend == "torch":
            raise BackendError(f"{path} holds ONNX files; the torch backend needs a checkpoint (.pth/.safetensors)")
        raise BackendError("the trt backend needs engines built by sam-trt build, which this version does not have "
                           "yet; use backend='ort' for this export folder")
    if path.is_file() and path.suffix in CHECKPOINT_SUFFIXES:
        if backend not in ("auto", "torch"):
            raise BackendError(f"{path} is a checkpoint; the {backend} backend runs an export folder: "
                               f"sam-trt export --checkpoint {path} --model-type ... --output DIR")
        return _torch_backend(build_from_checkpoint(path, model_type)[0], backend, **options)
    if not path.exists():
        raise BackendError(f"model source not found: {path} (give an export folder or a checkpoint file)")
    raise BackendError(f"{path} is neither an export folder nor a checkpoint ({', '.join(CHECKPOINT_SUFFIXES)})")


def _torch_model(source: Any) -> Any:
    if isinstance(source, (str, Path)):
        return None
    from ..modeling.sam import Sam

    if isinstance(source, Sam):
        return source
    raise BackendError(f"load_backend needs a path or a Sam model, got {type(source).__name__}")


def _torch_backend(sam: Any, backend: str, **options: Any) -> SamBackend:
    if backend not in ("auto", "torch"):
        raise BackendError(f"a torch Sam model runs on the torch backend; export it for {backend}: sam-trt export")
    from .torch_backend import TorchBackend

    return TorchBackend(sam, **options)


def build_from_checkpoint(path: Path, model_type: str | None) -> tuple[Any, str]:
    """(Sam, model type) from a checkpoint; the type is read off the weights when not given."""
    from ..checkpoint import guess_model_type, read_state_dict
    from ..config import KNOWN_CONFIGS
    from ..modeling import build_sam_from_config

    if model_type is None:
        model_type = guess_model_type(read_state_dict(path))
        if model_type is None:
            raise BackendError(f"could not tell the model type of {path}; pass model_type= "
                               f"(one of {', '.join(KNOWN_CONFIGS)})")
    if model_type == "default":
        model_type = "vit_h"
    if model_type not in KNOWN_CONFIGS:
        raise BackendError(f"unknown model type {model_type!r}; choose one of {', '.join(KNOWN_CONFIGS)}")
    return build_sam_from_config(KNOWN_CONFIGS[model_type], path, model_type=model_type), model_type


def _demo_backend(backend: str, **options: Any) -> SamBackend:
    import importlib.util

    from ..demo import DEMO_EXPORT

    if backend == "auto":
        backend = "ort" if importlib.util.find_spec("onnxruntime") else "torch"
    if backend == "torch":
        from ..modeling import sam_model_registry

        return _torch_backend(sam_model_registry[DEMO](), backend, **options)
    return load_backend(DEMO_EXPORT, backend, **options)
