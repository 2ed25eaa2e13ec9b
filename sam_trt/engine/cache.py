"""Engine cache key and sidecar (DESIGN.md decision 7).

A plan only loads on the TensorRT version and GPU model it was built for. Every plan gets a JSON sidecar
(`<plan>.json`) with the ONNX sha256, TensorRT flavour + version, GPU name + compute capability, the
optimization profiles, the build options, the accuracy-gate result and the build time; the cache key hashes
the fields that decide whether a plan can be reused.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import BackendError

SIDECAR_FORMAT = 1
KEY_FIELDS = ("onnx_sha256", "tensorrt", "gpu", "profiles", "build_options")


@dataclass(frozen=True)
class Target:
    """What a plan is built for / what is running: TensorRT flavour+version and GPU (None: no GPU here)."""

    flavour: str  # "tensorrt" or "tensorrt_rtx"
    version: str
    gpu_name: str | None = None
    compute_capability: str | None = None  # "8.7"

    def folder_name(self) -> str:
        """engines/<gpu>-sm<cc>-<trt|trtrtx><version>, e.g. nvidia-jetson-orin-sm87-trt10.3.0."""
        gpu = re.sub(r"[^a-z0-9]+", "-", (self.gpu_name or "no-gpu").lower()).strip("-")
        cc = (self.compute_capability or "").replace(".", "")
        short = "trtrtx" if self.flavour == "tensorrt_rtx" else "trt"
        return f"{gpu}-sm{cc or 'na'}-{short}{self.version}"

    def describe(self) -> str:
        gpu = f"{self.gpu_name} (sm {self.compute_capability})" if self.gpu_name else "no GPU"
        return f"{gpu} with {self.flavour} {self.version}"


def running_target(trt: Any) -> Target:
    """The TensorRT module given and this machine's first CUDA GPU (None fields where there is none)."""
    name, cc = detect_gpu()
    return Target(trt.__name__.split(".")[0], str(trt.__version__), name, cc)


def machine_target(flavour: str | None = None) -> Target:
    """What this machine runs, for a compatibility check: the TensorRT `flavour` a plan was built with when it
    imports, else whichever flavour does, else a Target saying none is installed (the check still names both
    sides instead of failing on the import)."""
    from .tensorrt_import import import_tensorrt

    for prefer in dict.fromkeys((flavour, None)):
        try:
            return running_target(import_tensorrt(prefer))
        except BackendError:
            continue
    return Target("no TensorRT", "installed", *detect_gpu())


def detect_gpu() -> tuple[str | None, str | None]:
    """(name, "major.minor") of CUDA device 0 through cuda-python, else torch; (None, None) without a GPU."""
    try:
        from cuda.bindings import runtime as cudart

        err, count = cudart.cudaGetDeviceCount()
        if int(err) == 0 and count > 0:
            err, props = cudart.cudaGetDeviceProperties(0)
            if int(err) == 0:
                name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
                return name.strip("\x00 "), f"{props.major}.{props.minor}"
    except Exception:  # not installed, or no driver
        pass
    try:
        import torch

        if torch.cuda.is_available():
            major, minor = torch.cuda.get_device_capability(0)
            return torch.cuda.get_device_name(0), f"{major}.{minor}"
    except Exception:
        pass
    return None, None


def cache_key(sidecar: dict[str, Any]) -> str:
    """sha256 (first 16 hex digits) of the canonical JSON of the fields that decide reuse."""
    fields = {k: sidecar.get(k) for k in KEY_FIELDS}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def make_sidecar(*, plan: Path, plan_bytes: bytes, onnx_path: Path, onnx_sha256: str, precision: str, graph: str,
                 target: Target, profiles: dict[str, Any], build_options: dict[str, Any], gate: dict[str, Any],
                 build_seconds: float, rebuild_command: str, model_type: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "format_version": SIDECAR_FORMAT,
        "plan": plan.name,
        "plan_sha256": hashlib.sha256(plan_bytes).hexdigest(),
        "graph": graph,
        "model_type": model_type,
        "precision": precision,
        "onnx": str(onnx_path),
        "onnx_sha256": onnx_sha256,
        "tensorrt": {"flavour": target.flavour, "version": target.version},
        "gpu": {"name": target.gpu_name, "compute_capability": target.compute_capability},
        "profiles": {k: [list(s) for s in v] for k, v in profiles.items()},
        "build_options": build_options,
        "gate": gate,
        "build_seconds": round(build_seconds, 2),
        "rebuild_command": rebuild_command,
    }
    data["cache_key"] = cache_key(data)
    return data


def sidecar_path(plan: Path) -> Path:
    return plan.with_suffix(plan.suffix + ".json")


def read_sidecar(plan: str | Path) -> dict[str, Any]:
    path = sidecar_path(Path(plan))
    if not path.is_file():
        raise BackendError(f"{plan} has no sidecar {path.name}; rebuild it with sam-trt build")
    try:
        return json.loads(path.read_text())
    except ValueError:
        raise BackendError(f"{path} is not valid JSON; rebuild the engine with sam-trt build") from None


def target_of(sidecar: dict[str, Any]) -> Target:
    trt, gpu = sidecar.get("tensorrt", {}), sidecar.get("gpu", {})
    return Target(trt.get("flavour", "?"), trt.get("version", "?"), gpu.get("name"), gpu.get("compute_capability"))


def check_compatible(sidecar: dict[str, Any], running: Target, plan: str | Path | None = None) -> None:
    """Raise a one-line BackendError naming both sides and the rebuild command unless the plan was built for
    this GPU model (name and compute capability) and exactly this TensorRT flavour and version."""
    built = target_of(sidecar)
    what = f"engine {plan or sidecar.get('plan', '?')}"
    rebuild = sidecar.get("rebuild_command", "sam-trt build --onnx EXPORT --precision P --output engines/")
    if (built.flavour, built.version) != (running.flavour, running.version):
        raise BackendError(f"{what} was built with {built.flavour} {built.version} but this machine runs "
                           f"{running.flavour} {running.version} (GPU: {running.gpu_name or 'none'}); "
                           f"rebuild it here: {rebuild}")
    if running.gpu_name is None:
        raise BackendError(f"{what} was built for {built.describe()} but this machine has no CUDA GPU; "
                           f"run it on that GPU, or rebuild on the target: {rebuild}")
    if (built.gpu_name, built.compute_capability) != (running.gpu_name, running.compute_capability):
        raise BackendError(f"{what} was built for {built.describe()} but this machine has {running.describe()}; "
                           f"rebuild it here: {rebuild}")
    if sidecar.get("cache_key") and cache_key(sidecar) != sidecar["cache_key"]:
        raise BackendError(f"{what}: its sidecar was edited (cache key mismatch); rebuild it: {rebuild}")


def reusable(plan: Path, expected: dict[str, Any]) -> bool:
    """True when `plan` exists with a sidecar whose cache key equals that of `expected` (same fields)."""
    if not plan.is_file() or not sidecar_path(plan).is_file():
        return False
    try:
        old = json.loads(sidecar_path(plan).read_text())
    except ValueError:
        return False
    return old.get("cache_key") == cache_key(expected) and hashlib.sha256(plan.read_bytes()).hexdigest() == old.get(
        "plan_sha256")


__all__ = ["Target", "asdict", "cache_key", "check_compatible", "detect_gpu", "make_sidecar", "read_sidecar",
           "reusable", "running_target", "sidecar_path"]
