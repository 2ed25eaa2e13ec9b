"""GPU latency (issue 7): per-stage latency, capture-to-mask p50/p99 and fps, torch CUDA vs TensorRT.

    python benchmarks/bench_gpu.py [--models demo,vit_b] [--objects 1,4,16] [--frames 150] [--camera-fps 30]
                                   [--trt-precisions fp16] [--work /tmp/sam-trt-gpu-bench]

--models takes any registry type, the edge encoders included (vit_t, efficientvit_l0 ... efficientvit_xl1).

For each model (the bundled demo model; vit_b with seeded random weights in the official layout, which does
not change speed) and each system (torch CUDA fp32 / fp16 with device resize and decoder CUDA graphs;
TensorRT plans per --trt-precisions with decoder CUDA graphs, when TensorRT is installed) and each number of
objects per frame K (one prompt batch of K clicks per frame):

- stages: preprocess, encode, decode (K prompts), postprocess (upscale + threshold + to host), each
  synchronised, p50 over --repeats frames; for TensorRT also the GPU event times of upload / compute;
- end to end: a generated 720x1280 clip replayed as a live camera at --camera-fps through FramePipeline
  ("latest" policy), capture-to-mask p50/p99 (frame read -> masks on the host) and delivered fps; and the
  same clip unpaced with the "every" policy for the sustained fps.

Systems alternate per model so they share the machine's state. Writes benchmarks/results/bench_gpu.{md,json,png}.
Refuses (exit 2, one line) on a machine without a CUDA GPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from timing import bar_chart, machine, summarize, write_results  # noqa: E402

from sam_trt.engine.cache import detect_gpu  # noqa: E402
from sam_trt.runtime.base import SamBackend, to_numpy  # noqa: E402

RESULTS = Path(__file__).parent / "results"
FRAME_SIZE = (720, 1280)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="demo,vit_b")
    parser.add_argument("--objects", default="1,4,16")
    parser.add_argument("--frames", type=int, default=150, help="frames of the end-to-end clip")
    parser.add_argument("--repeats", type=int, default=50, help="timed frames per stage measurement")
    parser.add_argument("--camera-fps", type=float, default=30.0, help="rate of the simulated live camera")
    parser.add_argument("--trt-precisions", default="fp16", help="TensorRT plans to build and run (fp32,fp16)")
    parser.add_argument("--work", default="/tmp/sam-trt-gpu-bench", help="exports and engines (reused)")
    parser.add_argument("--output", default=str(RESULTS / "bench_gpu"))
    args = parser.parse_args(argv)
    gpu, capability = detect_gpu()
    import torch

    if gpu is None or not torch.cuda.is_available():
        print("bench_gpu: error: no CUDA GPU here (cuda-python and torch.cuda found none); run it on a GPU machine "
              "with CUDA torch: python benchmarks/bench_gpu.py", file=sys.stderr)
        return 2
    objects = [int(k) for k in args.objects.split(",")]
    has_trt = importlib.util.find_spec("tensorrt") is not None or importlib.util.find_spec("tensorrt_rtx") is not None
    clip = _clip(args.frames)
    report: dict[str, Any] = {"machine": machine(), "gpu": f"{gpu} (sm {capability})", "settings": vars(args),
                              "tensorrt": has_trt, "runs": []}
    for model in args.models.split(","):
        sam, export = _model(model, Path(args.work))
        systems: list[tuple[str, Callable[[], SamBackend]]] = [
            (f"torch-{p}", lambda p=p, s=sam: _torch(s, p)) for p in ("fp32", "fp16")]
        if has_trt:
            for precision in args.trt_precisions.split(","):
                engines = _engines(export, precision, Path(args.work))
                systems.append((f"trt-{precision}", lambda e=engines, p=precision: _trt(e, p)))
        else:
            print("TensorRT is not installed: torch CUDA only", file=sys.stderr)
        for name, make in systems:
            backend = make()
            for k in objects:
                run = {"model": model, "system": name, "objects": k, **_stages(backend, clip, k, args.repeats),
                       **_end_to_end(backend, clip, k, args.camera_fps)}
                report["runs"].append(run)
                print(f"{model} {name} K={k}: capture-to-mask p50 {run['live_p50_ms']:.1f} ms, "
                      f"p99 {run['live_p99_ms']:.1f} ms, {run['sustained_fps']:.1f} fps", flush=True)
            getattr(backend, "close", lambda: None)()
    _write(Path(args.output), report)
    return 0


def _clip(frames: int) -> list[np.ndarray]:
    from sam_trt.data.scenes import generate_video

    return list(generate_video(7, num_frames=frames, size=FRAME_SIZE).frames)


def _model(model: str, work: Path) -> tuple[Any, Path]:
    """(Sam on CUDA, export folder) of `model`; vit_b gets seeded random weights and is exported once."""
    import torch

    from sam_trt import sam_model_registry
    from sam_trt.demo import DEMO_EXPORT
    from sam_trt.export.exporter import export_model

    torch.manual_seed(0)
    sam = sam_model_registry[model]().eval()
    export = DEMO_EXPORT if model == "demo" else work / f"export-{model}"
    if not (export / "manifest.json").is_file():
        export_model(sam, export, model_type=model, overwrite=True)
    return sam.to("cuda"), export


def _engines(export: Path, precision: str, work: Path) -> Path:
    from sam_trt.engine.build import build_engines
    from sam_trt.export.manifest import read_manifest
    from sam_trt.precision.variant import make_variant

    model = read_manifest(export).model_type
    source = export
    if precision != "fp32":
        # Speed only: random weights can fail the accuracy gate (see README, edge encoders), so publish anyway.
        source = make_variant(export, precision, work / "onnx" / f"{model}-{precision}", force=True).folder
    build_engines(source, work / "engines")
    return work / "engines"


def _torch(sam: Any, precision: str) -> SamBackend:
    from sam_trt.runtime.torch_backend import TorchBackend

    return TorchBackend(sam, "cuda", precision, device_preprocess=True, cuda_graphs=True)


def _trt(engines: Path, precision: str) -> SamBackend:
    from sam_trt.runtime.trt_backend import TrtBackend

    return TrtBackend(engines, precision=precision, cuda_graphs=True)


def _prompts(k: int, original: tuple[int, int], backend: SamBackend) -> tuple[np.ndarray, ...]:
    """K clicks on a grid (each + the padding point), in the resized frame, as one prompt batch."""
    from sam_trt.transforms import ResizeLongestSide

    side = int(np.ceil(np.sqrt(k)))
    grid = [((i % side + 0.5) / side * original[1], (i // side + 0.5) / side * original[0]) for i in range(k)]
    points = ResizeLongestSide(backend.image_size).apply_coords(np.array(grid, np.float32), original)
    coords = np.stack([points, np.zeros_like(points)], 1).astype(np.float32)
    labels = np.tile(np.array([[1.0, -1.0]], np.float32), (k, 1))
    low = backend.low_res_size
    return coords, labels, np.zeros((k, 1, low, low), np.float32), np.zeros(k, np.float32)


def _masks(backend: SamBackend, embedding: Any, prompts: tuple, input_size: tuple, original: tuple) -> np.ndarray:
    from sam_trt.postprocess import upscale_masks

    _, low_res = backend.decode(embedding, *prompts)
    return to_numpy(upscale_masks(low_res[:, :1], backend.image_size, input_size, original) > backend.mask_threshold)


def _stages(backend: SamBackend, clip: list[np.ndarray], k: int, repeats: int) -> dict[str, Any]:
    """p50/p99 ms of each synchronised stage over `repeats` frames (after 5 warm-up frames)."""
    import torch

    from sam_trt.postprocess import upscale_masks

    prompts = _prompts(k, FRAME_SIZE, backend)
    times: dict[str, list[float]] = {s: [] for s in ("preprocess", "encode", "decode", "postprocess")}
    gpu: dict[str, list[float]] = {}
    for i in range(repeats + 5):
        image = clip[i % len(clip)]
        marks = [time.perf_counter()]
        resized, input_size = backend.preprocess(image)
        torch.cuda.synchronize()
        marks.append(time.perf_counter())
        embedding = backend.encode(resized)
        torch.cuda.synchronize()
        marks.append(time.perf_counter())
        _, low_res = backend.decode(embedding, *prompts)
        torch.cuda.synchronize()
        marks.append(time.perf_counter())
        to_numpy(upscale_masks(low_res[:, :1], backend.image_size, input_size, FRAME_SIZE) > backend.mask_threshold)
        marks.append(time.perf_counter())
        if i < 5:
            continue
        for stage, start, end in zip(times, marks, marks[1:]):
            times[stage].append(end - start)
        for key, ms in getattr(backend, "last_timings", {}).items():
            gpu.setdefault(key, []).append(ms / 1000)
    out = {f"{s}_p50_ms": summarize(t)["p50_s"] * 1000 for s, t in times.items()}
    out.update({f"{s}_p99_ms": summarize(t)["p99_s"] * 1000 for s, t in times.items()})
    out.update({f"gpu_{s}_p50_ms": summarize(t)["p50_s"] * 1000 for s, t in gpu.items()})
    return out


def _replay(frames: list[np.ndarray], fps: float | None) -> Any:
    """The clip as a FrameSource: live (paced at `fps`, like a camera) or a file (read as fast as asked)."""
    from sam_trt.video.sources import FrameSource

    class Replay(FrameSource):
        description, live, frame_count = "generated clip", fps is not None, len(frames)

        def __init__(self) -> None:
            self.fps, self.index, self.start = fps, 0, 0.0

        def read(self) -> np.ndarray | None:
            if self.index >= len(frames):
                return None
            self.start = self.start or time.perf_counter()
            if fps:
                time.sleep(max(0.0, self.start + self.index / fps - time.perf_counter()))
            self.index += 1
            return frames[self.index - 1]

    return Replay()


def _end_to_end(backend: SamBackend, clip: list[np.ndarray], k: int, camera_fps: float) -> dict[str, float]:
    from sam_trt.video.pipeline import FramePipeline

    prompts = _prompts(k, FRAME_SIZE, backend)
    out = {}
    for label, fps, policy in (("live", camera_fps, "latest"), ("sustained", None, "every")):
        latencies, start = [], time.perf_counter()
        with FramePipeline(backend, _replay(clip, fps), policy=policy, queue_size=1 if fps else 2) as pipeline:
            for encoded in pipeline:
                _masks(backend, encoded.embedding, prompts, encoded.input_size, encoded.original_size)
                latencies.append(time.perf_counter() - encoded.frame.captured_at)
        wall = time.perf_counter() - start
        stats = summarize(latencies[5:] or latencies)
        out.update({f"{label}_p50_ms": stats["p50_s"] * 1000, f"{label}_p99_ms": stats["p99_s"] * 1000,
                    f"{label}_fps": len(latencies) / wall, f"{label}_frames": len(latencies)})
    return out


def _write(output: Path, report: dict[str, Any]) -> None:
    runs = report["runs"]
    lines = [f"# GPU latency: {report['gpu']}", "",
             f"Command: `python benchmarks/bench_gpu.py {' '.join(sys.argv[1:])}`; 720x1280 generated frames; "
             "K clicks per frame in one prompt batch; ms (p50 unless noted).", "",
             "| model | system | K | preprocess | encode | decode | postprocess | capture-to-mask p50 / p99 (live) "
             "| live fps | sustained fps |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['model']} | {r['system']} | {r['objects']} | {r['preprocess_p50_ms']:.2f} | "
                     f"{r['encode_p50_ms']:.2f} | {r['decode_p50_ms']:.2f} | {r['postprocess_p50_ms']:.2f} | "
                     f"{r['live_p50_ms']:.1f} / {r['live_p99_ms']:.1f} | {r['live_fps']:.1f} | "
                     f"{r['sustained_fps']:.1f} |")
    gpu_keys = sorted({k for r in runs for k in r if k.startswith("gpu_")})
    if gpu_keys:
        lines += ["", "TensorRT GPU event times (p50 ms): " + "; ".join(
            f"{r['model']} {r['system']} K={r['objects']}: " + ", ".join(
                f"{k[4:-7]} {r[k]:.3f}" for k in gpu_keys if k in r) for r in runs if any(k in r for k in gpu_keys))]
    write_results(output.parent, output.name, report, "\n".join(lines) + "\n")
    groups = {f"{r['model']} K={r['objects']}": {} for r in runs}
    for r in runs:
        groups[f"{r['model']} K={r['objects']}"][r["system"]] = r["live_p50_ms"]
    bar_chart(output.parent / f"{output.name}.png", f"capture-to-mask p50, {report['gpu']}", groups, ylabel="ms")
    print(f"wrote {output}.md/.json/.png")


if __name__ == "__main__":
    sys.exit(main())
