"""Tracking quality of `sam_trt.video.Tracker` with the demo model (ONNX Runtime) on generated clips with
ground truth: boxes on frame 0, then the tracker alone; mIoU over every (frame, object) where the object is
visible or the tracker reports a mask. The tracker's defaults against ablations of its re-prompting
strategy, and the per-frame GT-box oracle (every frame prompted with its true box: the decoder's ceiling).

    python benchmarks/video_tracking.py [--seeds 24]

Seeds 500+ (not the CI clip's seed 9001). Writes benchmarks/results/video_tracking_tune.{json,md}.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from timing import write_results  # noqa: E402

from sam_trt.bench.machine import machine_info  # noqa: E402
from sam_trt.data import generate_video, rng_for  # noqa: E402
from sam_trt.runtime.loader import load_backend  # noqa: E402
from sam_trt.video.evaluate import encode_clip, oracle_miou, track_clip, tracking_miou  # noqa: E402
from sam_trt.video.tracker import TrackerOptions  # noqa: E402

CLIPS = {  # name: (frames, objects per clip)
    "2 objects, 32 frames (the CI test's setting)": (32, (2, 2)),
    "3-6 objects, 48 frames (busy)": (48, (3, 6)),
}
DEFAULT = TrackerOptions()
VARIANTS = {
    "defaults": DEFAULT,
    "no interior point": replace(DEFAULT, interior_point=False),
    "no mask_input": replace(DEFAULT, mask_input=False),
    "box enlarged 10%": replace(DEFAULT, enlarge=0.1),
    "no overlap resolution": replace(DEFAULT, exclusive=False),
    "no growth limits": replace(DEFAULT, max_growth=1e9, max_area_jump=1e9, clip_margin=None),
    "max_area_jump 1.5": replace(DEFAULT, max_area_jump=1.5),
    "min_score 0.5": replace(DEFAULT, min_score=0.5),
    "no velocity": replace(DEFAULT, velocity=0.0),
    "exit handling (--track-exits)": replace(DEFAULT, exit_fraction=0.3),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=24)
    ap.add_argument("--first-seed", type=int, default=500)
    ap.add_argument("--output", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args()
    backend = load_backend("demo", backend="ort")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    table: dict[str, dict[str, list[float]]] = {}
    for clip_name, (frames, objects) in CLIPS.items():
        rows = table.setdefault(clip_name, {})
        for seed in seeds:
            video = generate_video(rng_for(seed), num_frames=frames, num_objects=objects)
            embeddings = encode_clip(backend, video.frames)
            oracle = oracle_miou(backend, video.frames, video.masks, embeddings)
            rows.setdefault("per-frame GT box (oracle)", []).append(oracle)
            for name, options in VARIANTS.items():
                results = track_clip(backend, video.frames, video.masks[0], options, embeddings)
                rows.setdefault(name, []).append(tracking_miou(results, video.masks))
            print(clip_name, seed, {k: round(v[-1], 3) for k, v in rows.items()}, flush=True)
    summary = {c: {k: {"mean": float(np.mean(v)), "median": float(np.median(v)), "min": float(np.min(v)),
                       "share_ge_0.80": float(np.mean(np.array(v) >= 0.80)), "per_seed": [round(x, 4) for x in v]}
                   for k, v in rows.items()} for c, rows in table.items()}
    results = {"command": f"python benchmarks/video_tracking.py --seeds {args.seeds}", "seeds": seeds,
               "machine": machine_info(), "defaults": DEFAULT.__dict__, "results": summary}
    write_results(Path(args.output), "video_tracking_tune", results, markdown(results))
    print(markdown(results))


def markdown(results: dict) -> str:
    lines = ["# Tracking mIoU of the demo model on generated clips (ONNX Runtime)", "",
             f"`{results['command']}`; seeds {results['seeds'][0]}..{results['seeds'][-1]} (the CI test uses seed "
             "9001); boxes on frame 0 only, except the oracle row.", ""]
    for clip, rows in results["results"].items():
        lines += [f"## {clip}", "", "| strategy | mean mIoU | median | min | clips >= 0.80 |", "|---|---|---|---|---|"]
        for name, r in rows.items():
            lines.append(f"| {name} | {r['mean']:.3f} | {r['median']:.3f} | {r['min']:.3f} | "
                         f"{r['share_ge_0.80']:.0%} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
