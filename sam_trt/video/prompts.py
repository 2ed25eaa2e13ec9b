"""Prompts for `sam-trt video`: objects with ids, each started (and optionally re-prompted) at keyframes.

The --prompts JSON file:

    {"objects": [
        {"id": 1, "keyframes": [{"frame": 0, "box": [x0, y0, x1, y1]},
                                {"frame": 30, "points": [[x, y], [x, y]], "labels": [1, 0]}]},
        {"id": 2, "box": [x0, y0, x1, y1]},
        {"points": [[x, y, 1]]}
    ]}

- Coordinates are pixels of the source frame (x right, y down); a box is XYXY.
- "id" (a positive integer, unique) is optional: objects without one get the next free id.
- "keyframes" lists prompts for frame indices (0-based); an object without "keyframes" gives its prompt
  ("box" / "points" / "labels") at the object level, meaning frame 0. At a keyframe the object restarts
  from that prompt; between keyframes it is tracked.
- "points" are [x, y] with "labels" (1 foreground, 0 background; default all 1), or [x, y, label].
- A keyframe needs a box or at least one foreground point.

On the command line each --box and each --point group starts one object on frame 0: a --box starts an
object, and the first positive --point right after it belongs to that object; any other positive --point
starts an object; a negative --point (x,y,0) joins the object before it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..prompts import check_boxes, check_in_image
from .tracker import Prompt

SCHEMA_HINT = ('{"objects": [{"id": 1, "keyframes": [{"frame": 0, "box": [x0, y0, x1, y1], '
               '"points": [[x, y], ...], "labels": [1, ...]}]}]}')


@dataclass
class ObjectPrompts:
    """One object: its id and its prompts by frame index."""

    object_id: int
    keyframes: dict[int, Prompt]


def read_prompts(path: str | Path) -> list[ObjectPrompts]:
    """Parse a --prompts JSON file (schema in the module docstring); one-line InputError when malformed."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"prompts file not found: {path}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path} is not valid JSON ({_short(exc)}); expected {SCHEMA_HINT}") from None
    try:
        return parse_prompts(data)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise InputError(f"{path} is not a valid prompts file ({_short(exc)}); expected {SCHEMA_HINT}") from None


def parse_prompts(data: Any) -> list[ObjectPrompts]:
    """The parsed JSON of a prompts file -> objects (ValueError/TypeError/KeyError when malformed)."""
    if not isinstance(data, dict) or not isinstance(data.get("objects"), list) or not data["objects"]:
        raise ValueError('the top level must be {"objects": [...]} with at least one object')
    taken = {int(o["id"]) for o in data["objects"] if isinstance(o, dict) and "id" in o}
    objects, next_id = [], 1
    for index, obj in enumerate(data["objects"]):
        if not isinstance(obj, dict):
            raise ValueError(f"object {index} is not a JSON object")
        if "id" in obj:
            object_id = obj["id"]
            if not isinstance(object_id, int) or isinstance(object_id, bool) or object_id < 1:
                raise ValueError(f"object {index}: id must be a positive integer, got {object_id!r}")
        else:
            while next_id in taken:
                next_id += 1
            object_id = next_id
            taken.add(object_id)
        if any(o.object_id == object_id for o in objects):
            raise ValueError(f"object id {object_id} appears twice")
        raw = obj.get("keyframes", [{**obj, "frame": 0}])
        if not isinstance(raw, list) or not raw:
            raise ValueError(f"object {object_id}: keyframes must be a non-empty list")
        keyframes = {}
        for key in raw:
            frame = key.get("frame", 0)
            if not isinstance(frame, int) or isinstance(frame, bool) or frame < 0:
                raise ValueError(f"object {object_id}: keyframe frame must be an integer >= 0, got {frame!r}")
            if frame in keyframes:
                raise ValueError(f"object {object_id}: two keyframes for frame {frame}")
            keyframes[frame] = _keyframe(key, f"object {object_id} frame {frame}")
        objects.append(ObjectPrompts(object_id, dict(sorted(keyframes.items()))))
    return objects


def _keyframe(key: dict, where: str) -> Prompt:
    box = key.get("box")
    if box is not None:
        box = [float(v) for v in box]
        if len(box) != 4 or not np.isfinite(box).all():
            raise ValueError(f"{where}: box must be 4 numbers x0, y0, x1, y1")
        try:
            check_boxes(box)
        except InputError as exc:
            raise ValueError(f"{where}: {exc}") from None
    raw_points = key.get("points", [])
    points = [[float(v) for v in p] for p in raw_points]
    if any(len(p) not in (2, 3) for p in points):
        raise ValueError(f"{where}: each point must be [x, y] or [x, y, label]")
    labels = key.get("labels")
    if labels is None:
        labels = [int(p[2]) if len(p) == 3 else 1 for p in points]
    labels = [int(v) for v in labels]
    if len(labels) != len(points) or any(v not in (0, 1) for v in labels):
        raise ValueError(f"{where}: labels must be one 1 (foreground) or 0 (background) per point")
    if box is None and 1 not in labels:
        raise ValueError(f"{where}: a prompt needs a box or at least one foreground point")
    return Prompt(np.array([p[:2] for p in points], np.float32).reshape(-1, 2), np.array(labels), box)


def objects_from_args(items: list[tuple[str, tuple]]) -> list[ObjectPrompts]:
    """Command-line prompts in their order, ("box", (x0, y0, x1, y1)) / ("point", (x, y, label)) -> objects
    1..N on frame 0 (grouping rules in the module docstring)."""
    groups: list[tuple[list, list, Any]] = []  # (points, labels, box)
    for kind, value in items:
        if kind == "box":
            groups.append(([], [], value))
            continue
        x, y, label = value
        joins_box = groups and groups[-1][2] is not None and 1 not in groups[-1][1]
        if groups and (joins_box or label == 0):
            groups[-1][0].append((x, y))  # the first positive point after a --box, or a negative point
            groups[-1][1].append(label)
        else:
            groups.append(([(x, y)], [label], None))
    objects = []
    for k, (pts, labels, box) in enumerate(groups, start=1):
        if box is None and 1 not in labels:
            raise InputError(f"object {k} has only background points; start it with a foreground --point x,y "
                             "or a --box")
        if box is not None:
            check_boxes(box)  # the predictor's check: XYXY with x0 <= x1 and y0 <= y1
        objects.append(ObjectPrompts(k, {0: Prompt(np.array(pts, np.float32).reshape(-1, 2), np.array(labels),
                                                   box)}))
    return objects


def check_in_frame(objects: list[ObjectPrompts], size: tuple[int, int]) -> None:
    """One-line InputError when a point or box corner lies outside an HxW frame."""
    for obj in objects:
        for frame, prompt in obj.keyframes.items():
            corners = prompt.points if prompt.box is None else np.vstack([prompt.points, prompt.box.reshape(2, 2)])
            check_in_image(corners, size, f"object {obj.object_id} frame {frame}: prompt", where="frame")


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:160]
