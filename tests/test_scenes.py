"""The synthetic scene generator: determinism, COCO output, video tracks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sam_trt.data import generate_scene, generate_video, rng_for, write_coco, write_video


@pytest.mark.parametrize("style", ["train", "alt"])
def test_scene_is_deterministic_per_seed(style: str) -> None:
    a = generate_scene(rng_for(3, 1), size=(96, 128), style=style)
    b = generate_scene(rng_for(3, 1), size=(96, 128), style=style)
    assert a.image.shape == (96, 128, 3) and a.image.dtype == np.uint8
    assert a.masks.shape[1:] == (96, 128) and a.masks.dtype == bool and len(a.masks) == len(a.shapes)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.masks, b.masks)
    c = generate_scene(rng_for(4, 1), size=(96, 128), style=style)
    assert not np.array_equal(a.image, c.image)


def test_masks_are_visible_parts() -> None:
    for i in range(5):
        scene = generate_scene(rng_for(0, i), size=(128, 128))
        assert len(scene.masks) > 0
        assert scene.masks.sum(axis=0).max() <= 1  # visible parts never overlap
        assert all(m.sum() >= 12 for m in scene.masks)


def test_styles_draw_different_shape_families() -> None:
    train = {s for i in range(10) for s in generate_scene(rng_for(0, i), size=(64, 64)).shapes}
    alt = {s for i in range(10) for s in generate_scene(rng_for(0, i), size=(64, 64), style="alt").shapes}
    assert alt - train  # shapes the training generator never draws
    with pytest.raises(ValueError):
        generate_scene(0, size=(64, 64), style="nope")


@pytest.mark.parametrize("image_format", ["png", "jpg"])
def test_coco_loads_with_pycocotools(tmp_path, image_format: str) -> None:
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    path = write_coco(tmp_path, num_images=3, seed=5, size=(80, 112), image_format=image_format)
    coco = COCO(str(path))
    assert sorted(coco.getImgIds()) == [1, 2, 3]
    for i in range(3):
        scene = generate_scene(rng_for(5, i), size=(80, 112))
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[i + 1]))
        assert len(anns) == len(scene.masks)
        img = coco.loadImgs([i + 1])[0]
        assert (tmp_path / "images" / img["file_name"]).is_file()
        for ann, mask in zip(anns, scene.masks):
            np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), mask)
            assert ann["iscrowd"] == 0 and ann["area"] == mask.sum()
            x, y, w, h = ann["bbox"]
            ys, xs = np.nonzero(mask)
            assert (x, y, w, h) == (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
            np.testing.assert_allclose(mask_utils.toBbox(ann["segmentation"]), ann["bbox"])


def test_video_tracks_are_stable(tmp_path) -> None:
    from pycocotools import mask as mask_utils

    video = generate_video(7, num_frames=12, size=(96, 128))
    again = generate_video(7, num_frames=12, size=(96, 128))
    np.testing.assert_array_equal(video.frames, again.frames)
    assert video.frames.shape == (12, 96, 128, 3)
    ids = set(video.shapes)
    assert all(set(m) <= ids for m in video.masks)
    # the same track keeps its shape family and moves smoothly: consecutive masks of an id overlap or touch
    for t in range(1, 12):
        for tid in set(video.masks[t]) & set(video.masks[t - 1]):
            a, b = video.masks[t - 1][tid], video.masks[t][tid]
            assert abs(int(a.sum()) - int(b.sum())) < 0.6 * max(a.sum(), b.sum()) + 60
    assert len(video.masks[0]) > len(video.masks[-1]) or any(len(m) < len(ids) for m in video.masks)

    path = write_video(tmp_path, seed=7, num_frames=12, size=(96, 128))
    data = json.loads(path.read_text())
    assert len(data["frames"]) == 12 and {t["track_id"] for t in data["tracks"]} == ids
    for frame, masks in zip(data["frames"], video.masks):
        assert (tmp_path / frame["file_name"]).is_file()
        assert [o["track_id"] for o in frame["objects"]] == sorted(masks)
        for obj in frame["objects"]:
            decoded = mask_utils.decode(obj["segmentation"]).astype(bool)
            np.testing.assert_array_equal(decoded, masks[obj["track_id"]])
    assert (tmp_path / "video.mp4").stat().st_size > 0


def test_data_cli_writes_coco(tmp_path) -> None:
    from sam_trt.data.__main__ import main

    assert main(["coco", str(tmp_path), "--num", "2", "--size", "64", "96", "--style", "alt"]) == 0
    data = json.loads((tmp_path / "annotations.json").read_text())
    assert len(data["images"]) == 2 and data["info"]["style"] == "alt"
