"""Resizing on the backend's device (torch antialiased bilinear, here on the CPU) gives the masks of the
reference Pillow path: per-mask IoU >= 0.99 with the demo model on generated scenes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sam_trt.data.scenes import generate_scene
from sam_trt.metrics import farthest_from_boundary
from sam_trt.predictor import SamPredictor
from sam_trt.runtime.loader import load_backend
from sam_trt.transforms import ResizeLongestSide

from .conftest import mask_iou


@pytest.fixture(scope="module")
def backends():
    reference = load_backend("demo", backend="torch")
    device = load_backend("demo", backend="torch", device_preprocess=True)
    assert not reference.device_preprocess, "on the CPU the default stays the Pillow-exact host path"
    return reference, device


@pytest.mark.parametrize("size,seed", [((480, 640), 1), ((300, 97), 2), ((150, 200), 3), ((256, 256), 4)])
def test_device_resize_matches_pillow(backends, size, seed):
    _, device = backends
    image = generate_scene(seed, size=size).image
    resized, (h, w) = device.preprocess(image)
    reference = ResizeLongestSide(256).apply_image(image)
    assert isinstance(resized, torch.Tensor) and resized.dtype == torch.uint8
    assert resized.shape == (1, 3, *reference.shape[:2]) and (h, w) == reference.shape[:2]
    diff = np.abs(resized[0].permute(1, 2, 0).numpy().astype(int) - reference.astype(int))
    assert diff.mean() < 0.5 and diff.max() <= 8


@pytest.mark.parametrize("size,seed", [((480, 640), 11), ((720, 540), 12), ((180, 240), 13)])
def test_masks_match_the_pillow_path(backends, size, seed):
    reference, device = backends
    scene = generate_scene(seed, size=size, num_objects=(4, 7))
    assert len(scene.masks), "the scene has objects"
    ref_predictor, dev_predictor = SamPredictor(reference), SamPredictor(device)
    ref_predictor.set_image(scene.image)
    dev_predictor.set_image(scene.image)
    assert dev_predictor.input_size == ref_predictor.input_size
    for mask in scene.masks:
        point = np.array([farthest_from_boundary(mask)], np.float32)
        for multimask in (False, True):
            ref_masks, _, _ = ref_predictor.predict(point, np.array([1]), multimask_output=multimask)
            dev_masks, _, _ = dev_predictor.predict(point, np.array([1]), multimask_output=multimask)
            assert mask_iou(dev_masks, ref_masks).min() >= 0.99
