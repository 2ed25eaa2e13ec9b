"""Torch backend vs the official segment-anything package: same weights, same run, CPU.

    python benchmarks/bench_torch_vs_official.py [--model-type vit_b] [--repeats 3] [--out benchmarks/results]

Weights are random (seeded) in the official layout: official checkpoints cannot be downloaded here, and
speed does not depend on the values. Runs alternate between the two systems so drift hits both alike.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from segment_anything import SamPredictor as OfficialPredictor
from segment_anything import sam_model_registry as official_registry
from skimage import data
from timing import bar_chart, machine, summarize, time_calls, write_results

from sam_trt import SamPredictor, sam_model_registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-type", default="vit_b")
    parser.add_argument("--repeats", type=int, default=3, help="timed set_image calls per system")
    parser.add_argument("--predict-repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    torch.manual_seed(0)
    official_model = official_registry[args.model_type]()
    our_model = sam_model_registry[args.model_type]()
    our_model.load_state_dict(official_model.state_dict())
    systems = {"official": OfficialPredictor(official_model), "sam-trt torch": SamPredictor(our_model)}
    image = np.ascontiguousarray(np.tile(data.astronaut(), (2, 3, 1))[:720, :1280])  # a 720x1280 photo
    point = dict(point_coords=np.array([[640, 300]]), point_labels=np.array([1]), multimask_output=True)

    set_times: dict[str, list[float]] = {name: [] for name in systems}
    for predictor in systems.values():  # warm-up, untimed
        predictor.set_image(image)
    for _ in range(args.repeats):
        for name, predictor in systems.items():
            set_times[name] += time_calls(lambda p=predictor: p.set_image(image), repeats=1, warmup=0)
    predict_times = {name: time_calls(lambda p=p: p.predict(**point), args.predict_repeats, warmup=2)
                     for name, p in systems.items()}

    stats = {name: {"set_image": summarize(set_times[name]), "predict": summarize(predict_times[name])}
             for name in systems}
    ratios = {stage: stats["official"][stage]["median_s"] / stats["sam-trt torch"][stage]["median_s"]
              for stage in ("set_image", "predict")}
    results = {"benchmark": "torch backend vs official", "model_type": args.model_type, "image": "720x1280",
               "predict": "one point, multimask, postprocessed to 720x1280", "machine": machine(),
               "stats": stats, "speedup_vs_official": ratios}
    lines = [f"# sam-trt torch backend vs official segment-anything ({args.model_type}, CPU)", "",
             f"Command: `python benchmarks/bench_torch_vs_official.py --model-type {args.model_type} "
             f"--repeats {args.repeats}`", f"Machine: {results['machine']['cpu']}, "
             f"{results['machine']['cpu_count']} cores, torch {results['machine']['torch']}", "",
             "| stage | official median s | sam-trt torch median s | speed-up |", "|---|---|---|---|"]
    for stage in ("set_image", "predict"):
        lines.append(f"| {stage} | {stats['official'][stage]['median_s']:.4f} | "
                     f"{stats['sam-trt torch'][stage]['median_s']:.4f} | {ratios[stage]:.2f}x |")
    name = f"torch_vs_official_{args.model_type}"
    write_results(args.out, name, results, "\n".join(lines) + "\n")
    bar_chart(args.out / f"{name}.png", f"{args.model_type} on CPU: official vs sam-trt torch",
              {stage: {s: stats[s][stage]["median_s"] for s in systems} for stage in ("set_image", "predict")})
    print("\n".join(lines))


if __name__ == "__main__":
    main()
