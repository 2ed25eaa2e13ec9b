"""Resize and coordinate transforms equal the reference; numpy and torch mask upscaling agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from segment_anything.utils.transforms import ResizeLongestSide as OfficialResize

from sam_trt.postprocess import select_masks, upscale_masks
from sam_trt.transforms import ResizeLongestSide

from .conftest import photo


@pytest.mark.parametrize(
    "old, new",
    [((1500, 2250), (683, 1024)), ((480, 640), (768, 1024)), ((720, 1280), (576, 1024)),
     ((1080, 1920), (576, 1024)), ((375, 500), (768, 1024))],
)
def test_preprocess_shape_examples(old, new):
    assert ResizeLongestSide.get_preprocess_shape(*old, 1024) == new


@pytest.mark.parametrize("size", [(720, 1280), (1500, 2250), (32, 48), (333, 101)])
def test_apply_image_is_bit_exact(size):
    image = photo("astronaut", size)
    ours, official = ResizeLongestSide(1024), OfficialResize(1024)
    np.testing.assert_array_equal(ours.apply_image(image), official.apply_image(image))
    coords = np.array([[0.0, 0.0], [size[1] / 3, size[0] / 7], [size[1], size[0]]])
    np.testing.assert_array_equal(ours.apply_coords(coords, size), official.apply_coords(coords, size))
    boxes = np.array([[1.0, 2.0, size[1] - 1, size[0] - 2]])
    np.testing.assert_array_equal(ours.apply_boxes(boxes, size), official.apply_boxes(boxes, size))
    t = torch.tensor(coords, dtype=torch.float64)
    assert torch.equal(ours.apply_coords_torch(t, size), official.apply_coords_torch(t, size))
    assert torch.equal(ours.apply_boxes_torch(torch.tensor(boxes), size),
                       official.apply_boxes_torch(torch.tensor(boxes), size))


def test_apply_image_torch_resizes_the_spatial_dims():
    """The official version sizes the output from (B, C) instead of (H, W), a bug we do not copy."""
    image = torch.rand(1, 3, 300, 500) * 255
    resized = ResizeLongestSide(256).apply_image_torch(image)
    assert resized.shape == (1, 3, 154, 256)
    expected = torch.nn.functional.interpolate(image, (154, 256), mode="bilinear", antialias=True)
    assert torch.equal(resized, expected)


@pytest.mark.parametrize(
    "image_size, input_size, original_size",
    [(1024, (576, 1024), (720, 1280)), (1024, (683, 1024), (1500, 2250)), (1024, (683, 1024), (32, 48)),
     (256, (256, 171), (300, 200))],
)
def test_numpy_upscale_matches_torch(image_size, input_size, original_size):
    rng = np.random.default_rng(0)
    low = image_size // 4
    logits = (rng.standard_normal((2, 3, low, low)) * 8).astype(np.float32)
    expected = upscale_masks(torch.from_numpy(logits), image_size, input_size, original_size).numpy()
    got = upscale_masks(logits, image_size, input_size, original_size)
    assert got.shape == expected.shape == (2, 3, *original_size)
    assert np.abs(got - expected).max() < 1e-3
    assert ((got > 0) == (expected > 0)).mean() > 0.9999


def test_numpy_upscale_of_more_masks_than_opencv_takes_channels():
    # 50 prompts x 3 masks = 150 planes: more than one cv2.resize call accepts (128 channels in OpenCV 5).
    logits = (np.random.default_rng(1).standard_normal((50, 3, 64, 64)) * 8).astype(np.float32)
    expected = upscale_masks(torch.from_numpy(logits), 256, (192, 256), (300, 400)).numpy()
    got = upscale_masks(logits, 256, (192, 256), (300, 400))
    assert np.abs(got - expected).max() < 1e-3


def test_select_masks():
    iou = np.arange(8).reshape(2, 4)
    low = np.arange(8).reshape(2, 4, 1, 1)
    s_iou, s_low = select_masks(iou, low, multimask_output=True)
    np.testing.assert_array_equal(s_iou, [[1, 2, 3], [5, 6, 7]])
    s_iou, s_low = select_masks(iou, low, multimask_output=False)
    np.testing.assert_array_equal(s_iou, [[0], [4]])
    assert s_low.shape == (2, 1, 1, 1)
