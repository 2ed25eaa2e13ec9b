"""`sam-trt video`: track objects through a camera, video file, image folder or stream; write masks.jsonl,
overlay.mp4 and summary.json (sam_trt/video/sinks.py)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import BackendError, InputError
from ..video.sources import PacedSource
from .args import add_model_args, parse_box, parse_point


class _Ordered(argparse.Action):
    """Appends (kind, value) to one shared list, so --box / --point groups keep their command-line order."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        items = list(getattr(namespace, self.dest) or [])
        items.append((self.metavar_kind, values))
        setattr(namespace, self.dest, items)


class _BoxAction(_Ordered):
    metavar_kind = "box"


class _PointAction(_Ordered):
    metavar_kind = "point"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "video", help="track objects through a video, camera or stream; write masks.jsonl and overlay.mp4",
        description="Each --box (with the first positive --point right after it) and each other positive --point "
                    "starts one tracked object on the first frame; a negative point (x,y,0) joins the object before "
                    "it. --prompts gives objects with ids and keyframes (sam_trt/video/prompts.py).")
    parser.add_argument("--source", default=None,
                        help="camera index (0), video file, image folder or stream URL (rtsp://...); default: the "
                             "bundled sample clip, with its prompts")
    parser.add_argument("--point", type=parse_point, action=_PointAction, dest="prompt_items", metavar="X,Y[,LABEL]",
                        help="a click in pixels (label 1 foreground, 0 background); see the grouping above; "
                             "repeatable")
    parser.add_argument("--box", type=parse_box, action=_BoxAction, dest="prompt_items", metavar="X0,Y0,X1,Y1",
                        help="a box that starts one object; repeatable")
    parser.add_argument("--prompts", default=None,
                        help='JSON {"objects": [{"id": 1, "keyframes": [{"frame": 0, "box": [...], '
                             '"points": [[x, y]], "labels": [1]}]}]}')
    parser.add_argument("--engines", default=None,
                        help="a TensorRT engines folder from sam-trt build (instead of --checkpoint)")
    parser.add_argument("--output", default="out", help="output folder (default: out)")
    parser.add_argument("--show", action="store_true",
                        help="show a window: click adds an object, right-click a negative point on the selected "
                             "object, r resets, q quits")
    parser.add_argument("--png-masks", action="store_true", help="also write masks/NNNNNN.png (pixel = object id)")
    parser.add_argument("--no-overlay", action="store_true", help="do not write overlay.mp4")
    parser.add_argument("--track-exits", action="store_true",
                        help="treat objects whose box runs off the frame as gone until they come back across the "
                             "edge (stops masks lingering after an object left; see README)")
    parser.add_argument("--realtime", action="store_true",
                        help="play a file or folder at its frame rate (or --fps) as if it were a camera: latest-frame "
                             "policy, so frames are dropped when tracking falls behind (live latency)")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    parser.add_argument("--width", type=int, default=None, help="ask a camera / stream for this frame width")
    parser.add_argument("--height", type=int, default=None, help="ask a camera / stream for this frame height")
    parser.add_argument("--fps", type=float, default=None,
                        help="ask a camera for this rate; also the overlay's rate when the source has none")
    add_model_args(parser)
    parser.set_defaults(run=run, prompt_items=[])


def run(args: argparse.Namespace) -> int:
    from ..demo import SAMPLE_CLIP, SAMPLE_CLIP_PROMPTS
    from ..video.prompts import objects_from_args, read_prompts
    from ..video.sources import open_source

    if args.max_frames is not None and args.max_frames < 1:
        raise InputError(f"--max-frames must be >= 1, got {args.max_frames}")
    objects = read_prompts(args.prompts) if args.prompts else []
    if args.prompt_items:
        first = max((o.object_id for o in objects), default=0)
        for obj in objects_from_args(args.prompt_items):
            obj.object_id += first
            objects.append(obj)
    if args.source is None and not objects:
        objects = read_prompts(SAMPLE_CLIP_PROMPTS)
    if not objects and not args.show:
        raise InputError("nothing to track: give --box x0,y0,x1,y1, --point x,y, --prompts FILE, or --show to "
                         "click objects")
    source = open_source(args.source if args.source is not None else str(SAMPLE_CLIP),
                         width=args.width, height=args.height, fps=args.fps)
    if args.realtime and not source.live:
        source = PacedSource(source, args.fps or source.fps or 30.0)
    window = None
    try:
        if args.show:
            from ..video.show import ShowWindow

            window = ShowWindow()
        backend = load_video_backend(args)
        info = backend.describe()
        print(f"source: {source.description}")
        print(f"backend: {info['backend']} ({info['device']}, {info['precision']})", flush=True)
        with _sigterm_as_interrupt():
            return _track(args, source, backend, objects, window)
    finally:
        source.close()
        if window is not None:
            window.close()


def load_video_backend(args: argparse.Namespace) -> Any:
    """The backend of the model options: --engines (TensorRT only: plans for another GPU or TensorRT version are
    refused, not replaced by ONNX Runtime as backend "auto" of load_backend would) or --checkpoint."""
    from ..runtime.loader import load_backend

    if args.engines is not None:
        if args.backend not in ("auto", "trt"):
            raise BackendError(f"--engines runs TensorRT plans; drop --backend {args.backend} or pass the export "
                               "folder with --checkpoint")
        check_engines(args.engines)
        return load_backend(args.engines, backend="trt")
    options = {}
    if args.backend == "torch" or Path(args.checkpoint).is_file():
        import torch

        options["device"] = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    return load_backend(args.checkpoint, backend=args.backend, model_type=args.model_type, **options)


