"""Frame sources: camera, video file, image folder or stream URL, read through OpenCV as RGB frames."""

from __future__ import annotations

import re
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import InputError
from ..files import read_image_rgb

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")
SOURCE_HINT = "give a camera index (0), a video file, an image folder or a stream URL (rtsp://...)"
OPEN_TIMEOUT_MS = 10_000  # live sources: how long OpenCV may wait to open / read before it reports a failure
READ_TIMEOUT_MS = 5_000
MAX_BACKOFF = 2.0  # seconds between reconnect attempts, at most


def log_stderr(message: str) -> None:
    """Default `log` of the sources: one line on stderr, so stdout stays free for results."""
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Frame:
    """One frame of a source.

    index: 0-based position in the source (live sources: count of frames read before this one).
    image: HxWx3 uint8 RGB. captured_at: time.perf_counter() right after the read returned.
    """

    index: int
    image: np.ndarray
    captured_at: float


class FrameSource(ABC):
    """A sequence of HxWx3 uint8 RGB frames; `read` returns None at the end. Context manager."""

    description: str = "source"
    live: bool = False
    fps: float | None = None
    frame_count: int | None = None

    @abstractmethod
    def read(self) -> np.ndarray | None:
        """The next HxWx3 uint8 RGB frame, or None when the source has ended."""

    def close(self) -> None:  # noqa: B027 (an optional hook: sources without resources need none)
        """Release the source; idempotent. A `read` after `close` returns None."""

    def frames(self) -> Iterator[Frame]:
        """Frame objects (index, RGB image, capture time) until the source ends."""
        index = 0
        while (image := self.read()) is not None:
            yield Frame(index, image, time.perf_counter())
            index += 1

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"


def open_source(spec: str | int | Path, width: int | None = None, height: int | None = None,
                fps: float | None = None, retries: int = 5, log: Callable[[str], None] = log_stderr,
                backoff: float = 0.5) -> FrameSource:
    """A source for `spec`: an int or "0".."99" (camera), an image folder (sorted, images only), a video
    file, or a stream URL (rtsp:// rtmp:// http(s):// udp:// ...).

    width/height/fps are requested from cameras (CAP_PROP_*); other sources keep their own size and rate.
    A live source that drops reconnects up to `retries` times (waiting `backoff`, doubling, at most 2 s)
    with a message through `log`, then ends. Missing, unreadable or empty sources raise InputError.
    """
    if isinstance(spec, bool) or not isinstance(spec, (str, int, Path)):
        raise InputError(f"video source must be a camera index, path or URL, got {type(spec).__name__}; "
                         f"{SOURCE_HINT}")
    text = str(spec).strip()
    if isinstance(spec, int) or re.fullmatch(r"\d{1,2}", text):
        props = _camera_props(width, height, fps)
        return CaptureSource(int(text), f"camera {int(text)}", live=True, props=props, retries=retries,
                             log=log, backoff=backoff)
    requested = [name for name, value in (("width", width), ("height", height), ("fps", fps)) if value]
    if text.lower().startswith(STREAM_SCHEMES):
        _ignored(requested, "stream URLs", log)
        return CaptureSource(text, _hide_password(text), live=True, retries=retries, log=log, backoff=backoff)
    path = Path(text).expanduser()
    if not path.exists():
        raise InputError(f"video source not found: {path}; {SOURCE_HINT}")
    if path.is_dir():
        _ignored(requested, "image folders", log)
        return ImageFolderSource(path)
    _ignored(requested, "video files", log)
    # A regular file is a video; anything else (e.g. /dev/video0) is a capture device.
    live = not path.is_file()
    return CaptureSource(str(path), path.name if not live else str(path), live=live, retries=retries, log=log,
                         backoff=backoff)


