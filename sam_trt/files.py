"""File helpers: outputs appear whole or not at all (write to a temporary file, then rename); images are read
only after their header passed the pixel limit (a decompression bomb is refused before it is decoded)."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .errors import InputError

# Largest image read from a file: 2^28 pixels (16384 x 16384, 768 MiB as RGB uint8). Above any camera or photo
# (a 200 MP sensor is 2.0e8) and a quarter of OpenCV's own limit; SAM sees 1024 px anyway, so bigger images only
# cost memory. A PNG of a few KB can declare 60000 x 60000 (10 GB decoded): its header is checked first.
MAX_IMAGE_PIXELS_ENV = "SAM_TRT_MAX_IMAGE_PIXELS"
DEFAULT_MAX_IMAGE_PIXELS = 1 << 28


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


def read_image_rgb(path: str | Path, fix: str = "use PNG or JPEG") -> np.ndarray:
    """Read an image file as HxWx3 uint8 RGB, with a one-line error (ending in `fix`) when it cannot be read, and
    a refusal before decoding when its header declares more than max_image_pixels()."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image not found: {path}")
    check_image_pixels(path)
    try:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        if "CV_IO_MAX_IMAGE_PIXELS" in str(exc):  # OpenCV's own limit (2^30 unless set), under a raised ours
            raise InputError(f"{path} has more pixels than OpenCV decodes; downscale it, or raise OpenCV's limit "
                             "as well: OPENCV_IO_MAX_IMAGE_PIXELS=<pixels>") from None
        image = None
    if image is None:
        raise InputError(f"could not read {path} as an image (corrupt or unsupported format); {fix}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def max_image_pixels() -> int:
    """The pixel limit on images read from files: $SAM_TRT_MAX_IMAGE_PIXELS, else DEFAULT_MAX_IMAGE_PIXELS."""
    text = os.environ.get(MAX_IMAGE_PIXELS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_IMAGE_PIXELS
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise InputError(f"{MAX_IMAGE_PIXELS_ENV}={text!r} is not a pixel count; set it to a positive integer "
                         f"(default {DEFAULT_MAX_IMAGE_PIXELS}) or unset it")
    return value


def check_image_pixels(path: Path) -> None:
    """One-line InputError when the header of image `path` declares more pixels than max_image_pixels()."""
    limit = max_image_pixels()
    size, pixels = _header_size(path)
    if pixels is not None and pixels > limit:
        declared = f"{size[0]}x{size[1]} = {pixels}" if size else f"{pixels}"
        raise InputError(f"{path} declares {declared} pixels, over the limit of {limit} (a guard against "
                         f"decompression bombs); downscale it, or raise the limit: {MAX_IMAGE_PIXELS_ENV}={pixels}")


def _header_size(path: Path) -> tuple[tuple[int, int] | None, int | None]:
    """((W, H), W*H) from the header alone (Pillow's lazy open decodes nothing); (None, None) when Pillow cannot
    parse the file (OpenCV then reads it under its own limit)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as image:
                width, height = image.size
                return (width, height), width * height
        except Image.DecompressionBombError as exc:  # over Pillow's own limit: its message holds the count
            found = re.search(r"\((\d+) pixels\)", str(exc))
            return None, int(found.group(1)) if found else 2 * (Image.MAX_IMAGE_PIXELS or 0) + 1
        except (OSError, SyntaxError, ValueError):
            return None, None
