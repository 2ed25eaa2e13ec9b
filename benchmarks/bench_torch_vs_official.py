"""Torch backend vs the official segment-anything package: same weights, same run, CPU.

    python benchmarks/bench_torch_vs_official.py [--model-type vit_b] [--repeats 3] [--out benchmarks/results]

Weights are random (seeded) in the official layout: official checkpoints cannot be downloaded here, and
speed does not depend on the values. Runs alternate between the two systems so drift hits both alike.
"""

from __future__ import annotations

from segment_anything import SamPredictor as OfficialPredictor
from timing import (
    STAGES,
    bar_chart,
    machine,
    same_weight_models,
    sample_photo,
    speedup_table,
    time_predictors,
    vs_official_args,
    write_results,
)

from sam_trt import SamPredictor


def main() -> None:
    args = vs_official_args(__doc__)

    official_model, our_model = same_weight_models(args.model_type)
    systems = {"official": OfficialPredictor(official_model), "sam-trt torch": SamPredictor(our_model)}
    stats = time_predictors(systems, sample_photo(), args.repeats, args.predict_repeats)
    ratios, table = speedup_table(stats, "official", "sam-trt torch")
    results = {"benchmark": "torch backend vs official", "model_type": args.model_type, "image": "720x1280",
               "predict": "one point, multimask, postprocessed to 720x1280", "machine": machine(),
               "stats": stats, "speedup_vs_official": ratios}
    lines = [f"# sam-trt torch backend vs official segment-anything ({args.model_type}, CPU)", "",
             f"Command: `python benchmarks/bench_torch_vs_official.py --model-type {args.model_type} "
             f"--repeats {args.repeats}`", f"Machine: {results['machine']['cpu']}, "
             f"{results['machine']['cpu_count']} cores, torch {results['machine']['torch']}", "", *table]
    name = f"torch_vs_official_{args.model_type}"
    write_results(args.out, name, results, "\n".join(lines) + "\n")
    bar_chart(args.out / f"{name}.png", f"{args.model_type} on CPU: official vs sam-trt torch",
              {stage: {s: stats[s][stage]["median_s"] for s in systems} for stage in STAGES})
    print("\n".join(lines))


if __name__ == "__main__":
    main()
