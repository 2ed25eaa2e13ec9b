"""Export a run's best weights into the package: fp16 safetensors + demo.json (config, training, metrics)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..config import SamConfig
from ..demo import WEIGHTS_DIR
from ..modeling import build_sam_from_config
from .evaluate import eval_scenes, evaluate

# Tensors kept in fp32 in the fp16 file: the random Fourier matrix of the prompt encoder (coordinates are
# multiplied by it, fp16 would shift every positional encoding).
KEEP_FP32 = ("positional_encoding_gaussian_matrix",)


def to_fp16(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.half().contiguous() if v.is_floating_point() and not k.endswith(KEEP_FP32) else v.contiguous()
            for k, v in state.items()}


def export_best(run_dir: str | Path, dest_dir: str | Path = WEIGHTS_DIR, name: str = "demo",
                eval_num: int = 64) -> dict:
    """run_dir/best.safetensors -> dest_dir/{name}.safetensors (fp16) and {name}.json; re-measures the
    exported file on held-out scenes ("train" style and "alt" style). Returns the metadata written."""
    from safetensors.torch import load_file, save_file

    run_dir, dest_dir = Path(run_dir), Path(dest_dir)
    meta = json.loads((run_dir / "best.json").read_text())
    config = SamConfig.from_dict(meta["config"])
    dest_dir.mkdir(parents=True, exist_ok=True)
    weights = dest_dir / f"{name}.safetensors"
    save_file(to_fp16(load_file(str(run_dir / "best.safetensors"))), str(weights))
    sam = build_sam_from_config(config, checkpoint=weights)
    measured = {style: evaluate(sam, eval_scenes(eval_num, config.image_size, style=style))
                for style in ("train", "alt")}
    out = {
        "config": config.to_dict(),
        "storage": "fp16 safetensors (positional_encoding_gaussian_matrix fp32); loads as fp32",
        "parameters": sum(p.numel() for p in sam.parameters()),
        "training": {"steps": meta["step"], "minutes": meta["minutes"], "seed": meta["seed"],
                     "options": meta.get("options", {}), "eval_at_best": meta["metrics"]},
        "metrics": {"held_out_scenes": eval_num, "eval_seed": "sam_trt.train.evaluate.EVAL_SEED", **measured},
    }
    (dest_dir / f"{name}.json").write_text(json.dumps(out, indent=2))
    return out
