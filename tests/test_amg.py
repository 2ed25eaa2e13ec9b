"""Automatic mask generation: the building blocks against pycocotools, torchvision and the official helpers,
settings errors, and the demo model finding the objects of generated scenes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from sam_trt.amg import DEMO_AMG_SETTINGS, AmgSettingsError, SamAutomaticMaskGenerator, build_all_layer_point_grids
from sam_trt.amg.boxes import masks_to_boxes
from sam_trt.amg.crops import generate_crop_boxes, near_crop_edge
from sam_trt.amg.nms import box_nms
from sam_trt.amg.rle import area_from_rle, coco_encode_rles, masks_to_rle, rle_to_mask
from sam_trt.amg.small_regions import remove_small_regions
from sam_trt.amg.stability import stability_scores
from sam_trt.data.scenes import generate_scene, rng_for
from sam_trt.errors import SamTrtError
from sam_trt.runtime.loader import load_backend


def random_masks(n: int = 12, h: int = 37, w: int = 53, seed: int = 0) -> np.ndarray:
    """Blobby masks, plus an empty, a full, and a corner-pixel mask."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    masks = np.stack([(xx - rng.uniform(0, w)) ** 2 / rng.uniform(10, 400) + (yy - rng.uniform(0, h)) ** 2
                      / rng.uniform(10, 400) < 1 + rng.normal(0, 0.3, (h, w)) for _ in range(n)])
    masks[0] = False
    masks[1] = True
    masks[2] = False
    masks[2, 0, 0] = True
    return masks


def test_rle_round_trip_matches_pycocotools():
    masks = random_masks()
    rles = masks_to_rle(masks)
    for mask, rle, coco in zip(masks, rles, coco_encode_rles(rles)):
        assert rle["size"] == list(mask.shape) and rle["counts"][0] >= 0 and sum(rle["counts"]) == mask.size
        assert np.array_equal(rle_to_mask(rle), mask)
        assert np.array_equal(mask_utils.decode(coco).astype(bool), mask)
        assert coco["counts"] == mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"].decode()
        assert area_from_rle(rle) == int(mask.sum()) == int(mask_utils.area(coco))
    assert rles[1]["counts"][0] == 0  # a mask starting with a set pixel starts with an empty zero-run


def test_rle_and_boxes_match_official_helpers():
    from segment_anything.utils.amg import batched_mask_to_box, mask_to_rle_pytorch

    masks = random_masks(seed=1)
    assert masks_to_rle(masks) == mask_to_rle_pytorch(torch.as_tensor(masks))
    assert np.array_equal(masks_to_boxes(masks), batched_mask_to_box(torch.as_tensor(masks)).numpy())


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7, 1.0])
def test_nms_matches_torchvision(threshold):
    from torchvision.ops import batched_nms, nms

    rng = np.random.default_rng(int(threshold * 10))
    xy = rng.integers(0, 200, (400, 2))
    wh = rng.integers(0, 60, (400, 2))  # includes degenerate (zero-width) boxes
    boxes = np.concatenate([xy, xy + wh], axis=1)
    boxes[:20] = boxes[20:40]  # exact duplicates
    scores = rng.random(400).astype(np.float32)
    expected = batched_nms(torch.as_tensor(boxes).float(), torch.as_tensor(scores), torch.zeros(400), threshold)
    assert np.array_equal(box_nms(boxes, scores, threshold), expected.numpy())
    ties = np.floor(scores * 4).astype(np.float32)  # many equal scores: torchvision keeps index order
    assert np.array_equal(box_nms(boxes, ties, threshold),
                          nms(torch.as_tensor(boxes).float(), torch.as_tensor(ties), threshold).numpy())
    assert len(box_nms(np.zeros((0, 4)), np.zeros(0), threshold)) == 0


def test_crop_boxes_and_grids_match_reference():
    boxes, layers = generate_crop_boxes((1500, 2250), 1, 512 / 1500)
    assert boxes == [[0, 0, 2250, 1500], [0, 0, 1381, 1006], [0, 494, 1381, 1500], [869, 0, 2250, 1006],
                     [869, 494, 2250, 1500]]
    assert layers == [0, 1, 1, 1, 1]
    from segment_anything.utils import amg as official

    for size, n, ratio in [((480, 640), 2, 0.34), ((333, 101), 3, 0.2), ((64, 64), 0, 0.5)]:
        assert generate_crop_boxes(size, n, ratio) == official.generate_crop_boxes(size, n, ratio)
    for ours, theirs in zip(build_all_layer_point_grids(7, 2, 2), official.build_all_layer_point_grids(7, 2, 2)):
        assert np.array_equal(ours, theirs)


