"""SamAutomaticMaskGenerator against the official generator: same random weights, a real photo, every stage
(crop layer, NMS within and across crops, small-region removal, output modes) on the torch path and on the
numpy/cv2 path the ONNX Runtime and TensorRT backends take."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from sam_trt.amg import SamAutomaticMaskGenerator
from sam_trt.config import DEMO_CONFIG
from sam_trt.data.scenes import generate_scene, rng_for
from sam_trt.modeling import build_sam_from_config, sam_model_registry
from sam_trt.runtime.base import to_numpy
from sam_trt.runtime.torch_backend import TorchBackend

from .conftest import SMALL_256, mask_iou, photo
from .official_reference import build_official

# Random weights cannot pass the quality filters: they are off (0). Their masks are noisy and nearly all
# span the image, so box NMS would keep one: NMS thresholds of 1.0 keep every mask. The demo model (real,
# varied masks) checks the filters and NMS at work, on a generated scene.
RANDOM_CASES = {
    "crops_small_regions_coco": dict(points_per_side=6, pred_iou_thresh=0.0, stability_score_thresh=0.0,
                                     box_nms_thresh=1.0, crop_nms_thresh=1.0, crop_n_layers=1,
                                     min_mask_region_area=60, output_mode="coco_rle"),
    "uncompressed": dict(points_per_side=6, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0,
                         output_mode="uncompressed_rle"),
}
DEMO_CASE = dict(points_per_side=8, pred_iou_thresh=0.4, stability_score_thresh=0.7, crop_n_layers=1,
                 crop_n_points_downscale_factor=2, min_mask_region_area=20, output_mode="binary_mask")


class NumpyBackend(TorchBackend):
    """The torch backend returning numpy arrays, so the generator takes the ORT/TensorRT (cv2) path."""

    def encode(self, images):
        return to_numpy(super().encode(images))

    def decode(self, *args):
        return tuple(to_numpy(x) for x in super().decode(*args))


@pytest.fixture(scope="module")
def random_models():
    official = build_official(SMALL_256, seed=0)
    ours = build_sam_from_config(SMALL_256)
    ours.load_state_dict(official.state_dict())
    return official, ours


@pytest.fixture(scope="module")
def demo_models():
    ours = sam_model_registry["demo"]()
    official = build_official(DEMO_CONFIG, seed=0)
    official.load_state_dict(ours.state_dict())
    return official, ours


def as_masks(records: list[dict], mode: str) -> np.ndarray:
    if mode == "coco_rle":
        return np.stack([mask_utils.decode(r["segmentation"]) for r in records]).astype(bool)
    if mode == "uncompressed_rle":
        h, w = records[0]["segmentation"]["size"]
        return np.stack([mask_utils.decode(mask_utils.frPyObjects(r["segmentation"], h, w))
                         for r in records]).astype(bool)
    return np.stack([r["segmentation"] for r in records])


def official_records(model: torch.nn.Module, settings: dict, image: np.ndarray) -> list[dict]:
    from segment_anything import SamAutomaticMaskGenerator as OfficialGenerator

    with torch.no_grad():
        return OfficialGenerator(model, **settings).generate(image)


def assert_same_records(expected: list[dict], got: list[dict], mode: str, image: np.ndarray) -> None:
    assert len(got) == len(expected)
    ious = mask_iou(as_masks(expected, mode), as_masks(got, mode))
    assert ious.min() >= 0.98, ious
    assert ious.mean() >= 0.999
    for e, g in zip(expected, got):  # same order: same clicks, crops, scores
        assert set(g) == set(e)
        assert g["point_coords"] == e["point_coords"]
        assert g["crop_box"] == [int(v) for v in e["crop_box"]]
        assert abs(g["predicted_iou"] - e["predicted_iou"]) < 1e-3
        assert abs(g["stability_score"] - e["stability_score"]) < 0.02
        assert np.abs(np.subtract(g["bbox"], e["bbox"])).max() <= 2
        assert abs(g["area"] - e["area"]) <= 0.02 * max(e["area"], 50)
        assert isinstance(g["area"], int) and all(isinstance(v, int) for v in g["bbox"] + g["crop_box"])
    if mode == "binary_mask":
        assert got[0]["segmentation"].shape == image.shape[:2] and got[0]["segmentation"].dtype == bool


def backend_for(model: torch.nn.Module, path: str) -> TorchBackend:
    return TorchBackend(model) if path == "torch" else NumpyBackend(model)


@pytest.fixture(scope="module")
def random_expected(random_models):
    """The official records of every random-weight case (computed once for both paths)."""
    image = photo("astronaut", (192, 256))
    return image, {case: official_records(random_models[0], settings, image)
                   for case, settings in RANDOM_CASES.items()}


@pytest.mark.parametrize("case", list(RANDOM_CASES))
@pytest.mark.parametrize("path", ["torch", "numpy"])
def test_random_weights_match_official_on_a_photo(random_models, random_expected, case, path):
    our_model, settings = random_models[1], RANDOM_CASES[case]
    image, expected = random_expected[0], random_expected[1][case]
    got = SamAutomaticMaskGenerator(backend_for(our_model, path), **settings).generate(image)
    assert len(expected) > 50
    assert_same_records(expected, got, settings["output_mode"], image)


@pytest.fixture(scope="module")
def demo_expected(demo_models):
    image = generate_scene(rng_for(3, 0), size=(240, 320)).image
    return image, official_records(demo_models[0], DEMO_CASE, image)


@pytest.mark.parametrize("path", ["torch", "numpy"])
def test_demo_model_matches_official_with_filters_and_nms(demo_models, demo_expected, path):
    image, expected = demo_expected
    got = SamAutomaticMaskGenerator(backend_for(demo_models[1], path), **DEMO_CASE).generate(image)
    assert len(expected) >= 5 and len({tuple(r["crop_box"]) for r in expected}) >= 2  # masks from 2+ crops
    assert_same_records(expected, got, DEMO_CASE["output_mode"], image)