class ImageFolderSource(FrameSource):
    """The images of a folder in natural order ("frame2" before "frame10"); other files are ignored.

    Frames keep their own size (folders may mix sizes). An image that cannot be decoded, or whose header
    declares more pixels than the limit of files.read_image_rgb, raises InputError.
    """

    live = False

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        try:
            entries = list(self.folder.iterdir())
        except OSError as exc:
            raise InputError(f"cannot list image folder {self.folder} ({exc.strerror}); "
                             "check the path and its permissions") from None
        self.paths = sorted((p for p in entries if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()),
                            key=_natural_key)
        if not self.paths:
            raise InputError(f"image folder {self.folder} has no images ({', '.join(IMAGE_EXTENSIONS)}); "
                             "point --source at a folder of frames")
        self.frame_count = len(self.paths)
        self.description = f"{self.folder} ({self.frame_count} images)"
        self._next = 0

    def read(self) -> np.ndarray | None:
        if self._next >= len(self.paths):
            return None
        path = self.paths[self._next]
        self._next += 1
        return read_image_rgb(path, fix="remove it from the folder or convert it to PNG/JPEG")

    def close(self) -> None:
        self._next = len(self.paths)


class CaptureSource(FrameSource):
    """cv2.VideoCapture on a camera index, video file or stream URL.

    Files end at the first failed read. Live sources reconnect after a failed read: up to `retries`
    attempts, waiting `backoff` seconds (doubled each time, at most 2 s) before each, logging every
    attempt; `close()` interrupts the wait. `props` are CAP_PROP_* values set after every (re)open.
    """

    def __init__(self, target: int | str, description: str, live: bool, props: dict[int, float] | None = None,
                 retries: int = 5, log: Callable[[str], None] = log_stderr, backoff: float = 0.5) -> None:
        self.target = target
        self.live = live
        self.props = dict(props or {})
        self.retries = max(0, int(retries))
        self.backoff = max(0.0, float(backoff))
        self.log = log
        self._name = description
        self._lock = threading.Lock()  # read() runs on a capture thread, close() on the caller's
        self._closed = threading.Event()
        self._first: np.ndarray | None = None
        self._capture = _video_capture(target, live)
        if not self._capture.isOpened():
            self._capture.release()
            raise InputError(_open_failure(target, description, live))
        self._apply_props()
        fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0)
        self.fps = fps if fps > 0 else None
        if live:
            self.description = description + self._size_note()
            return
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if count > 0 else None
        self._first = self._grab()  # a file that opens but decodes nothing is as bad as a missing one
        if self._first is None:
            self._capture.release()
            raise InputError(f"{description} has no readable video frames (corrupt, empty or an unsupported "
                             "codec); re-encode it, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4")
        details = [f"{self.frame_count} frames" if self.frame_count else "", f"{self.fps:g} fps" if self.fps else ""]
        self.description = description + (f" ({', '.join(d for d in details if d)})" if any(details) else "")

    def read(self) -> np.ndarray | None:
        with self._lock:
            if self._closed.is_set():
                return None
            if self._first is not None:
                image, self._first = self._first, None
                return image
            image = self._grab()
            if image is not None or not self.live:
                return image
            return self._reconnect()

    def close(self) -> None:
        self._closed.set()  # wakes a reconnect wait at once
        with self._lock:
            self._capture.release()
            self._first = None

    def _grab(self) -> np.ndarray | None:
        ok, image = self._capture.read()
        if not ok or image is None:
            return None
        if image.ndim == 2:
            return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB if image.shape[2] == 4 else cv2.COLOR_BGR2RGB)

    def _reconnect(self) -> np.ndarray | None:
        """Reopen after a dropped live read; the first frame after a reconnect, or None after `retries`."""
        for attempt in range(1, self.retries + 1):
            wait = min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF)
            self.log(f"{self._name}: no frame (source dropped); reconnecting in {wait:.1f} s "
                     f"(attempt {attempt}/{self.retries})")
            if self._closed.wait(wait):
                return None
            self._capture.release()
            self._capture = _video_capture(self.target, self.live)
            if self._capture.isOpened():
                self._apply_props()
                image = self._grab()
                if image is not None:
                    self.log(f"{self._name}: reconnected")
                    return image
        self.log(f"{self._name}: gave up after {self.retries} reconnect attempts; ending the stream")
        self._closed.set()
        return None

    def _apply_props(self) -> None:
        for prop, value in self.props.items():
            self._capture.set(prop, value)

    def _size_note(self) -> str:
        w = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        h = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        wanted_w, wanted_h = self.props.get(cv2.CAP_PROP_FRAME_WIDTH), self.props.get(cv2.CAP_PROP_FRAME_HEIGHT)
        if (wanted_w and w and w != wanted_w) or (wanted_h and h and h != wanted_h):
            self.log(f"{self._name}: asked for {int(wanted_w or w)}x{int(wanted_h or h)}, the device gives {w}x{h}")
        parts = [f"{w}x{h}" if w and h else "", f"{self.fps:g} fps" if self.fps else ""]
        return f" ({', '.join(p for p in parts if p)})" if any(parts) else ""


