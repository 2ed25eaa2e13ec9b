"""FramePipeline with the ONNX Runtime backend on the demo model: ordering, drop policy, backpressure, shutdown.

No timed asserts: the tests wait on conditions (generous timeouts) and check structural bounds that hold
however slow the machine is.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from sam_trt.errors import InputError
from sam_trt.runtime.loader import load_backend
from sam_trt.video import EncodedFrame, FramePipeline, FrameSource, open_source

from .test_video_sources import write_clip

TIMEOUT = 60.0  # seconds; only reached when something is broken


@pytest.fixture(scope="module")
def backend():
    return load_backend("demo", backend="ort")


def wait_until(predicate, timeout: float = TIMEOUT) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.005)


def image_for(index: int, shape=(24, 32)) -> np.ndarray:
    return np.random.default_rng(index).integers(0, 256, (*shape, 3), dtype=np.uint8)


class ListSource(FrameSource):
    """`total` frames (HxWx3 random, seeded by index), counting reads; optionally raises at `fail_at`, or
    blocks each read until `gate` is set (for at most `block` seconds)."""

    description = "fake file"

    def __init__(self, total: int, shapes=((24, 32),), fail_at: int | None = None,
                 gate: threading.Event | None = None, block: float = 0.0, block_after: int = 0) -> None:
        self.total, self.shapes, self.fail_at, self.gate, self.block = total, shapes, fail_at, gate, block
        self.block_after = block_after
        self.reads = 0
        self.blocked = False  # inside a read that waits for the gate
        self.frame_count = total

    def read(self):
        if self.gate is not None and self.reads >= self.block_after:
            self.blocked = True
            self.gate.wait(self.block)
            self.blocked = False
        if self.reads == self.fail_at:
            raise RuntimeError("camera unplugged")
        if self.reads >= self.total:
            return None
        self.reads += 1
        return image_for(self.reads - 1, self.shapes[(self.reads - 1) % len(self.shapes)])


class LiveSource(FrameSource):
    """A live fake: `total` frames, one every `period` seconds, or (ticked=True) one per tick() of the test."""

    live = True
    description = "fake camera"

    def __init__(self, total: int, period: float = 0.002, ticked: bool = False) -> None:
        self.total, self.period, self.ticked = total, period, ticked
        self.reads = 0
        self.ticks = 0  # ticks given so far
        self.waiting = False  # ticked: the capture thread is inside read(), waiting for a tick
        self._ticks = threading.Semaphore(0)
        self._closed = threading.Event()

    def tick(self, n: int) -> None:
        self.ticks += n
        for _ in range(n):
            self._ticks.release()

    def settled(self) -> bool:
        """Every tick turned into a frame and the capture thread is back in read(): all frames are queued."""
        return self.reads == self.total or (self.waiting and self.reads == self.ticks)

    def read(self):
        if self.reads >= self.total or self._closed.is_set():
            return None
        if self.ticked:
            self.waiting = True
            while not self._ticks.acquire(timeout=0.05):
                if self._closed.is_set():
                    return None
            self.waiting = False
        else:
            time.sleep(self.period)
        self.reads += 1
        return image_for(self.reads - 1)

    def close(self) -> None:
        self._closed.set()


def upstream_settled(source: LiveSource, pipeline: FramePipeline) -> bool:
    """The source waits for a tick and every frame it gave was dropped or reached the encoder's queue."""
    stats = pipeline.stats
    return source.settled() and stats["frames_read"] == source.reads == (
        stats["dropped_at"]["capture"] + stats["frames_preprocessed"])


def check_timings(encoded: EncodedFrame) -> None:
    assert set(encoded.timings) == {"read", "preprocess", "encode", "queue"}
    assert all(value >= 0 for value in encoded.timings.values())