def check_engines(folder: str | Path) -> None:
    """One-line InputError unless `folder` holds plans of sam-trt build (whether they suit this GPU and TensorRT
    is checked by the trt backend, before it deserialises them)."""
    from ..runtime.trt_plans import is_engines_folder

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"--engines {folder} is not a folder; give the output folder of sam-trt build")
    if not is_engines_folder(folder):
        raise InputError(f"--engines {folder} holds no TensorRT plans; build them: sam-trt build --onnx EXPORT "
                         "--precision fp16 --output engines/")


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt (like Ctrl-C) in the main thread, so outputs are closed the same way."""
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _track(args: argparse.Namespace, source: Any, backend: Any, objects: list, window: Any) -> int:
    from tqdm import tqdm

    from ..video.pipeline import FramePipeline
    from ..video.prompts import check_in_frame
    from ..video.sinks import LATENCY_STAGES, READOUT_NAMES, VideoOutputs, latency_stats, reported_latency
    from ..video.tracker import Tracker, TrackerOptions

    tracker = Tracker(backend, TrackerOptions(exit_fraction=0.3 if args.track_exits else None))
    pending = {o.object_id: sorted(o.keyframes.items()) for o in objects}
    outputs = VideoOutputs(args.output, fps=source.fps or args.fps or 30.0, png_masks=args.png_masks,
                           overlay=not args.no_overlay)
    samples: dict[str, list[float]] = {s: [] for s in LATENCY_STAGES}
    reported = reported_latency(source.live)
    total = source.frame_count if not source.live else None
    if args.max_frames is not None and total is not None:
        total = min(total, args.max_frames)
    bar = None  # made after the first frame's checks, so an error stays the only line on stderr
    pipeline = FramePipeline(backend, source, queue_size=1 if source.live else 2)
    interrupted, start, dropped = False, time.perf_counter(), 0
    try:
        with outputs, pipeline:
            for encoded in pipeline:
                index = encoded.frame.index
                if bar is None:
                    check_in_frame(objects, encoded.original_size)
                    bar = tqdm(total=total, unit="frame", disable=source.live, file=sys.stderr, leave=False)
                for object_id, keys in pending.items():  # keyframes due (a dropped keyframe applies next)
                    due = [prompt for frame, prompt in keys if frame <= index]
                    if due:
                        tracker.add(object_id, due[-1])
                        pending[object_id] = [(f, p) for f, p in keys if f > index]
                t0 = time.perf_counter()
                results = tracker.step(encoded.embedding, encoded.original_size, encoded.input_size)
                t1 = time.perf_counter()
                for stage in ("read", "preprocess", "encode", "queue"):
                    if stage in encoded.timings:
                        samples[stage].append(encoded.timings[stage])
                samples["decode"].append(t1 - t0)
                samples["processing"].append(encoded.timings["preprocess"] + encoded.timings["encode"] + t1 - t0)
                samples["capture_to_mask"].append(t1 - encoded.frame.captured_at)
                dropped += encoded.dropped_before
                rate = (outputs.frames_written + 1) / max(t1 - start, 1e-9)
                readout = f"{samples[reported][-1] * 1000:.0f} {READOUT_NAMES[reported][1]}"
                outputs.write(index, encoded.frame.image, results, f"frame {index}  {readout}  {rate:.1f} fps")
                samples["write"].append(time.perf_counter() - t1)
                bar.update(1)
                if window is not None and not window.handle(encoded.frame.image, results, tracker):
                    break
                if args.max_frames is not None and outputs.frames_written >= args.max_frames:
                    break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if bar is not None:
            bar.close()
        wall = time.perf_counter() - start
        if outputs.frames_written:  # nothing is written for a run that failed before its first frame
            outputs.close({
                "source": source.description, "live": bool(source.live), "policy": pipeline.policy,
                "frames": outputs.frames_written, "objects": tracker.object_ids,
                "fps": round(outputs.frames_written / max(wall, 1e-9), 3), "wall_seconds": round(wall, 3),
                "latency": latency_stats(samples), "reported_latency": reported, "dropped_frames": int(dropped),
                "pipeline": pipeline.stats, **backend.describe(), "interrupted": interrupted,
                "tracker": asdict(tracker.options),
            })
    files = ", ".join(str(Path(args.output) / n) for n in ("masks.jsonl", "overlay.mp4", "summary.json")
                      if n != "overlay.mp4" or not args.no_overlay)
    p50 = latency_stats({reported: samples[reported]}).get(reported, {}).get("p50_ms", 0.0)
    print(f"{'interrupted: ' if interrupted else ''}wrote {files} ({outputs.frames_written} frames, "
          f"{len(tracker.object_ids)} objects, {outputs.frames_written / max(wall, 1e-9):.1f} fps, "
          f"{READOUT_NAMES[reported][0]} p50 {p50:.1f} ms)")
    if interrupted:
        raise KeyboardInterrupt
    return 0
