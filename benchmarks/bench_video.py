"""End-to-end `sam-trt video` on the bundled sample clip (60 frames, 240x320): fps and capture-to-mask latency
with 1, 4 and 16 tracked objects, through the CLI itself (capture thread, pipeline, tracker, masks.jsonl and
overlay.mp4 writing).

    python benchmarks/bench_video.py                                 # CPU: ONNX Runtime, demo model
    python benchmarks/bench_video.py --gpu [--engines engines/]      # GPU: torch CUDA (+ TensorRT engines)

Two modes per object count: "file" (every frame, as fast as it goes: throughput; capture-to-mask then
includes the wait in the pipeline's queues) and "live" (`--realtime`: the clip played at its 12 fps as a
camera, latest-frame policy: the latency a live source sees, and the frames dropped to keep it bounded).
The 16-object prompts are the clip's 4 frame-0 boxes, each 4 times, shifted by a few pixels. Systems and
object counts alternate round by round. Writes benchmarks/results/video_{cpu,gpu}.{json,md,png}.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from timing import bar_chart, write_results  # noqa: E402

from sam_trt.bench.machine import machine_info  # noqa: E402
from sam_trt.cli import main as cli  # noqa: E402
from sam_trt.demo import SAMPLE_CLIP, SAMPLE_CLIP_PROMPTS  # noqa: E402

OBJECTS = (1, 4, 16)
MODES = ("file", "live")


def prompts_for(count: int, folder: Path) -> Path:
    """A prompts file with `count` objects made from the sample clip's frame-0 boxes."""
    base = json.loads(SAMPLE_CLIP_PROMPTS.read_text())["objects"]
    objects = []
    for k in range(count):
        box = np.array(base[k % len(base)]["keyframes"][0]["box"], float)
        shift = 2.0 * (k // len(base))
        box = np.clip(box + [shift, shift, -shift, -shift] if box[2] - box[0] > 4 * shift + 4 else box, 0, None)
        objects.append({"id": k + 1, "keyframes": [{"frame": 0, "box": box.tolist()}]})
    path = folder / f"prompts_{count}.json"
    path.write_text(json.dumps({"objects": objects}))
    return path


def run_once(model_args: list[str], prompts: Path, mode: str, out: Path) -> dict:
    argv = ["video", "--source", str(SAMPLE_CLIP), "--prompts", str(prompts), "--output", str(out), *model_args]
    if mode == "live":
        argv.append("--realtime")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = cli(argv)
    if code != 0:
        raise SystemExit(f"sam-trt {' '.join(argv)} failed with exit code {code}")
    summary = json.loads((out / "summary.json").read_text())
    lat = summary["latency"]
    return {"fps": summary["fps"], "frames": summary["frames"], "dropped": summary["dropped_frames"],
            "capture_to_mask_p50_ms": lat["capture_to_mask"]["p50_ms"],
            "capture_to_mask_p95_ms": lat["capture_to_mask"]["p95_ms"],
            "encode_p50_ms": lat["encode"]["p50_ms"], "decode_p50_ms": lat["decode"]["p50_ms"],
            "write_p50_ms": lat["write"]["p50_ms"], "backend": summary["backend"], "device": summary["device"],
            "precision": summary["precision"]}


def systems(args: argparse.Namespace) -> dict[str, list[str]]:
    if not args.gpu:
        return {"ort-cpu": ["--backend", "ort"]}
    out = {"torch-cuda": ["--backend", "torch", "--device", "cuda"]}
    if args.engines:
        out["trt"] = ["--engines", args.engines]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gpu", action="store_true", help="torch CUDA (and TensorRT with --engines) instead of CPU ORT")
    ap.add_argument("--engines", default=None, help="engines folder of the demo model from sam-trt build (GPU)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--output", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args()
    name = "video_gpu" if args.gpu else "video_cpu"
    chosen = systems(args)
    runs: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        prompts = {n: prompts_for(n, Path(tmp)) for n in OBJECTS}
        for model_args in chosen.values():  # warm-up (model load, first-call costs), not recorded
            run_once(model_args, prompts[1], "file", Path(tmp) / "warmup")
        for _ in range(args.rounds):
            for system, model_args in chosen.items():
                for n in OBJECTS:
                    for mode in MODES:
                        key = f"{system}|{n}|{mode}"
                        runs.setdefault(key, []).append(run_once(model_args, prompts[n], mode, Path(tmp) / key))
                        print(key, runs[key][-1], flush=True)
    table = {k: {f: float(np.median([r[f] for r in v])) for f in ("fps", "capture_to_mask_p50_ms",
                                                                  "capture_to_mask_p95_ms", "dropped", "frames",
                                                                  "encode_p50_ms", "decode_p50_ms", "write_p50_ms")}
             for k, v in runs.items()}
    command = "python benchmarks/bench_video.py" + (" --gpu" if args.gpu else "") + \
        (f" --engines {args.engines}" if args.engines else "") + f" --rounds {args.rounds}"
    results = {"command": command, "clip": SAMPLE_CLIP.name, "machine": machine_info(), "rounds": args.rounds,
               "median": table, "runs": runs}
    out = Path(args.output)
    write_results(out, name, results, markdown(results))
    panels = {f"{mode}: {metric}": {f"{n} obj": table[f"{s}|{n}|{mode}"][field] for s in chosen for n in OBJECTS}
              for mode in MODES for metric, field in (("fps", "fps"), ("capture-to-mask p50 ms",
                                                                        "capture_to_mask_p50_ms"))}
    bar_chart(out / f"{name}.png", f"sam-trt video on the sample clip ({', '.join(chosen)})", panels, ylabel="")
    print(markdown(results))


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [f"# sam-trt video on the bundled sample clip ({results['clip']}, 60 frames 240x320)", "",
             f"`{results['command']}` — {m.get('cpu')} ({m.get('cpu_count')} logical cores), load average at start "
             f"{m.get('load_average')}; median of {results['rounds']} rounds.", "",
             "| system | objects | mode | fps | capture-to-mask p50 / p95 ms | dropped | encode p50 ms | "
             "decode p50 ms | write p50 ms |", "|---|---|---|---|---|---|---|---|---|"]
    for key, row in results["median"].items():
        system, n, mode = key.split("|")
        lines.append(f"| {system} | {n} | {mode} | {row['fps']:.1f} | {row['capture_to_mask_p50_ms']:.0f} / "
                     f"{row['capture_to_mask_p95_ms']:.0f} | {row['dropped']:.0f} | {row['encode_p50_ms']:.1f} | "
                     f"{row['decode_p50_ms']:.1f} | {row['write_p50_ms']:.1f} |")
    lines += ["", "file: every frame as fast as it goes (capture-to-mask includes the queue wait); live: "
              "`--realtime`, the clip played at 12 fps as a camera with the latest-frame policy. decode = the "
              "tracker's step (one prompt batch for all objects + upscaling + lost checks); write = masks.jsonl "
              "RLE + overlay.mp4 frame.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