def test_every_policy_delivers_all_frames_in_order(backend):
    shapes = ((24, 32), (40, 20), (33, 33))  # per-frame sizes pass through
    source = ListSource(7, shapes)
    with FramePipeline(backend, source) as pipeline:
        assert pipeline.policy == "every"
        delivered = list(pipeline)
        stats = pipeline.stats
    assert not pipeline.running
    assert [e.frame.index for e in delivered] == list(range(7))
    assert stats["frames_read"] == stats["frames_encoded"] == stats["frames_delivered"] == 7
    assert stats["frames_dropped"] == 0
    for encoded in delivered:
        image = image_for(encoded.frame.index, shapes[encoded.frame.index % 3])
        assert np.array_equal(encoded.frame.image, image) and encoded.dropped_before == 0
        assert encoded.original_size == image.shape[:2]
        direct_input, input_size = backend.preprocess(image)
        assert encoded.input_size == input_size and max(input_size) == backend.image_size
        np.testing.assert_allclose(encoded.embedding, backend.encode(direct_input), rtol=1e-5, atol=1e-5)
        check_timings(encoded)
    assert all(a.frame.captured_at < b.frame.captured_at for a, b in zip(delivered, delivered[1:]))


def test_video_file_through_the_pipeline(backend, tmp_path):
    write_clip(tmp_path / "clip.avi", 5, size=(60, 80), fourcc="MJPG")
    with open_source(tmp_path / "clip.avi") as source:
        expected = [frame.image for frame in source.frames()]
    with open_source(tmp_path / "clip.avi") as source, FramePipeline(backend, source) as pipeline:
        delivered = list(pipeline)
    assert [e.frame.index for e in delivered] == list(range(5)) and pipeline.policy == "every"
    for encoded, image in zip(delivered, expected):
        assert np.array_equal(encoded.frame.image, image) and encoded.original_size == (60, 80)
        np.testing.assert_allclose(encoded.embedding, backend.encode(backend.preprocess(image)[0]),
                                   rtol=1e-5, atol=1e-5)


class HandshakeBackend:
    """Delegates to `backend`; encode(frame t) waits until preprocess(frame t+1) has started, so the test
    only passes when the two stages run concurrently."""

    def __init__(self, backend, overlapped: int) -> None:
        self.backend, self.overlapped = backend, overlapped
        self.preprocessed = threading.Semaphore(0)
        self.encoded = 0
        self.failed = False

    def preprocess(self, image):
        self.preprocessed.release()
        return self.backend.preprocess(image)

    def encode(self, images):
        if self.encoded < self.overlapped:  # wait for preprocess of this frame and of the next one
            got = self.preprocessed.acquire(timeout=TIMEOUT) and self.preprocessed.acquire(timeout=TIMEOUT)
            self.preprocessed.release()  # the next frame's preprocess counts again for its own encode
            self.failed |= not got
        self.encoded += 1
        return self.backend.encode(images)


def test_preprocess_of_next_frame_overlaps_encode(backend):
    handshake = HandshakeBackend(backend, overlapped=3)
    with FramePipeline(handshake, ListSource(5)) as pipeline:
        assert [e.frame.index for e in pipeline] == list(range(5))
    assert not handshake.failed


@pytest.mark.parametrize("queue_size", [1, 2])
def test_every_policy_backpressure_blocks_capture(backend, queue_size):
    source = ListSource(30)
    with FramePipeline(backend, source, queue_size=queue_size) as pipeline:
        frames = iter(pipeline)
        first = next(frames)
        # The consumer holds frame 0: each of the 3 queues fills, each worker holds one more frame.
        bound = 1 + 3 * queue_size + 3
        wait_until(lambda: source.reads >= bound)
        time.sleep(0.3)  # give a broken pipeline time to read on
        assert source.reads == bound
        rest = list(frames)
        stats = pipeline.stats
    assert [first.frame.index] + [e.frame.index for e in rest] == list(range(30))
    assert stats["frames_dropped"] == 0 and all(e.dropped_before == 0 for e in rest)
    assert max(stats["queue_peaks"].values()) == queue_size


def check_drop_accounting(delivered: list[EncodedFrame], stats: dict, total: int) -> None:
    indices = [e.frame.index for e in delivered]
    assert all(a < b for a, b in zip(indices, indices[1:]))
    assert [e.dropped_before for e in delivered] == [b - a - 1 for a, b in zip([-1] + indices, indices)]
    assert stats["frames_read"] == total == len(delivered) + stats["frames_dropped"]
    assert stats["frames_dropped"] == sum(e.dropped_before for e in delivered) > 0
    assert stats["frames_encoded"] == stats["frames_delivered"] == len(delivered)