class PacedSource(FrameSource):
    """A file or folder source played at `fps` as a live source: each read waits for the next frame time,
    as a camera would deliver it (the pipeline then applies the latest-frame policy)."""

    live = True
    frame_count = None

    def __init__(self, inner: Any, fps: float) -> None:
        self.inner, self.fps, self.period = inner, float(fps), 1.0 / float(fps)
        self.description = f"{inner.description} played live at {self.fps:g} fps"
        self._due: float | None = None

    def read(self) -> Any:
        now = time.perf_counter()
        self._due = now if self._due is None else max(self._due + self.period, now - self.period)
        if self._due > now:
            time.sleep(self._due - now)
        return self.inner.read()

    def close(self) -> None:
        self.inner.close()


def _video_capture(target: int | str, live: bool) -> Any:
    """Open a cv2.VideoCapture; live sources get open/read timeouts so a dead stream fails instead of hanging."""
    if live and isinstance(target, str):
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS]
        return cv2.VideoCapture(target, cv2.CAP_ANY, params)
    return cv2.VideoCapture(target)


def _open_failure(target: int | str, description: str, live: bool) -> str:
    if isinstance(target, int):
        return (f"could not open {description}; check that the camera is connected, not used by another "
                "program, and that the index is right (try 0, 1, ...)")
    if live:
        return f"could not open stream {description}; check the URL, the network and the credentials"
    return (f"could not open video {description} (not a video, corrupt, or a codec OpenCV lacks); "
            "re-encode it, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4, or pass a folder of images")


def _camera_props(width: int | None, height: int | None, fps: float | None) -> dict[int, float]:
    props = {cv2.CAP_PROP_FRAME_WIDTH: width, cv2.CAP_PROP_FRAME_HEIGHT: height, cv2.CAP_PROP_FPS: fps}
    for value in (width, height, fps):
        if value is not None and value <= 0:
            raise InputError(f"camera width, height and fps must be positive, got {value}; omit them to keep "
                             "the camera's defaults")
    return {prop: float(value) for prop, value in props.items() if value is not None}


def _ignored(requested: list[str], kind: str, log: Callable[[str], None]) -> None:
    if requested:
        log(f"{'/'.join(requested)} only apply to cameras; {kind} keep their own size and rate")


def _hide_password(url: str) -> str:
    """rtsp://user:secret@host/... -> rtsp://user:***@host/... (descriptions end up in logs and summaries)."""
    return re.sub(r"^([a-z]+://[^/:@]+):[^/@]*@", r"\1:***@", url, flags=re.IGNORECASE)


def _natural_key(path: Path) -> tuple[list[Any], str]:
    parts = [(0, int(part), "") if part.isdigit() else (1, 0, part.lower()) for part in re.split(r"(\d+)", path.name)]
    return parts, path.name
