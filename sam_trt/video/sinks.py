"""Outputs of `sam-trt video`, written so that an interrupted run still leaves valid, closed files.

In the output folder:
- masks.jsonl: one line per frame and object, {"frame", "object_id", "segmentation" (COCO compressed RLE,
  "counts" a str), "bbox" [x, y, w, h], "score" (predicted IoU), "lost"}; a lost object has an empty mask.
  All lines of a frame are written and flushed together, so the file never ends mid-frame.
- overlay.mp4 (mp4v): the frames with coloured masks, object ids and a latency / fps readout; written to a
  hidden temporary name and renamed when closed (a killed run leaves no truncated mp4 under that name).
- summary.json: frames, objects, fps, "latency" (LATENCY_STAGES, each p50/p95/mean in ms and a count),
  "reported_latency" (the stage the readouts show: reported_latency()), backend, precision, dropped frames;
  written last, atomically.
- masks/NNNNNN.png (with png_masks): per frame, each pixel holds the id of its object (0 = none);
  8-bit, or 16-bit when an id passes 255.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..data.writers import encode_rle, mask_bbox
from ..errors import InputError
from ..files import atomic_path, write_image
from ..visualize import overlay_masks
from .tracker import TrackResult

MASKS, OVERLAY, SUMMARY, PNG_DIR = "masks.jsonl", "overlay.mp4", "summary.json", "masks"

# The per-frame stages of summary.json "latency" (p50/p95/mean in ms; measured by the pipeline and sam-trt video):
#   read             source.read() (a camera: includes waiting for its next frame)
#   preprocess, encode, decode   the work on the frame (decode: the tracker's decoder step and mask upscaling)
#   queue            time the frame waited between the stages (capture to delivery minus preprocess and encode)
#   write            writing the frame's outputs (masks.jsonl line, overlay frame, PNG)
#   processing       preprocess + encode + decode: the time one frame takes, without waits
#   capture_to_mask  from the end of the read to the masks (processing + queue): the lag behind a live scene
LATENCY_STAGES = ("read", "preprocess", "encode", "queue", "decode", "write", "processing", "capture_to_mask")
# How the readouts name each reported stage: (final line, overlay unit; the overlay has ~40 characters).
READOUT_NAMES = {"processing": ("per-frame processing", "ms/frame"),
                 "capture_to_mask": ("capture-to-mask", "ms latency")}


def reported_latency(live: bool) -> str:
    """The stage the overlay and the final line report: capture_to_mask for live sources (how far the masks lag
    behind the scene), processing for files (every frame is kept, so capture_to_mask there is mostly the time a
    frame waits in the queues behind the frames read before it)."""
    return "capture_to_mask" if live else "processing"


class VideoOutputs:
    """Writes masks.jsonl, overlay.mp4, per-frame PNG masks and summary.json into `folder`. Context manager:
    leaving it (also by an exception or KeyboardInterrupt) closes every file into a valid state."""

    def __init__(self, folder: str | Path, fps: float, png_masks: bool = False, overlay: bool = True) -> None:
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError(f"--output {self.folder} is a file; give a folder name")
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self.png_masks = png_masks
        self.overlay = overlay
        self._jsonl: Any = None
        self._writer: cv2.VideoWriter | None = None
        self._video_tmp: Path | None = None
        self.frames_written = 0
        self.closed = False

    def __enter__(self) -> VideoOutputs:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _open(self, size: tuple[int, int]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._jsonl = open(self.folder / MASKS, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        if self.png_masks:
            (self.folder / PNG_DIR).mkdir(exist_ok=True)
        if self.overlay:
            self._video_tmp = self.folder / f".{OVERLAY}.partial.mp4"
            h, w = size
            self._writer = cv2.VideoWriter(str(self._video_tmp), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self._writer.isOpened():
                raise InputError(f"OpenCV cannot write mp4v video to {self.folder}; check the folder is writable "
                                 "and OpenCV has its video codecs (opencv-python, not a minimal build)")

    def write(self, frame_index: int, image: np.ndarray, results: list[TrackResult], readout: str = "") -> None:
        """One frame: image HxWx3 uint8 RGB and the tracker's results for it."""
        if self.closed:
            return
        if self._jsonl is None:
            self._open(image.shape[:2])
        picture = draw_frame(image, results, readout) if self._writer is not None else None
        lines = [json.dumps({"frame": int(frame_index), "object_id": int(r.object_id),
                             "segmentation": encode_rle(r.mask),
                             "bbox": mask_bbox(r.mask) if not r.lost else [0.0, 0.0, 0.0, 0.0],
                             "score": round(float(r.score), 4), "lost": bool(r.lost)})
                 for r in results]
        with _signals_deferred():  # a Ctrl-C lands between frames: every file holds the same frames
            self._jsonl.write("".join(line + "\n" for line in lines))
            self._jsonl.flush()
            if picture is not None:
                self._writer.write(cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
            if self.png_masks:
                write_image(self.folder / PNG_DIR / f"{frame_index:06d}.png", id_map(image.shape[:2], results))
            self.frames_written += 1

    def close(self, summary: dict[str, Any] | None = None) -> None:
        """Close masks.jsonl and overlay.mp4 (rename into place); write summary.json when given. Idempotent
        for the files; a later call may still add the summary."""
        if not self.closed:
            self.closed = True
            if self._jsonl is not None:
                self._jsonl.close()
            if self._writer is not None:
                self._writer.release()
                os.replace(self._video_tmp, self.folder / OVERLAY)
        if summary is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.folder / SUMMARY) as tmp:
                tmp.write_text(json.dumps(summary, indent=2) + "\n")


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT / SIGTERM until the block ends, then act on them as before (main thread only; elsewhere
    a no-op). Python runs signal handlers in the main thread, so swapping the handlers is enough."""
    caught: list[int] = []
    previous = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: caught.append(signum))
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in caught:
            handler = previous[signum]
            if callable(handler):
                handler(signum, None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)


def draw_frame(image: np.ndarray, results: list[TrackResult], readout: str = "") -> np.ndarray:
    """RGB frame with each object's mask in its id's colour, "id N" labels, and `readout` at the bottom left."""
    top = max((r.object_id for r in results), default=0)
    masks = np.zeros((top, *image.shape[:2]), bool)
    labels = [""] * top
    for r in results:  # mask k gets palette(k): index by id - 1 so colours follow ids
        masks[r.object_id - 1] = r.mask
        labels[r.object_id - 1] = f"id {r.object_id}"
    out = overlay_masks(image, masks, labels=labels) if top else image.copy()
    if readout:  # bottom left, clear of the id labels (drawn above each mask)
        at = (6, out.shape[0] - 8)
        cv2.putText(out, readout, at, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(out, readout, at, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def id_map(size: tuple[int, int], results: list[TrackResult]) -> np.ndarray:
    """HxW map of object ids (0 = background), uint8 or uint16 when an id passes 255."""
    top = max((r.object_id for r in results), default=0)
    out = np.zeros(size, np.uint16 if top > 255 else np.uint8)
    for r in results:
        out[r.mask] = r.object_id
    return out


def latency_stats(samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """{stage: [seconds]} -> {stage: {"p50_ms", "p95_ms", "mean_ms", "count"}} (stages without samples left out)."""
    out = {}
    for stage, values in samples.items():
        if values:
            arr = np.asarray(values) * 1000.0
            out[stage] = {"p50_ms": round(float(np.percentile(arr, 50)), 3),
                          "p95_ms": round(float(np.percentile(arr, 95)), 3),
                          "mean_ms": round(float(arr.mean()), 3), "count": len(values)}
    return out