def test_latest_policy_capture_never_blocks(backend):
    source = LiveSource(total=120, period=0.001)
    with FramePipeline(backend, source, queue_size=2) as pipeline:
        assert pipeline.policy == "latest"
        frames = iter(pipeline)
        delivered = [next(frames)]
        # While the consumer holds a frame, capture goes far beyond what the queues can hold.
        wait_until(lambda: source.reads >= 1 + 3 * 2 + 3 + 30)
        delivered += list(frames)
        stats = pipeline.stats
    check_drop_accounting(delivered, stats, 120)
    assert delivered[-1].frame.index == 119  # the newest frame is never the one dropped
    for encoded in delivered:
        check_timings(encoded)


@pytest.mark.parametrize("queue_size", [1, 2])
def test_latest_policy_delivers_recent_frames(backend, queue_size):
    """Bursts of 12 frames: however many frames came, the consumer reaches the newest one within what the
    queues hold (3 queues + the frames held by the 2 workers), so stale frames never pile up."""
    source = LiveSource(total=72, ticked=True)
    delivered: list[EncodedFrame] = []
    with FramePipeline(backend, source, queue_size=queue_size) as pipeline:
        try:
            frames = iter(pipeline)
            while source.reads < source.total:
                source.tick(12)
                wait_until(source.settled)
                newest, taken = source.reads - 1, 0
                while not delivered or delivered[-1].frame.index != newest:
                    delivered.append(next(frames))
                    taken += 1
                assert taken <= 3 * queue_size + 2
            delivered += list(frames)
            stats = pipeline.stats
        finally:
            source.close()
    check_drop_accounting(delivered, stats, 72)


@pytest.mark.parametrize("queue_size", [1, 2])
def test_latest_policy_slow_consumer_gets_recent_frames(backend, queue_size):
    """A consumer that takes one frame per 12 captured ones: meanwhile preprocessing keeps the encoder's
    queue fresh and the encoder starts the freshest frame once there is room, so a delivered frame lags
    the newest capture by about queue_size bursts. (A pipeline that dropped only at capture would stall
    the preprocessing behind stale frames: it never settles here, and its frames are 3 * queue_size + 1
    bursts old.)"""
    burst = 12
    source = LiveSource(total=burst * 8, ticked=True)
    delivered: list[EncodedFrame] = []
    with FramePipeline(backend, source, queue_size=queue_size) as pipeline:
        try:
            frames = iter(pipeline)
            while source.reads < source.total:
                for _ in range(burst):  # frame by frame, so that each one reaches the preprocessing
                    source.tick(1)
                    wait_until(lambda: upstream_settled(source, pipeline))
                delivered.append(next(frames))
                assert (source.reads - 1) - delivered[-1].frame.index <= queue_size * burst + 2 * queue_size
            delivered += list(frames)
            stats = pipeline.stats
        finally:
            source.close()
    check_drop_accounting(delivered, stats, burst * 8)


def test_close_cancels_mid_stream(backend):
    source = ListSource(10_000)
    pipeline = FramePipeline(backend, source)
    frames = iter(pipeline)
    for index, encoded in zip(range(2), frames):
        assert encoded.frame.index == index
    pipeline.close()
    assert not pipeline.running
    reads = source.reads
    assert list(frames) == [] and list(pipeline) == []
    time.sleep(0.1)
    assert source.reads == reads < 10_000


def test_close_after_consumer_stopped(backend):
    source = ListSource(10_000)
    with FramePipeline(backend, source, queue_size=1) as pipeline:
        for encoded in pipeline:
            if encoded.frame.index == 3:
                break
    assert not pipeline.running and source.reads < 10_000


def test_close_drain_finishes_captured_frames(backend):
    source = ListSource(10_000)
    pipeline = FramePipeline(backend, source, queue_size=2)
    frames = iter(pipeline)
    assert next(frames).frame.index == 0
    wait_until(lambda: source.reads >= 10)  # queues full, capture blocked (see the backpressure test)
    pipeline.close(drain=True)
    assert not pipeline.running
    rest = list(frames)
    assert [e.frame.index for e in rest] == list(range(1, source.reads))  # nothing captured is lost
    assert all(e.embedding.shape == (1, 128, 16, 16) for e in rest)
    pipeline.close()  # idempotent, also after a drain
    pipeline.close(drain=True)


