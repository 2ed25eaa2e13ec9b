"""`sam-trt video --show`: a live OpenCV window over the tracking.

Left click adds an object at the click (and selects it); right click adds a negative point to the selected
object; `r` removes every object; `q` (or Esc, or closing the window) quits.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ..errors import InputError
from .sinks import draw_frame
from .tracker import Prompt, Tracker, TrackResult

TITLE = "sam-trt video (click: add object, right-click: negative point, r: reset, q: quit)"


class ShowWindow:
    """The window; `handle` draws one frame, applies the clicks and keys since the last one, and returns
    False when the user quits."""

    def __init__(self, title: str = TITLE) -> None:
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE)
            cv2.setMouseCallback(title, self._on_mouse)
        except cv2.error:
            raise InputError("--show needs OpenCV with GUI support and a display (this OpenCV is headless, or "
                             "there is no display); install opencv-python instead of opencv-python-headless, "
                             "or drop --show") from None
        self.events: list[tuple[str, float, float]] = []
        self.selected: int | None = None
        self.open = True

    def _on_mouse(self, event: int, x: int, y: int, flags: int, param: Any) -> None:
        if event == cv2.EVENT_LBUTTONDOWN:
            self.events.append(("add", float(x), float(y)))
        elif event == cv2.EVENT_RBUTTONDOWN:
            self.events.append(("negative", float(x), float(y)))

    def handle(self, image: np.ndarray, results: list[TrackResult], tracker: Tracker) -> bool:
        """Show `image` with `results`; apply pending clicks / keys to `tracker` (from the next frame on)."""
        if not self.open:
            return False
        picture = draw_frame(image, results, "" if self.selected is None else f"selected: id {self.selected}")
        cv2.imshow(self.title, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
        key = cv2.waitKey(1) & 0xFF
        apply_events(self, tracker)
        if key == ord("r"):
            tracker.reset()
            self.selected = None
        closed = cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        if key in (ord("q"), 27) or closed:
            self.close()
            return False
        return True

    def close(self) -> None:
        if self.open:
            self.open = False
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)


def apply_events(window: Any, tracker: Tracker) -> None:
    """Apply `window.events` (("add" | "negative", x, y)) to the tracker and clear them; updates
    `window.selected` (a negative point with no object selected is ignored)."""
    for kind, x, y in window.events:
        if kind == "add":
            object_id = max(tracker.object_ids, default=0) + 1
            tracker.add(object_id, Prompt(np.array([[x, y]]), np.array([1])))
            window.selected = object_id
        elif window.selected in tracker.tracks:
            tracker.add_negative(window.selected, x, y)
    window.events = []
