"""ONNX Runtime backend vs the official segment-anything package: same weights, same run, CPU.

    python benchmarks/bench_ort_vs_official.py [--model-type vit_b] [--repeats 3] [--out benchmarks/results]

Also measures ONNX Runtime's intra-op thread count and graph optimisation level on the encoder (the
defaults of OrtBackend come from this), and decoder throughput for prompt batches B = 1, 16, 64.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from segment_anything import SamPredictor as OfficialPredictor
from segment_anything import sam_model_registry as official_registry
from skimage import data
from timing import bar_chart, machine, summarize, time_calls, write_results

from sam_trt import SamPredictor, sam_model_registry
from sam_trt.export.exporter import export_model
from sam_trt.prompts import pack_prompts
from sam_trt.runtime.ort_backend import OrtBackend


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
    export_dir = Path(tempfile.mkdtemp()) / args.model_type
    export_seconds = time_calls(lambda: export_model(our_model, export_dir, args.model_type, log=lambda _: None),
                                repeats=1, warmup=0)[0]
    image = np.ascontiguousarray(np.tile(data.astronaut(), (2, 3, 1))[:720, :1280])  # a 720x1280 photo
    point = dict(point_coords=np.array([[640, 300]]), point_labels=np.array([1]), multimask_output=True)

    # ONNX Runtime settings on the encoder, one set_image each after a warm-up.
    settings = {}
    for threads in (1, 2, None):
        for level in ("all", "basic"):
            predictor = SamPredictor(OrtBackend(export_dir, threads=threads, graph_optimization=level))
            settings[f"threads={threads or 'default'} opt={level}"] = summarize(
                time_calls(lambda p=predictor: p.set_image(image), repeats=2, warmup=1))
            del predictor

    systems = {"official": OfficialPredictor(official_model), "sam-trt ort": SamPredictor(OrtBackend(export_dir))}
    set_times: dict[str, list[float]] = {name: [] for name in systems}
    for predictor in systems.values():
        predictor.set_image(image)
    for _ in range(args.repeats):
        for name, predictor in systems.items():
            set_times[name] += time_calls(lambda p=predictor: p.set_image(image), repeats=1, warmup=0)
    predict_times = {name: time_calls(lambda p=p: p.predict(**point), args.predict_repeats, warmup=2)
                     for name, p in systems.items()}
    stats = {name: {"set_image": summarize(set_times[name]), "predict": summarize(predict_times[name])}
             for name in systems}
    ratios = {stage: stats["official"][stage]["median_s"] / stats["sam-trt ort"][stage]["median_s"]
              for stage in ("set_image", "predict")}

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
             f"onnxruntime {m.get('onnxruntime')}. Export took {export_seconds:.1f} s.", "",
             "| stage | official median s | sam-trt ort median s | speed-up |", "|---|---|---|---|"]
    for stage in ("set_image", "predict"):
        lines.append(f"| {stage} | {stats['official'][stage]['median_s']:.4f} | "
                     f"{stats['sam-trt ort'][stage]['median_s']:.4f} | {ratios[stage]:.2f}x |")
    lines += ["", "ONNX Runtime settings, encoder `set_image` median s:", "", "| setting | median s |", "|---|---|"]
    lines += [f"| {k} | {v['median_s']:.3f} |" for k, v in settings.items()]
    lines += ["", "Decoder only (one click per prompt):", "", "| B | median s | prompts/s |", "|---|---|---|"]
    lines += [f"| {b} | {v['median_s']:.4f} | {v['prompts_per_s']:.1f} |" for b, v in throughput.items()]
    name = f"ort_vs_official_{args.model_type}"
    write_results(args.out, name, results, "\n".join(lines) + "\n")
    bar_chart(args.out / f"{name}.png", f"{args.model_type} on CPU: official vs sam-trt ort",
              {stage: {s: stats[s][stage]["median_s"] for s in systems} for stage in ("set_image", "predict")})
    print("\n".join(lines))


if __name__ == "__main__":
    main()
