"""Segment everything: sam-trt's SamAutomaticMaskGenerator on ONNX Runtime vs the official generator, CPU.

    python benchmarks/bench_amg_vs_official.py [--model vit_b|demo] [--repeats 2] [--points-per-side 32]
        [--filters default|off] [--out benchmarks/results]

Both systems get the same weights (vit_b: seeded random weights in the official layout, exported to ONNX
here; demo: the bundled model) and the same image, and run in the same process, alternating round by
round. Reported per system: end-to-end `generate` time, masks per second, and where the time goes
(image encoder, mask decoder, the rest: upscaling, filters, NMS, RLE), plus the load average.
--filters off disables the IoU and stability filters (pred_iou_thresh = stability_score_thresh = 0): every
mask is upscaled, scored, boxed and run-length encoded, the heaviest post-processing load.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from timing import bar_chart, machine, same_weight_models, sample_photo, summarize, write_results

from sam_trt.amg import DEMO_AMG_SETTINGS, SamAutomaticMaskGenerator
from sam_trt.bench.timing import interleaved_order
from sam_trt.runtime.ort_backend import OrtBackend

SYSTEMS = ("official", "sam-trt ort")


class StageClock:
    """Accumulates the seconds spent in wrapped callables, by stage name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, owner: Any, attr: str, stage: str) -> None:
        inner = getattr(owner, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start

        setattr(owner, attr, timed)


def build_systems(model: str, settings: dict) -> tuple[dict[str, Any], dict[str, StageClock], dict[str, Any]]:
    """The two generators with stage clocks on their encoder and decoder, and facts about the setup."""
    from segment_anything import SamAutomaticMaskGenerator as OfficialGenerator

    info: dict[str, Any] = {}
    if model == "demo":
        from sam_trt.bench.official import build_official_sam
        from sam_trt.config import DEMO_CONFIG
        from sam_trt.demo import DEMO_EXPORT
        from sam_trt.modeling import sam_model_registry

        official_model = build_official_sam(DEMO_CONFIG, sam_model_registry["demo"]().state_dict())
        export_dir = DEMO_EXPORT
    else:
        from sam_trt.export.exporter import export_model

        official_model, our_model = same_weight_models(model)
        export_dir = Path(tempfile.mkdtemp()) / model
        start = time.perf_counter()
        export_model(our_model, export_dir, model, log=lambda _: None)
        info["export_seconds"] = time.perf_counter() - start
        del our_model
    official = OfficialGenerator(official_model, **settings)
    ours = SamAutomaticMaskGenerator(OrtBackend(export_dir), **settings)
    clocks = {name: StageClock() for name in SYSTEMS}
    clocks["official"].wrap(official_model.image_encoder, "forward", "encoder")
    clocks["official"].wrap(official_model.mask_decoder, "forward", "decoder")
    clocks["sam-trt ort"].wrap(ours.predictor.backend, "encode", "encoder")
    clocks["sam-trt ort"].wrap(ours.predictor.backend, "decode", "decoder")
    return {"official": official, "sam-trt ort": ours}, clocks, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vit_b", help="vit_b / vit_l / vit_h (random weights) or demo")
    parser.add_argument("--repeats", type=int, default=2, help="timed generate calls per system")
    parser.add_argument("--points-per-side", type=int, default=None,
                        help="default: 32 (the official default; demo: its documented 16)")
    parser.add_argument("--filters", choices=["default", "off"], default="default")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    import torch

    settings: dict[str, Any] = dict(DEMO_AMG_SETTINGS) if args.model == "demo" else {}
    if args.points_per_side is not None:
        settings["points_per_side"] = args.points_per_side
    if args.filters == "off":
        settings.update(pred_iou_thresh=0.0, stability_score_thresh=0.0)
    image = sample_photo()
    if args.model == "demo":
        from sam_trt.data.scenes import generate_scene, rng_for

        image = generate_scene(rng_for(5, 0), size=(720, 1280), num_objects=(12, 16)).image
    generators, clocks, info = build_systems(args.model, settings)
    load_before = os.getloadavg()

    # Warm-up: one untimed call each on a small grid (sessions, allocators, lazy imports).
    for gen in generators.values():
        saved = gen.point_grids
        gen.point_grids = [g[:4] for g in saved]
        with torch.no_grad():
            gen.generate(image)
        gen.point_grids = saved

    times: dict[str, list[float]] = {name: [] for name in SYSTEMS}
    stages: dict[str, list[dict[str, float]]] = {name: [] for name in SYSTEMS}
    masks: dict[str, int] = {}
    for round_index in range(args.repeats):
        for name in interleaved_order(SYSTEMS, round_index):
            clocks[name].seconds = {}
            start = time.perf_counter()
            with torch.no_grad():
                records = generators[name].generate(image)
            elapsed = time.perf_counter() - start
            times[name].append(elapsed)
            rest = elapsed - sum(clocks[name].seconds.values())
            stages[name].append({**clocks[name].seconds, "rest": rest})
            masks[name] = len(records)
            print(f"round {round_index} {name}: {elapsed:.2f} s, {len(records)} masks, "
                  + ", ".join(f"{k} {v:.2f}" for k, v in stages[name][-1].items()), flush=True)
    load_after = os.getloadavg()

    stats = {name: {**summarize(times[name]), "masks": masks[name],
                    "masks_per_s": masks[name] / float(np.median(times[name])),
                    "stages_median_s": {k: float(np.median([s.get(k, 0.0) for s in stages[name]]))
                                        for k in ("encoder", "decoder", "rest")}}
             for name in SYSTEMS}
    speedup = stats["official"]["median_s"] / stats["sam-trt ort"]["median_s"]
    points = generators["official"].point_grids[0].shape[0]
    tag = f"{args.model}" + ("_filters_off" if args.filters == "off" else "")
    command = (f"python benchmarks/bench_amg_vs_official.py --model {args.model} --repeats {args.repeats}"
               + (f" --points-per-side {args.points_per_side}" if args.points_per_side else "")
               + (" --filters off" if args.filters == "off" else ""))
    results = {"benchmark": "amg: sam-trt ort vs official", "model": args.model, "image": list(image.shape[:2]),
               "settings": settings, "points": points, "machine": machine(), "command": command,
               "load_average_before": load_before, "load_average_after": load_after, **info,
               "times_s": times, "stages_s": stages, "stats": stats, "speedup_vs_official": speedup}
    m = results["machine"]
    lines = [f"# Segment everything: sam-trt (ONNX Runtime) vs official segment-anything ({args.model}, CPU)", "",
             f"Command: `{command}`  ", f"Machine: {m['cpu']}, {m['cpu_count']} cores, torch {m.get('torch')} "
             f"({m.get('torch_threads')} threads), onnxruntime {m.get('onnxruntime')}; load average "
             f"{load_before[0]:.1f} before, {load_after[0]:.1f} after (the benchmark itself keeps 2 threads busy).  ",
             f"Image {image.shape[0]}x{image.shape[1]}, {points} points ({settings or 'generator defaults'}), "
             f"{args.repeats} timed runs a system, alternating.", "",
             "| system | median s | masks | masks/s | encoder s | decoder s | rest s |",
             "|---|---|---|---|---|---|---|"]
    for name in SYSTEMS:
        s = stats[name]
        st = s["stages_median_s"]
        lines.append(f"| {name} | {s['median_s']:.2f} | {s['masks']} | {s['masks_per_s']:.2f} | "
                     f"{st['encoder']:.2f} | {st['decoder']:.2f} | {st['rest']:.2f} |")
    lines += ["", f"End-to-end speed-up: **{speedup:.2f}x**."]
    if masks["official"] == 0:
        lines += ["", "No mask passes the default filters with random weights; `--filters off` measures masks/s."]
    name = f"amg_vs_official_{tag}"
    write_results(args.out, name, results, "\n".join(lines) + "\n")
    bar_chart(args.out / f"{name}.png", f"segment everything, {args.model}, CPU: median s per image",
              {stage: {s: stats[s]["stages_median_s"][stage] for s in SYSTEMS} for stage in ("encoder", "decoder",
                                                                                              "rest")}
              | {"end to end": {s: stats[s]["median_s"] for s in SYSTEMS}})
    print("\n".join(lines))


if __name__ == "__main__":
    main()
