"""Frame sources: video files, image folders, cameras and streams (OpenCV faked where no device exists)."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from sam_trt.errors import InputError
from sam_trt.video import Frame, open_source
from sam_trt.video import sources as sources_module
from sam_trt.video.sources import CaptureSource, ImageFolderSource

COLORS_RGB = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


def write_clip(path, num_frames: int, size=(48, 64), fps: float = 10.0, fourcc: str = "mp4v") -> None:
    """Frame i is a solid colour COLORS_RGB[i % 3] (written as BGR, as OpenCV expects)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (size[1], size[0]))
    assert writer.isOpened()
    for i in range(num_frames):
        writer.write(np.full((*size, 3), COLORS_RGB[i % 3][::-1], np.uint8))
    writer.release()


def assert_one_line(exc: pytest.ExceptionInfo, *needles: str) -> None:
    message = str(exc.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message


@pytest.mark.parametrize("suffix,fourcc", [(".mp4", "mp4v"), (".avi", "MJPG")])
def test_video_file_frames_in_order_as_rgb(tmp_path, suffix, fourcc):
    path = tmp_path / f"clip{suffix}"
    write_clip(path, 7, fourcc=fourcc)
    with open_source(str(path)) as source:
        assert not source.live and source.frame_count == 7 and source.fps == pytest.approx(10.0)
        assert "clip" in source.description and "7 frames" in source.description
        frames = list(source.frames())
        assert source.read() is None  # files end cleanly, and stay ended
    assert [f.index for f in frames] == list(range(7))
    assert all(isinstance(f, Frame) and f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8 for f in frames)
    for i, frame in enumerate(frames):  # RGB, not BGR: the dominant channel is the one written
        assert int(np.argmax(frame.image.reshape(-1, 3).mean(0))) == i % 3
    assert all(a.captured_at <= b.captured_at for a, b in zip(frames, frames[1:]))


def test_video_file_options_for_cameras_only_are_reported(tmp_path):
    path = tmp_path / "clip.mp4"
    write_clip(path, 2)
    messages = []
    with open_source(path, width=640, height=480, log=messages.append) as source:
        assert source.read().shape == (48, 64, 3)  # kept its own size
    assert len(messages) == 1 and "width/height only apply to cameras" in messages[0]


def test_image_folder_natural_order_images_only_any_size(tmp_path):
    sizes = {"frame10.png": (40, 30), "frame2.png": (20, 50), "frame1.bmp": (32, 32)}
    for value, (name, size) in enumerate(sorted(sizes.items())):
        cv2.imwrite(str(tmp_path / name), np.full((*size, 3), (value, 0, 200), np.uint8))  # BGR on disk
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub.png").mkdir()  # a folder with an image-like name is not a frame
    source = open_source(str(tmp_path))
    assert isinstance(source, ImageFolderSource) and source.frame_count == 3 and not source.live
    assert [p.name for p in source.paths] == ["frame1.bmp", "frame2.png", "frame10.png"]
    images = [source.read() for _ in range(3)]
    assert source.read() is None
    assert [im.shape[:2] for im in images] == [(32, 32), (20, 50), (40, 30)]
    assert all(im[0, 0, 0] == 200 and im[0, 0, 2] == value
               for im, value in zip(images, [0, 2, 1]))  # RGB: red = what was written as the last BGR channel


def test_missing_source(tmp_path):
    with pytest.raises(InputError) as exc:
        open_source(str(tmp_path / "nope.mp4"))
    assert_one_line(exc, "not found", "nope.mp4", "camera index")


def test_unreadable_video_file(tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"this is not a video" * 100)
    with pytest.raises(InputError) as exc:
        open_source(str(path))
    assert_one_line(exc, "broken.mp4", "re-encode")


@pytest.mark.parametrize("contents", [[], ["readme.txt"]])
def test_empty_image_folder(tmp_path, contents):
    for name in contents:
        (tmp_path / name).write_text("x")
    with pytest.raises(InputError) as exc:
        open_source(tmp_path)
    assert_one_line(exc, str(tmp_path), "no images")


def test_corrupt_image_in_folder(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "b.png").write_bytes(b"garbage")
    source = open_source(tmp_path)
    assert source.read().shape == (8, 8, 3)
    with pytest.raises(InputError) as exc:
        source.read()
    assert_one_line(exc, "b.png", "could not read")


class FakeCapture:
    """cv2.VideoCapture stand-in: `frames` BGR frames, then failed reads; records set() calls."""

    def __init__(self, frames: int, opened: bool = True) -> None:
        self.frames, self.opened, self.props, self.released = frames, opened, {}, False

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self.opened

    def read(self):
        if self.released or self.frames <= 0:
            return False, None
        self.frames -= 1
        return True, np.full((6, 8, 3), (0, 0, 255), np.uint8)  # pure red in BGR

    def set(self, prop, value) -> bool:
        self.props[prop] = value
        return True

    def get(self, prop) -> float:
        return {cv2.CAP_PROP_FPS: 25.0}.get(prop, self.props.get(prop, 0.0))

    def release(self) -> None:
        self.released = True


@pytest.fixture
def fake_captures(monkeypatch):
    """Replace OpenCV's capture: each (re)open pops the next FakeCapture of the returned list."""
    script: list[FakeCapture] = []
    opened: list[tuple] = []

    def video_capture(target, live):
        opened.append((target, live))
        return script.pop(0) if script else FakeCapture(0, opened=False)

    monkeypatch.setattr(sources_module, "_video_capture", video_capture)
    return script, opened


def test_camera_index_and_requested_size(fake_captures):
    script, opened = fake_captures
    script.append(FakeCapture(3))
    source = open_source("1", width=320, height=240, fps=15)
    assert opened == [(1, True)] and source.live and source.description.startswith("camera 1 (320x240")
    assert script == [] and source.read()[0, 0].tolist() == [255, 0, 0]  # BGR -> RGB
    capture = source._capture
    assert capture.props == {cv2.CAP_PROP_FRAME_WIDTH: 320.0, cv2.CAP_PROP_FRAME_HEIGHT: 240.0,
                             cv2.CAP_PROP_FPS: 15.0}
    source.close()
    assert capture.released and source.read() is None


def test_camera_that_does_not_open(fake_captures):
    with pytest.raises(InputError) as exc:
        open_source(7)
    assert_one_line(exc, "camera 7", "connected")


def test_live_stream_reconnects_then_gives_up(fake_captures):
    script, opened = fake_captures
    # 3 frames, drop; reopen fails; reopen gives 2 frames, drop; then every reopen fails.
    script.extend([FakeCapture(3), FakeCapture(5, opened=False), FakeCapture(2)])
    messages: list[str] = []
    source = open_source("rtsp://user:secret@cam.local/stream", retries=3, backoff=0, log=messages.append)
    assert source.live and "secret" not in source.description and "user:***@cam.local" in source.description
    images = [frame.image for frame in source.frames()]
    assert len(images) == 5 and all(im[0, 0].tolist() == [255, 0, 0] for im in images)
    assert source.read() is None  # ended for good
    reconnects = [m for m in messages if "reconnecting" in m]
    # first drop: attempt 1 fails to open, attempt 2 succeeds; second drop: 3 failed attempts, then give up
    assert [m.split("attempt ")[1] for m in reconnects] == ["1/3)", "2/3)", "1/3)", "2/3)", "3/3)"]
    assert sum("reconnected" in m for m in messages) == 1 and "gave up after 3" in messages[-1]
    assert all("secret" not in m for m in messages)
    assert len(opened) == 1 + 5 and all(target == "rtsp://user:secret@cam.local/stream" for target, _ in opened)


def test_close_interrupts_reconnect_wait(fake_captures):
    script, _ = fake_captures
    script.append(FakeCapture(0))
    source = CaptureSource("rtsp://cam/stream", "rtsp://cam/stream", live=True, retries=3, backoff=60,
                           log=lambda m: None)
    result = []
    reader = threading.Thread(target=lambda: result.append(source.read()))
    reader.start()
    source.close()  # the reader is waiting 60 s before its first reconnect: close wakes it
    reader.join(timeout=30)
    assert not reader.is_alive() and result == [None]


def test_bad_specs(tmp_path):
    with pytest.raises(InputError):
        open_source(1.5)
    with pytest.raises(InputError) as exc:
        open_source(0, width=-1)
    assert_one_line(exc, "positive")
