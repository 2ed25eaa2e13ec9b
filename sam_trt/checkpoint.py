"""Reading SAM checkpoints (.pth flat state dicts or .safetensors) with one-line errors."""

from __future__ import annotations

import functools
import pickle
from collections.abc import Iterable
from pathlib import Path

import torch

from .config import KNOWN_CONFIGS, SamConfig
from .errors import CheckpointError

_PREFIXES = ("image_encoder.", "prompt_encoder.", "mask_decoder.")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a flat state dict on the CPU without executing pickled code (weights_only)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path} (check the path; official files are sam_vit_*.pth)")
    if path.suffix == ".safetensors":
        state = _read_safetensors(path)
    else:
        state = _read_torch(path)
    if isinstance(state, dict):
        for wrapper in ("model", "state_dict"):  # training checkpoints often nest the weights
            if wrapper in state and isinstance(state[wrapper], dict) and not _has_sam_keys(state):
                state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} is not a state dict of tensors (got {type(state).__name__}); "
                              "pass a SAM checkpoint such as sam_vit_b_01ec64.pth")
    if not _has_sam_keys(state):
        sample = ", ".join(list(state)[:3]) or "no keys"
        raise CheckpointError(f"{path} is not a SAM checkpoint: no image_encoder./prompt_encoder./mask_decoder. "
                              f"keys (found {sample})")
    return state


def _read_torch(path: Path) -> object:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{path} holds more than plain tensors and was not loaded ({_reason(exc)}); "
                              "save it with torch.save(model.state_dict(), path)") from None
    except Exception as exc:  # torch.load raises many types on damaged or foreign files
        raise CheckpointError(f"{path} could not be read as a PyTorch checkpoint, it may be truncated or "
                              f"not a checkpoint ({_reason(exc)}); download it again") from None


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} could not be read as safetensors, it may be truncated ({_reason(exc)}); "
                              "download it again") from None


def _reason(exc: Exception, limit: int = 90) -> str:
    """The first sentence of a library's error, short enough for a one-line message."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = text.split(". ")[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _has_sam_keys(state: dict) -> bool:
    return any(isinstance(k, str) and k.startswith(_PREFIXES) for k in state)


def describe_encoder(state: dict[str, torch.Tensor]) -> dict[str, int | str]:
    """The encoder read off the state dict: an edge type by its key signature, or a ViT's width, depth, size."""
    edge = edge_model_type(state)
    if edge is not None:
        return {"type": edge}
    info: dict[str, int | str] = {}
    proj = state.get("image_encoder.patch_embed.proj.weight")
    if proj is not None:
        info["embed_dim"] = int(proj.shape[0])
        info["patch_size"] = int(proj.shape[-1])
    blocks = {int(k.split(".")[2]) for k in state if k.startswith("image_encoder.blocks.")}
    if blocks:
        info["depth"] = max(blocks) + 1
    pos = state.get("image_encoder.pos_embed")
    if pos is not None and "patch_size" in info:
        info["image_size"] = int(pos.shape[1]) * info["patch_size"]
    return info


def _stage_ops(keys: Iterable[str]) -> tuple[int, ...]:
    """Blocks per stage of an EfficientViT backbone, from `image_encoder.backbone.stages.K.op_list.J.*` keys."""
    found: dict[int, set[int]] = {}
    for key in keys:
        parts = key.split(".")
        if len(parts) > 5 and parts[:3] == ["image_encoder", "backbone", "stages"] and parts[4] == "op_list":
            found.setdefault(int(parts[3]), set()).add(int(parts[5]))
    return tuple(len(found[k]) for k in sorted(found))


@functools.cache
def _efficientvit_signatures() -> dict[tuple[int, ...], str]:
    """Blocks per stage -> registry name, from our EfficientViT-SAM encoders built on the meta device."""
    from .modeling.efficientvit import EfficientViTSamEncoder

    signatures = {}
    for name, config in KNOWN_CONFIGS.items():
        if config.encoder_type == "efficientvit":
            with torch.device("meta"):
                encoder = EfficientViTSamEncoder(config.encoder_variant)
            signatures[_stage_ops(f"image_encoder.{k}" for k in encoder.state_dict())] = name
    return signatures


def edge_model_type(state: dict[str, torch.Tensor]) -> str | None:
    """`vit_t` (MobileSAM/TinySAM), `efficientvit_*` or `efficientvit` (unknown depths) from key signatures."""
    if "image_encoder.patch_embed.seq.0.c.weight" in state and any(
            k.startswith("image_encoder.layers.") and k.endswith(".attn.attention_biases") for k in state):
        return "vit_t"
    if "image_encoder.norm.weight" in state and any(k.startswith("image_encoder.backbone.stages.") for k in state):
        return _efficientvit_signatures().get(_stage_ops(state), "efficientvit")
    return None


def guess_model_type(state: dict[str, torch.Tensor]) -> str | None:
    """Name of the registry config whose encoder matches the state dict, if any."""
    info = describe_encoder(state)
    if "type" in info:
        return info["type"] if info["type"] in KNOWN_CONFIGS else None
    for name, config in KNOWN_CONFIGS.items():
        if info.get("embed_dim") == config.encoder_embed_dim and info.get("depth") == config.encoder_depth:
            return name
    return None


def check_matches_config(state: dict[str, torch.Tensor], config: SamConfig, model_type: str, path: str) -> None:
    """Raise a one-line error when the checkpoint was made for another architecture."""
    info = describe_encoder(state)
    if config.encoder_type == "vit":
        wanted: dict[str, int | str] = {"embed_dim": config.encoder_embed_dim, "depth": config.encoder_depth,
                                        "image_size": config.image_size}
    else:
        wanted = {"type": _edge_type_name(config)}
    if all(info.get(k) == v for k, v in wanted.items()):
        return
    found = guess_model_type(state)
    shape = ", ".join(f"{k} {v}" for k, v in info.items()) or "no image_encoder layout sam-trt knows"
    if found is not None and found != model_type:
        detail = "" if "type" in info else f" ({shape})"
        raise CheckpointError(f"{path} is a{'n' if found[0] in 'aeiou' else ''} {found} checkpoint{detail}, but model "
                              f"type {model_type} was asked for; use sam_model_registry['{found}'] / --model-type "
                              f"{found}")
    raise CheckpointError(f"{path} does not fit model type {model_type} (checkpoint has {shape}; "
                          f"{model_type} needs {', '.join(f'{k} {v}' for k, v in wanted.items())})")


def _edge_type_name(config: SamConfig) -> str:
    return "vit_t" if config.encoder_type == "tiny_vit" else f"{config.encoder_type}_{config.encoder_variant}"


def summarize_key_mismatch(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> str | None:
    """One-line summary of missing, unexpected and mis-shaped keys, or None when they all fit."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
              if k in state and state[k].shape != v.shape]
    parts = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes)):
        if items:
            parts.append(f"{len(items)} {label} (e.g. {items[0]})")
    return "; ".join(parts) or None
