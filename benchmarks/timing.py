"""Timing and reporting helpers of the standalone benchmark scripts: thin wrappers over `sam_trt.bench`
(kept so the scripts, and the results they recorded, stay reproducible)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sam_trt.bench.machine import machine_info
from sam_trt.bench.plots import bar_chart
from sam_trt.bench.timing import summarize as _summarize
from sam_trt.bench.timing import time_calls

__all__ = ["bar_chart", "machine", "summarize", "time_calls", "write_results"]


def vs_official_args(doc: str) -> argparse.Namespace:
    """The command line shared by the predictor-vs-official scripts (model type, repeats, output folder)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--model-type", default="vit_b")
    parser.add_argument("--repeats", type=int, default=3, help="timed set_image calls per system")
    parser.add_argument("--predict-repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    return parser.parse_args()


def summarize(times: list[float]) -> dict[str, float]:
    """The package's statistics plus the keys these scripts recorded (median_s = p50_s)."""
    stats = _summarize(times)
    return {"median_s": stats["p50_s"], **stats}


def machine() -> dict[str, Any]:
    import torch  # noqa: F401  (machine_info reports torch only once it is imported)

    return machine_info()


def write_results(out_dir: Path, name: str, results: dict, markdown: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / f"{name}.md").write_text(markdown)


def same_weight_models(model_type: str) -> tuple[Any, Any]:
    """(official Sam, our Sam) with the same seeded random weights in the official layout."""
    import torch
    from segment_anything import sam_model_registry as official_registry

    from sam_trt import sam_model_registry

    torch.manual_seed(0)
    official = official_registry[model_type]()
    ours = sam_model_registry[model_type]()
    ours.load_state_dict(official.state_dict())
    return official, ours


def sample_photo() -> Any:
    """A 720x1280 RGB photograph (scikit-image's astronaut, tiled)."""
    import numpy as np
    from skimage import data

    return np.ascontiguousarray(np.tile(data.astronaut(), (2, 3, 1))[:720, :1280])


ONE_CLICK = {"point_coords": [[640, 300]], "point_labels": [1], "multimask_output": True}
STAGES = ("set_image", "predict")


def time_predictors(systems: dict[str, Any], image: Any, repeats: int, predict_repeats: int) -> dict[str, dict]:
    """set_image (alternating between the systems, after an untimed warm-up) and one-click predict stats."""
    import numpy as np

    point = {k: np.array(v) if isinstance(v, list) else v for k, v in ONE_CLICK.items()}
    set_times: dict[str, list[float]] = {name: [] for name in systems}
    for predictor in systems.values():
        predictor.set_image(image)
    for _ in range(repeats):
        for name, predictor in systems.items():
            set_times[name] += time_calls(lambda p=predictor: p.set_image(image), repeats=1, warmup=0)
    predict_times = {name: time_calls(lambda p=p: p.predict(**point), predict_repeats, warmup=2)
                     for name, p in systems.items()}
    return {name: {"set_image": summarize(set_times[name]), "predict": summarize(predict_times[name])}
            for name in systems}


def speedup_table(stats: dict[str, dict], baseline: str, candidate: str) -> tuple[dict[str, float], list[str]]:
    """Median ratios baseline/candidate per stage, and the markdown table lines."""
    ratios = {stage: stats[baseline][stage]["median_s"] / stats[candidate][stage]["median_s"] for stage in STAGES}
    lines = [f"| stage | {baseline} median s | {candidate} median s | speed-up |", "|---|---|---|---|"]
    lines += [f"| {stage} | {stats[baseline][stage]['median_s']:.4f} | {stats[candidate][stage]['median_s']:.4f} | "
              f"{ratios[stage]:.2f}x |" for stage in STAGES]
    return ratios, lines
