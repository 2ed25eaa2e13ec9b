"""Find the encoder/decoder plans of an engines folder and the export they were built from (no GPU needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import KNOWN_CONFIGS, SamConfig
from ..engine.cache import read_sidecar
from ..errors import BackendError

GRAPHS = ("encoder", "decoder")


def plan_folders(root: str | Path) -> list[Path]:
    """`root` itself when it holds plans, else its sub-folders that do (engines/<gpu>-sm<cc>-<trt><ver>/)."""
    root = Path(root)
    if any(root.glob("*-encoder.plan")):
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("*-encoder.plan"))) if root.is_dir() else []


def is_engines_folder(path: str | Path) -> bool:
    return bool(plan_folders(path))


def find_plans(root: str | Path, precision: str | None = None, model_type: str | None = None,
               target_folder: str | None = None) -> dict[str, Path]:
    """{"encoder": plan, "decoder": plan} of one model and precision under `root`.

    Several target folders: the one named `target_folder` (this machine's) wins, else the only one. Several
    model/precision pairs: `model_type` / `precision` choose; an ambiguous or incomplete choice is an error.
    """
    folders = plan_folders(root)
    if not folders:
        raise BackendError(f"{root} holds no TensorRT plans (*-encoder.plan); build them: sam-trt build --onnx "
                           "EXPORT --precision fp16 --output engines/")
    if len(folders) > 1:
        mine = [f for f in folders if f.name == target_folder]
        if not mine:
            raise BackendError(f"{root} holds engines for {', '.join(f.name for f in folders)} but none for this "
                               f"machine ({target_folder or 'no GPU'}); pass one of those folders or rebuild here")
        folders = mine
    folder = folders[0]
    stems = sorted(p.name[: -len("-encoder.plan")] for p in folder.glob("*-encoder.plan"))
    wanted = [s for s in stems if (precision is None or s.endswith(f"-{precision}"))
              and (model_type is None or s.startswith(f"{model_type}-"))]
    if len(wanted) != 1:
        choice = "none matches" if not wanted else "several match"
        raise BackendError(f"{folder} has plans {', '.join(stems)}; {choice} model_type={model_type!r} "
                           f"precision={precision!r}: pass model_type= and precision= to pick one")
    plans = {g: folder / f"{wanted[0]}-{g}.plan" for g in GRAPHS}
    for graph, plan in plans.items():
        if not plan.is_file():
            raise BackendError(f"{plan} is missing (the {graph} of {wanted[0]}); rebuild with sam-trt build")
    return plans


def config_of(sidecar: dict[str, Any], plan: Path) -> SamConfig:
    """The model's SamConfig: a known model type, else the manifest of the export the plan was built from."""
    model_type = sidecar.get("model_type")
    if model_type in KNOWN_CONFIGS:
        return KNOWN_CONFIGS[model_type]
    folder = export_folder(sidecar)
    if folder is not None:
        from ..export.manifest import read_manifest

        return read_manifest(folder).config
    raise BackendError(f"{plan}: unknown model type {model_type!r} and its export folder is gone; rebuild it")


def export_folder(sidecar: dict[str, Any]) -> Path | None:
    """The export folder (with manifest.json) whose ONNX the plan was built from, if it still exists."""
    from ..export.manifest import MANIFEST

    onnx = sidecar.get("onnx")
    if not onnx:
        return None
    folder = Path(onnx).parent
    return folder if (folder / MANIFEST).is_file() else None


def read_sidecars(plans: dict[str, Path]) -> dict[str, dict[str, Any]]:
    sidecars = {g: read_sidecar(p) for g, p in plans.items()}
    flavours = {(s.get("tensorrt") or {}).get("flavour") for s in sidecars.values()}
    if len(flavours) != 1:
        raise BackendError(f"{plans['encoder'].parent}: encoder and decoder plans were built with different "
                           "TensorRT flavours; rebuild both with sam-trt build")
    return sidecars
