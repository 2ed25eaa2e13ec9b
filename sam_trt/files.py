"""File helpers: outputs appear whole or not at all (write to a temporary file, then rename)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` (same suffix); rename it onto `path` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; give the file the usual mode
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_image(path: str | Path, image_rgb: np.ndarray) -> None:
    """Write an HxWx3 RGB (or HxW gray) uint8 image atomically; the format follows the suffix."""
    with atomic_path(path) as tmp:
        data = image_rgb[..., ::-1] if image_rgb.ndim == 3 else image_rgb
        if not cv2.imwrite(str(tmp), np.ascontiguousarray(data)):
            raise InputError(f"could not write image {path}; use a .png or .jpg name in a writable folder")


def read_image_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as HxWx3 uint8 RGB, with a one-line error when it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image not found: {path}")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"could not read {path} as an image (corrupt or unsupported format); use PNG or JPEG")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