def test_crop_edge_filter_and_stability_match_official():
    from segment_anything.utils import amg as official

    rng = np.random.default_rng(2)
    boxes = rng.integers(0, 300, (200, 4))
    for crop in ([0, 0, 300, 200], [100, 50, 400, 250], [250, 0, 500, 200]):
        expected = official.is_box_near_crop_edge(torch.as_tensor(boxes), crop, [0, 0, 500, 250]).numpy()
        assert np.array_equal(near_crop_edge(boxes, crop, (250, 500)), expected)
    logits = rng.normal(0, 3, (6, 40, 50)).astype(np.float32)
    logits[0] = -5  # empty at both thresholds: NaN, as the reference
    expected = official.calculate_stability_score(torch.as_tensor(logits), 0.0, 1.0).numpy()
    for got in (stability_scores(logits, 0.0, 1.0), stability_scores(torch.as_tensor(logits), 0.0, 1.0)):
        assert got.dtype == np.float32 and np.isnan(got[0])
        assert np.array_equal(got[1:], expected[1:])


@pytest.mark.parametrize("mode", ["holes", "islands"])
def test_small_regions_match_official(mode):
    from segment_anything.utils.amg import remove_small_regions as official_remove

    for seed, mask in enumerate(random_masks(seed=3)):
        for area in (1, 5, 30):
            expected, changed = official_remove(mask, area, mode)
            got, got_changed = remove_small_regions(mask, area, mode)
            assert got_changed == changed and np.array_equal(got, expected), (seed, area)


@pytest.mark.parametrize("settings, message", [
    (dict(points_per_side=None), "Exactly one of points_per_side or point_grid"),
    (dict(point_grids=[np.zeros((4, 2))]), "Exactly one of points_per_side or point_grid"),
    (dict(output_mode="png"), "Unknown output_mode png."),
    (dict(points_per_side=None, point_grids=[np.full((4, 2), 0.5)], crop_n_layers=1), "crop_n_layers=1 needs 2"),
])
def test_invalid_settings_fail_like_the_official_assertions(settings, message):
    backend = load_backend("demo")
    with pytest.raises(AssertionError, match=message) as info:
        SamAutomaticMaskGenerator(backend, **settings)
    assert isinstance(info.value, SamTrtError) and "\n" not in str(info.value)
    with pytest.raises(AmgSettingsError):
        SamAutomaticMaskGenerator(backend, **settings)


def test_bad_image_is_a_one_line_error():
    generator = SamAutomaticMaskGenerator(load_backend("demo"), points_per_side=4)
    with pytest.raises(SamTrtError, match="HxWx3 uint8"):
        generator.generate(np.zeros((32, 32), np.uint8))


@pytest.fixture(scope="module")
def demo_scene_results():
    """The demo model (ONNX Runtime) with its documented settings on 12 generated scenes (train style)."""
    generator = SamAutomaticMaskGenerator(load_backend("demo"), output_mode="coco_rle", **DEMO_AMG_SETTINGS)
    scenes = [generate_scene(rng_for(7, i), size=(256, 256)) for i in range(12)]
    return scenes, [generator.generate(scene.image) for scene in scenes]


def test_demo_model_finds_most_objects(demo_scene_results):
    scenes, results = demo_scene_results
    found = total = 0
    for scene, records in zip(scenes, results):
        pred = np.stack([mask_utils.decode(r["segmentation"]) for r in records]).reshape(len(records), -1)
        gt = scene.masks.reshape(len(scene.masks), -1).astype(np.float32)
        inter = pred.astype(np.float32) @ gt.T
        iou = inter / (pred.sum(1)[:, None] + gt.sum(1)[None] - inter)
        found += int((iou.max(0) >= 0.5).sum())
        total += len(scene.masks)
    assert total >= 60 and found / total >= 0.8, f"recall {found / total:.3f} ({found}/{total})"


def test_demo_records_are_valid_coco(demo_scene_results):
    scenes, results = demo_scene_results
    for scene, records in zip(scenes, results):
        assert 3 <= len(records) <= 60
        for r in records:
            mask = mask_utils.decode(r["segmentation"]).astype(bool)
            assert mask.shape == scene.image.shape[:2] and r["area"] == int(mask.sum()) > 0
            ys, xs = np.nonzero(mask)
            assert r["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()]
            # The filters compare float32 scores with float32 thresholds, as the reference.
            assert np.float32(r["predicted_iou"]) > np.float32(DEMO_AMG_SETTINGS["pred_iou_thresh"])
            assert np.float32(r["stability_score"]) >= np.float32(DEMO_AMG_SETTINGS["stability_score_thresh"])
            assert r["crop_box"] == [0, 0, 256, 256] and len(r["point_coords"]) == 1


def test_default_thresholds_keep_little_for_the_demo_model(demo_scene_results):
    """Why the demo settings exist: the ViT-H defaults drop almost every demo mask."""
    scenes, _ = demo_scene_results
    generator = SamAutomaticMaskGenerator(load_backend("demo"), points_per_side=16)
    assert sum(len(generator.generate(s.image)) for s in scenes[:3]) <= 3
