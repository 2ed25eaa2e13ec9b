"""ONNX Runtime backend vs the official segment-anything package: same weights, same run, CPU.

    python benchmarks/bench_ort_vs_official.py [--model-type vit_b] [--repeats 3] [--out benchmarks/results]

Also measures ONNX Runtime's intra-op thread count and graph optimisation level on the encoder (the
defaults of OrtBackend come from this), and decoder throughput for prompt batches B = 1, 16, 64.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from segment_anything import SamPredictor as OfficialPredictor
from timing import (
    STAGES,
    bar_chart,
    machine,
    same_weight_models,
    sample_photo,
    speedup_table,
    summarize,
    time_calls,
    time_predictors,
    vs_official_args,
    write_results,
)

from sam_trt import SamPredictor
from sam_trt.export.exporter import export_model
from sam_trt.prompts import pack_prompts
from sam_trt.runtime.ort_backend import OrtBackend


def main() -> None:
    args = vs_official_args(__doc__)

    official_model, our_model = same_weight_models(args.model_type)
    export_dir = Path(tempfile.mkdtemp()) / args.model_type
    export_seconds = time_calls(lambda: export_model(our_model, export_dir, args.model_type, log=lambda _: None),
                                repeats=1, warmup=0)[0]
    image = sample_photo()

    # ONNX Runtime settings on the encoder, one set_image each after a warm-up.
    settings = {}
    for threads in (1, 2, None):
        for level in ("all", "basic"):
            predictor = SamPredictor(OrtBackend(export_dir, threads=threads, graph_optimization=level))
            settings[f"threads={threads or 'default'} opt={level}"] = summarize(
                time_calls(lambda p=predictor: p.set_image(image), repeats=2, warmup=1))
            del predictor

    systems = {"official": OfficialPredictor(official_model), "sam-trt ort": SamPredictor(OrtBackend(export_dir))}
    stats = time_predictors(systems, image, args.repeats, args.predict_repeats)
    ratios, table = speedup_table(stats, "official", "sam-trt ort")

    # Decoder throughput: B prompts of one click each (+ padding point), decoder only.
    backend = systems["sam-trt ort"].backend
    embedding = systems["sam-trt ort"].features
    rng = np.random.default_rng(0)
    throughput = {}
    for batch in (1, 16, 64):
        prompts = pack_prompts(rng.uniform(0, 1024, (batch, 1, 2)), np.ones((batch, 1)), None, None,
                               backend.low_res_size)
        times = time_calls(lambda p=prompts: backend.decode(embedding, p.point_coords, p.point_labels,
                                                            p.mask_input, p.has_mask_input),
                           repeats=max(3, 40 // batch), warmup=1)
        throughput[batch] = {**summarize(times), "prompts_per_s": batch / float(np.median(times))}

    results = {"benchmark": "ort backend vs official", "model_type": args.model_type, "image": "720x1280",
               "predict": "one point, multimask, postprocessed to 720x1280", "machine": machine(),
               "export_seconds": export_seconds, "ort_settings_set_image": settings, "stats": stats,
               "speedup_vs_official": ratios, "decoder_throughput": throughput}
    m = results["machine"]
    lines = [f"# sam-trt ONNX Runtime backend vs official segment-anything ({args.model_type}, CPU)", "",
             f"Command: `python benchmarks/bench_ort_vs_official.py --model-type {args.model_type} "
             f"--repeats {args.repeats}`", f"Machine: {m['cpu']}, {m['cpu_count']} cores, torch {m['torch']}, "
             f"onnxruntime {m.get('onnxruntime')}. Export took {export_seconds:.1f} s.", "", *table]
    lines += ["", "ONNX Runtime settings, encoder `set_image` median s:", "", "| setting | median s |", "|---|---|"]
    lines += [f"| {k} | {v['median_s']:.3f} |" for k, v in settings.items()]
    lines += ["", "Decoder only (one click per prompt):", "", "| B | median s | prompts/s |", "|---|---|---|"]
    lines += [f"| {b} | {v['median_s']:.4f} | {v['prompts_per_s']:.1f} |" for b, v in throughput.items()]
    name = f"ort_vs_official_{args.model_type}"
    write_results(args.out, name, results, "\n".join(lines) + "\n")
    bar_chart(args.out / f"{name}.png", f"{args.model_type} on CPU: official vs sam-trt ort",
              {stage: {s: stats[s][stage]["median_s"] for s in systems} for stage in STAGES})
    print("\n".join(lines))


if __name__ == "__main__":
    main()
