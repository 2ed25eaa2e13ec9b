"""FramePipeline: capture -> preprocess -> encode on worker threads, joined by bounded queues.

Each stage runs on its own thread, so the preprocessing of frame t+1 overlaps the encoder on frame t
(onnxruntime, torch and Pillow release the GIL). Two policies:

- "every" (files): nothing is dropped; a full queue blocks the stage before it, down to the capture thread.
- "latest" (live sources): capture and preprocessing never block; when their queue is full the oldest
  waiting frame is dropped for the newest. The encoder starts a frame only when the consumer's queue has
  room, and then takes the freshest preprocessed one: no encoder work is wasted on frames nobody takes,
  and a slow consumer still gets recent frames (latency bounded by the queues, not by the backlog).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from ..runtime.base import SamBackend
from .sources import Frame, FrameSource, log_stderr

POLICIES = ("every", "latest")
STAGES = ("capture", "preprocess", "encode")


@dataclass
class EncodedFrame:
    """A frame with its image embedding, handed to the consumer in source order.

    embedding: 1x256xgxg (1x128x16x16 for the demo model), the output of backend.encode, left on the
    backend's device. original_size: (H, W) of frame.image. input_size: (h, w) of the image in the prompt
    frame, max(h, w) == backend.image_size (the encoder's own input may be smaller). timings (seconds):
    "read" (source.read), "preprocess", "encode", "queue" (time spent waiting between capture and delivery).
    dropped_before: frames dropped by the "latest" policy between the previous delivered frame and this one.
    """

    frame: Frame
    embedding: Any
    original_size: tuple[int, int]
    input_size: tuple[int, int]
    timings: dict[str, float]
    dropped_before: int = 0


@dataclass(eq=False)
class _Item:
    """A frame on its way through the stages; `data` is the preprocessed input, then the embedding."""

    frame: Frame
    dropped: int = 0
    data: Any = None
    input_size: tuple[int, int] = (0, 0)
    timings: dict[str, float] = field(default_factory=dict)


_END = object()  # the stage before has finished: no more items will come
_CANCELLED = object()  # close() cancelled the pipeline: stop at once


class _Channel:
    """A bounded FIFO between two stages that can be finished (drain, then end) or cancelled (stop now)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.peak = 0  # most items ever waiting at once
        self._items: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._finished = False
        self._cancelled = False
        self._waiting_puts = 0  # puts that began before finish() still go in

    def put(self, item: _Item) -> bool:
        """Append, blocking while full; False (item discarded) if the channel was finished before the call,
        or is cancelled."""
        with self._cond:
            if self._finished or self._cancelled:
                return False
            self._waiting_puts += 1
            try:
                while len(self._items) >= self.maxsize and not self._cancelled:
                    self._cond.wait()
            finally:
                self._waiting_puts -= 1
            if self._cancelled:
                return False
            self._append(item)
            return True

    def put_latest(self, item: _Item) -> tuple[bool, bool]:
        """Append without blocking: when full, drop the oldest item; its drop count moves to the item that
        now follows it. Returns (accepted, dropped one)."""
        with self._cond:
            if self._finished or self._cancelled:
                return False, False
            dropped = None
            if len(self._items) >= self.maxsize:
                dropped = self._items.popleft()
                successor = self._items[0] if self._items else item
                successor.dropped += dropped.dropped + 1
            self._append(item)
            return True, dropped is not None

    def wait_for_room(self) -> bool:
        """Block until an item fits; False once the channel is finished or cancelled."""
        with self._cond:
            while len(self._items) >= self.maxsize and not (self._finished or self._cancelled):
                self._cond.wait()
            return not (self._finished or self._cancelled)

    def get(self, poll: float | None = None) -> Any:
        """The next item, _END once finished and empty, or _CANCELLED. `poll` bounds each wait (seconds)."""
        with self._cond:
            while not self._items and not self._cancelled and not (self._finished and not self._waiting_puts):
                self._cond.wait(poll)
            if self._cancelled:
                return _CANCELLED
            if not self._items:
                return _END
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def finish(self) -> None:
        with self._cond:
            self._finished = True
            self._cond.notify_all()

    def cancel(self) -> None:
        with self._cond:
            self._cancelled = True
            self._items.clear()
            self._cond.notify_all()

    def unbound(self) -> None:
        with self._cond:
            self.maxsize = 1 << 30
            self._cond.notify_all()

    def _append(self, item: _Item) -> None:
        self._items.append(item)
        self.peak = max(self.peak, len(self._items))
        self._cond.notify_all()


class FramePipeline:
    """Reads `source` and encodes every frame it keeps with `backend` on three worker threads.

    Iterate to get EncodedFrame objects in source order; an exception of a worker (the source, the
    preprocessing or the encoder) is raised from the iteration after the frames before it. The threads
    start at construction; the caller keeps ownership of `source` (close it after the pipeline).

    policy: "every" (default for files) or "latest" (default for live sources). queue_size: capacity of
    each of the three queues (capture -> preprocess -> encode -> consumer). "every": with a slow consumer
    at most 3 * queue_size + 3 captured frames wait behind the one being consumed. "latest": a delivered
    frame is the freshest one preprocessed when the encoder last had room, so with a slow consumer it is
    about queue_size consumer periods old; queue_size=1 gives the lowest latency.
    """

    def __init__(self, backend: SamBackend, source: FrameSource, policy: str | None = None,
                 queue_size: int = 2, log: Callable[[str], None] = log_stderr) -> None:
        policy = policy or ("latest" if source.live else "every")
        if policy not in POLICIES:
            raise InputError(f"unknown frame policy {policy!r}; use 'every' (files) or 'latest' (live sources)")
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise InputError(f"queue_size must be a positive integer, got {queue_size!r}")
        self.backend = backend
        self.source = source
        self.policy = policy
        self.queue_size = queue_size
        self.log = log
        self._channels = tuple(_Channel(queue_size) for _ in STAGES)
        self._stop_capture = threading.Event()
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._closed = False
        self._counts = dict.fromkeys(("frames_read", "frames_preprocessed", "frames_encoded", "frames_delivered"), 0)
        self._dropped = [0, 0]  # by the capture and the preprocess thread ("latest" only)
        cap, pre, out = self._channels
        targets = (self._capture, lambda: self._stage(1, cap, pre, self._preprocess),
                   lambda: self._stage(2, pre, out, self._encode))
        self.threads = tuple(threading.Thread(target=target, name=f"sam-trt-{stage}", daemon=True)
                             for stage, target in zip(STAGES, targets))
        for thread in self.threads:
            thread.start()

    # -- consumer side -------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[EncodedFrame]:
        """EncodedFrame objects in source order until the source ends or the pipeline is closed."""
        out = self._channels[-1]
        while (item := out.get(poll=0.2)) is not _END and item is not _CANCELLED:
            waited = time.perf_counter() - item.frame.captured_at
            item.timings["queue"] = max(0.0, waited - item.timings["preprocess"] - item.timings["encode"])
            self._counts["frames_delivered"] += 1
            image = item.frame.image
            yield EncodedFrame(item.frame, item.data, (image.shape[0], image.shape[1]), item.input_size,
                               item.timings, item.dropped)
        if item is _END and self._error is not None:
            raise self._error

    @property
    def stats(self) -> dict[str, Any]:
        """Counts so far: frames_read, frames_preprocessed (entered the encoder's queue), frames_encoded,
        frames_delivered, frames_dropped (total) and dropped_at (by the "capture" and "preprocess" queues),
        and queue_peaks (the most frames that ever waited in each queue, named by the stage filling it)."""
        dropped_at = dict(zip(STAGES[:2], self._dropped))
        return {**self._counts, "frames_dropped": sum(self._dropped), "dropped_at": dropped_at,
                "queue_peaks": {s: c.peak for s, c in zip(STAGES, self._channels)}}

    @property
    def running(self) -> bool:
        """True while any worker thread is alive."""
        return any(thread.is_alive() for thread in self.threads)

    def close(self, drain: bool = False, timeout: float = 30.0) -> None:
        """Stop capturing and join the threads; idempotent.

        drain=False cancels: frames in flight are discarded and the iteration ends at once. drain=True
        finishes the frames already captured; they stay available to the iteration after close.
        `timeout` bounds the wait (seconds); a source blocked in read() longer than that is left behind
        (the threads are daemons) and reported through `log`.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop_capture.set()
        deadline = time.monotonic() + timeout
        cap, pre, out = self._channels
        if drain:
            out.unbound()  # nobody may be reading: let the encoder finish regardless
            cap.finish()  # no new frames (a read still blocked is not waited for); captured ones go on
            for thread in self.threads[1:]:
                thread.join(max(0.0, deadline - time.monotonic()))
            if any(thread.is_alive() for thread in self.threads[1:]):
                cap.cancel()
                pre.cancel()
        else:
            for channel in self._channels:
                channel.cancel()
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [thread.name for thread in self.threads if thread.is_alive()]
        if stuck:
            self.log(f"frame pipeline: {', '.join(stuck)} still busy after {timeout:g} s "
                     f"({self.source.description} or the backend is blocked); leaving it behind")

    def __enter__(self) -> FramePipeline:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- workers -------------------------------------------------------------------------------------

    def _capture(self) -> None:
        channel = self._channels[0]
        try:
            frames = self.source.frames()
            while not self._stop_capture.is_set():
                start = time.perf_counter()
                frame = next(frames, None)
                if frame is None:
                    break
                self._counts["frames_read"] += 1
                item = _Item(frame, timings={"read": frame.captured_at - start})
                if not self._put(0, item):
                    break
            channel.finish()
        except BaseException as exc:
            self._fail(0, exc)

    def _stage(self, index: int, inbox: _Channel, outbox: _Channel, work: Callable[[_Item], None]) -> None:
        # "latest": the encoder waits for room first, then takes the freshest preprocessed frame.
        demand = self.policy == "latest" and index == len(STAGES) - 1
        try:
            while not demand or outbox.wait_for_room():
                item = inbox.get()
                if item is _END or item is _CANCELLED:
                    break
                work(item)
                if not self._put(index, item):
                    break
            outbox.finish()
        except BaseException as exc:
            self._fail(index, exc)

    def _put(self, index: int, item: _Item) -> bool:
        """Hand `item` to channel `index`: blocking, or ("latest", before the encoder) replacing the oldest."""
        channel = self._channels[index]
        if self.policy == "latest" and index < len(STAGES) - 1:
            accepted, dropped = channel.put_latest(item)
            self._dropped[index] += dropped
        else:
            accepted = channel.put(item)
        if accepted and index == 1:
            self._counts["frames_preprocessed"] += 1
        return accepted

    def _preprocess(self, item: _Item) -> None:
        start = time.perf_counter()
        item.data, item.input_size = self.backend.preprocess(item.frame.image)
        item.timings["preprocess"] = time.perf_counter() - start

    def _encode(self, item: _Item) -> None:
        start = time.perf_counter()
        item.data = self.backend.encode(item.data)
        item.timings["encode"] = time.perf_counter() - start
        self._counts["frames_encoded"] += 1

    def _fail(self, stage: int, exc: BaseException) -> None:
        """Stage `stage` raised: stop everything upstream, let the frames downstream reach the consumer,
        who then gets `exc`."""
        with self._lock:
            if self._error is None:
                self._error = exc
        self._stop_capture.set()
        for channel in self._channels[:stage]:
            channel.cancel()
        self._channels[stage].finish()