def test_close_drain_does_not_wait_for_a_blocked_read(backend):
    gate = threading.Event()
    source = ListSource(10_000, gate=gate, block=TIMEOUT, block_after=3)  # 3 frames, then a stuck read
    messages: list[str] = []
    pipeline = FramePipeline(backend, source, queue_size=4, log=messages.append)
    wait_until(lambda: source.blocked)
    pipeline.close(drain=True, timeout=3.0)  # ample for 3 encodes; the stuck read is then left behind
    assert [e.frame.index for e in pipeline] == [0, 1, 2]  # the captured frames were finished
    assert [t.name for t in pipeline.threads if t.is_alive()] == ["sam-trt-capture"]
    assert len(messages) == 1 and "sam-trt-capture" in messages[0]
    gate.set()
    pipeline.threads[0].join(TIMEOUT)
    assert not pipeline.running and source.reads == 4


def test_close_with_briefly_blocking_source(backend):
    gate = threading.Event()
    source = ListSource(10_000, gate=gate, block=0.5)  # every read blocks 0.5 s
    pipeline = FramePipeline(backend, source)
    wait_until(lambda: source.reads >= 1)
    pipeline.close(timeout=TIMEOUT)
    assert not pipeline.running


def test_close_does_not_hang_on_a_stuck_source(backend):
    gate = threading.Event()
    source = ListSource(10_000, gate=gate, block=TIMEOUT)  # read blocks until the gate opens
    messages: list[str] = []
    pipeline = FramePipeline(backend, source, log=messages.append)
    start = time.monotonic()
    pipeline.close(timeout=0.5)
    assert time.monotonic() - start < TIMEOUT / 2  # returned, not stuck on the read
    assert pipeline.threads[0].is_alive() and not any(t.is_alive() for t in pipeline.threads[1:])
    assert len(messages) == 1 and "sam-trt-capture" in messages[0] and "fake file" in messages[0]
    gate.set()
    pipeline.threads[0].join(TIMEOUT)
    assert not pipeline.running and source.reads <= 1


@pytest.mark.parametrize("policy", ["every", "latest"])
def test_source_exception_reaches_consumer_after_earlier_frames(backend, policy):
    with FramePipeline(backend, ListSource(10, fail_at=3), policy=policy, queue_size=4) as pipeline:
        delivered = []
        with pytest.raises(RuntimeError, match="camera unplugged"):
            for encoded in pipeline:
                delivered.append(encoded.frame.index)
        assert delivered == [0, 1, 2]
    assert not pipeline.running


class FailingEncoder:
    def __init__(self, backend, fail_at: int) -> None:
        self.backend, self.fail_at, self.calls = backend, fail_at, 0

    def preprocess(self, image):
        return self.backend.preprocess(image)

    def encode(self, images):
        self.calls += 1
        if self.calls > self.fail_at:
            raise InputError("encoder exploded")
        return self.backend.encode(images)


def test_encoder_exception_reaches_consumer(backend):
    source = ListSource(10_000)
    delivered = []
    with FramePipeline(FailingEncoder(backend, fail_at=2), source) as pipeline:
        with pytest.raises(InputError, match="encoder exploded"):
            for encoded in pipeline:
                delivered.append(encoded.frame.index)
        wait_until(lambda: not pipeline.running)  # the error stopped capture without close()
    assert delivered == [0, 1] and source.reads < 10_000


def test_keyboard_interrupt_in_consumer_joins_threads(backend):
    with pytest.raises(KeyboardInterrupt), FramePipeline(backend, ListSource(10_000)) as pipeline:
        for _ in pipeline:
            raise KeyboardInterrupt
    assert not pipeline.running
    pipeline.close()


def test_policy_defaults_and_bad_options(backend):
    live = LiveSource(total=0)
    with FramePipeline(backend, live) as pipeline:
        assert pipeline.policy == "latest" and list(pipeline) == []
    with FramePipeline(backend, ListSource(0), policy="latest") as pipeline:
        assert pipeline.policy == "latest"
    with pytest.raises(InputError, match="policy"):
        FramePipeline(backend, ListSource(1), policy="newest")
    with pytest.raises(InputError, match="queue_size"):
        FramePipeline(backend, ListSource(1), queue_size=0)
