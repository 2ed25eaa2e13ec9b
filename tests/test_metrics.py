"""Metric functions against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from sam_trt.metrics import area_bucket, farthest_from_boundary, mask_iou, mask_to_box


def test_mask_iou_hand_computed():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[0:2, 0:2] = True  # 4 px
    b[1:3, 1:3] = True  # 4 px, overlap 1
    assert mask_iou(a, b) == pytest.approx(1 / 7)
    assert mask_iou(a, a) == 1.0
    assert mask_iou(np.zeros((2, 2), bool), np.zeros((2, 2), bool)) == 1.0  # both empty
    stack = mask_iou(np.stack([a, b]), b)
    np.testing.assert_allclose(stack, [1 / 7, 1.0])


def test_area_buckets():
    assert area_bucket(32 * 32 - 1) == "small"
    assert area_bucket(32 * 32) == "medium"
    assert area_bucket(96 * 96) == "medium"
    assert area_bucket(96 * 96 + 1) == "large"


def test_farthest_point_is_the_centre_of_a_square_and_avoids_the_border():
    mask = np.zeros((21, 31), bool)
    mask[5:16, 10:21] = True  # 11x11 square centred at (15, 10)
    assert farthest_from_boundary(mask) == (15.0, 10.0)
    edge = np.zeros((10, 10), bool)
    edge[:, :5] = True  # touches the left image border: the border is a boundary too
    x, _ = farthest_from_boundary(edge)
    assert x == 2.0
    ring = np.zeros((41, 41), bool)
    ring[5:36, 5:36] = True
    ring[15:26, 15:26] = False  # a hole: the farthest point lies in the ring, not in the hole
    x, y = farthest_from_boundary(ring)
    assert ring[int(y), int(x)]
    with pytest.raises(ValueError):
        farthest_from_boundary(np.zeros((3, 3), bool))


def test_mask_to_box():
    mask = np.zeros((10, 12), bool)
    mask[2:5, 3:9] = True
    np.testing.assert_array_equal(mask_to_box(mask), [3, 2, 9, 5])
