"""load_backend: the one entry point that turns a model source into a backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import BackendError
from .base import SamBackend
from .trt_plans import is_engines_folder

BACKENDS = ("auto", "torch", "ort", "trt")
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".safetensors")


DEMO = "demo"


def load_backend(source: Any = DEMO, backend: str = "auto", model_type: str | None = None,
                 **options: Any) -> SamBackend:
    """A backend for `source`: "demo" (the bundled model), an export folder (ort), an engines folder of
    sam-trt build (trt), a checkpoint path (torch, with `model_type`, read from the weights when omitted), or a
    torch `Sam`. `options` go to the backend's constructor (torch: device, precision, cuda_graphs; ort:
    providers, threads, graph_optimization, verify_checksums; trt: precision, model_type, cuda_graphs). With
    backend "auto": ort for export folders and the demo (torch if onnxruntime is missing), torch for
    checkpoints and models, trt for an engines folder whose plans suit this GPU and TensorRT, else (with a
    warning saying why) ort on the export folder the plans were built from.
    """
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if isinstance(source, str) and source == DEMO:
        return _demo_backend(backend, **options)
    from_model = _torch_model(source)
    if from_model is not None:
        return _torch_backend(from_model, backend, **options)
    path = Path(source)
    if path.is_dir() and not (path / "manifest.json").is_file() and is_engines_folder(path):
        return _engines_backend(path, backend, model_type, **options)
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
        raise BackendError(f"{path} is an export folder; the trt backend runs the engines folder that sam-trt build "
                           f"makes from it: sam-trt build --onnx {path} --precision fp16 --output engines/")
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


def _engines_backend(path: Path, backend: str, model_type: str | None, **options: Any) -> SamBackend:
    """trt on an engines folder; for "auto", ort on the plans' export folder when trt cannot run here."""
    if backend not in ("auto", "trt"):
        raise BackendError(f"{path} holds TensorRT engines; run them with backend='trt' (or 'auto'), or pass the "
                           f"export folder they were built from to the {backend} backend")
    from .trt_backend import TrtBackend

    if backend == "trt":
        return TrtBackend(path, model_type=model_type, **options)
    try:
        return TrtBackend(path, model_type=model_type, **options)
    except BackendError as exc:
        reason = str(exc)
    import warnings

    from ..engine.cache import read_sidecar
    from .trt_plans import export_folder, find_plans, plan_folders

    try:  # the plan the user asked for; else the first one
        plan = find_plans(path, options.get("precision"), model_type)["encoder"]
    except BackendError:
        plan = sorted(plan_folders(path)[0].glob("*-encoder.plan"))[0]
    try:
        export = export_folder(read_sidecar(plan))
    except BackendError:
        export = None
    if export is None:
        raise BackendError(f"cannot run the engines in {path} ({reason.rstrip('.')}) and the export folder they "
                           "were built from is gone; pass an export folder for the ort backend")
    warnings.warn(f"not using TensorRT: {reason}; falling back to onnxruntime on {export}", stacklevel=3)
    from .ort_backend import OrtBackend

    ort_options = {k: v for k, v in options.items() if k in ("providers", "threads", "graph_optimization")}
    return OrtBackend(export, **ort_options)
