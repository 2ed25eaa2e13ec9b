"""Bad input to the predictor gets a clear one-line error (never a bare traceback from deep inside)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sam_trt import ImageNotSetError, InputError, SamPredictor
from sam_trt.modeling import build_sam_from_config

from .conftest import SMALL_256


@pytest.fixture(scope="module")
def predictor():
    p = SamPredictor(build_sam_from_config(SMALL_256))
    p.set_image(np.zeros((60, 80, 3), np.uint8))
    return p


def test_predict_before_set_image():
    p = SamPredictor(build_sam_from_config(SMALL_256))
    with pytest.raises(ImageNotSetError, match="set_image"):
        p.predict(point_coords=np.array([[1, 1]]), point_labels=np.array([1]))
    with pytest.raises(RuntimeError):  # the official API raises RuntimeError here; stay catchable as such
        p.get_image_embedding()


@pytest.mark.parametrize(
    "image, fragment",
    [
        (np.zeros((10, 10), np.uint8), "HxWx3 uint8"),
        (np.zeros((10, 10, 4), np.uint8), "HxWx3 uint8"),
        (np.zeros((10, 10, 3), np.float32), "dtype float32"),
        (np.zeros((0, 10, 3), np.uint8), "HxWx3 uint8"),
        ([[1, 2, 3]], "numpy"),
    ],
)
def test_bad_images(predictor, image, fragment):
    with pytest.raises(InputError, match=fragment):
        predictor.set_image(image)


def test_bad_image_format(predictor):
    with pytest.raises(InputError, match="'RGB' or 'BGR'"):
        predictor.set_image(np.zeros((5, 5, 3), np.uint8), image_format="rgb")


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(point_coords=np.array([[1, 2], [3, 4]]), point_labels=np.array([1])), "one label per point"),
        (dict(point_coords=np.array([[1, 2]])), "point_labels must be supplied"),
        (dict(point_labels=np.array([1])), "without point_coords"),
        (dict(point_coords=np.array([[np.nan, 2]]), point_labels=np.array([1])), "NaN or infinite"),
        (dict(point_coords=np.array([[1, np.inf]]), point_labels=np.array([1])), "NaN or infinite"),
        (dict(point_coords=np.array([1, 2, 3]), point_labels=np.array([1])), "Nx2"),
        (dict(point_coords=np.array([[1, 2]]), point_labels=np.array([7])), "not one of"),
        (dict(point_coords=np.array([[81, 2]]), point_labels=np.array([1])), "outside the 80x60 image"),
        (dict(point_coords=np.array([[5, -1]]), point_labels=np.array([1])), "outside the 80x60 image"),
        (dict(box=np.array([50, 10, 20, 40])), "x1 < x0"),
        (dict(box=np.array([10, 40, 20, 30])), "y1 < y0"),
        (dict(box=np.array([10, 10, 20])), "XYXY"),
        (dict(box=np.array([10, 10, 90, 20])), "outside"),
        (dict(box=np.array([0, 0, 10, 10]), mask_input=np.zeros((1, 256, 256))), "1x64x64 low-res logits"),
        (dict(box=np.array([0, 0, 10, 10]), mask_input=np.zeros((64, 64))), "got shape \\(64, 64\\)"),
    ],
)
def test_bad_prompts(predictor, kwargs, fragment):
    with pytest.raises(InputError, match=fragment) as exc:
        predictor.predict(**kwargs)
    assert "\n" not in str(exc.value)


def test_edges_of_the_image_are_valid(predictor):
    masks, _, _ = predictor.predict(point_coords=np.array([[0, 0], [80, 60]]), point_labels=np.array([1, 0]))
    assert masks.shape == (3, 60, 80)


def test_predict_torch_batch_mismatch(predictor):
    with pytest.raises(InputError, match="one box per prompt"):
        predictor.predict_torch(torch.zeros(2, 1, 2), torch.ones(2, 1), boxes=torch.zeros(3, 4))
    with pytest.raises(InputError, match="BxNx2"):
        predictor.predict_torch(torch.zeros(1, 2), torch.ones(1))
    with pytest.raises(InputError, match="mask_input must be 2x1x64x64"):
        predictor.predict_torch(torch.zeros(2, 1, 2), torch.ones(2, 1), mask_input=torch.zeros(2, 64, 64))


def test_set_torch_image_checks_size(predictor):
    with pytest.raises(InputError, match="max\\(h, w\\) == 256"):
        predictor.set_torch_image(torch.zeros(1, 3, 100, 200), (100, 200))


def test_predictor_rejects_other_models():
    with pytest.raises(InputError, match="Sam model or a backend"):
        SamPredictor(torch.nn.Linear(2, 2))


def test_reset_image_keeps_sizes(predictor):
    p = SamPredictor(predictor.model)
    p.set_image(np.zeros((30, 40, 3), np.uint8))
    p.reset_image()
    assert not p.is_image_set and p.features is None and p.original_size == (30, 40)
