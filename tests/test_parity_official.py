"""Our model and predictor against the official segment-anything package on the same random weights."""

from __future__ import annotations

import pytest
import torch
from segment_anything import SamPredictor as OfficialPredictor
from segment_anything import sam_model_registry as official_registry

from sam_trt import SamPredictor, sam_model_registry

from .conftest import mask_iou, photo
from .parity import assert_same_outputs, check_prompt_matrix, prompt_matrix, relative_error

SIZES = [(720, 1280), (1500, 2250), (32, 48)]
PHOTOS = ["astronaut", "coffee", "chelsea"]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_predictor_matches_official(model_pair, size):
    official, ours = model_pair
    name = PHOTOS[SIZES.index(size)]
    image = photo(name, size)
    reference, predictor = OfficialPredictor(official), SamPredictor(ours)
    reference.set_image(image)
    predictor.set_image(image)
    assert predictor.input_size == reference.input_size and predictor.original_size == reference.original_size
    assert relative_error(predictor.get_image_embedding(), reference.get_image_embedding()) <= 1e-4

    check_prompt_matrix(reference, predictor, size)


def test_bgr_input_matches_official(model_pair):
    official, ours = model_pair
    bgr = photo("coffee", (300, 400))[..., ::-1].copy()
    reference, predictor = OfficialPredictor(official), SamPredictor(ours)
    reference.set_image(bgr, image_format="BGR")
    predictor.set_image(bgr, image_format="BGR")
    assert relative_error(predictor.features, reference.features) <= 1e-4


def test_predict_torch_batched_boxes(model_pair):
    official, ours = model_pair
    image = photo("astronaut", (720, 1280))
    reference, predictor = OfficialPredictor(official), SamPredictor(ours)
    reference.set_image(image)
    predictor.set_image(image)
    boxes = torch.tensor([[100, 100, 600, 500], [50, 300, 900, 700], [700, 10, 1270, 400], [0, 0, 1279, 719.0]])
    boxes = predictor.transform.apply_boxes_torch(boxes, image.shape[:2])
    for multimask in (True, False):
        expected = reference.predict_torch(None, None, boxes=boxes, multimask_output=multimask)
        got = predictor.predict_torch(None, None, boxes=boxes, multimask_output=multimask)
        assert all(isinstance(t, torch.Tensor) for t in got)
        assert_same_outputs([t.numpy() for t in expected], [t.numpy() for t in got])
    # B prompts of several points each, padded with label -1.
    points = torch.tensor([[[300, 300], [500, 200]], [[800, 500], [0, 0]], [[200, 600], [640, 360]]], dtype=torch.float)
    labels = torch.tensor([[1, 0], [1, -1], [1, 1]])
    points = predictor.transform.apply_coords_torch(points, image.shape[:2])
    expected = reference.predict_torch(points, labels, multimask_output=True)
    got = predictor.predict_torch(points, labels, multimask_output=True)
    assert_same_outputs([t.numpy() for t in expected], [t.numpy() for t in got])


def test_no_prompt_and_mask_only(model_pair):
    """Official edge cases: no prompt at all (only output tokens), and a mask input alone."""
    official, ours = model_pair
    image = photo("chelsea", (200, 300))
    reference, predictor = OfficialPredictor(official), SamPredictor(ours)
    reference.set_image(image)
    predictor.set_image(image)
    assert_same_outputs(reference.predict(), predictor.predict())
    low_res = reference.predict()[2][:1]
    assert_same_outputs(reference.predict(mask_input=low_res), predictor.predict(mask_input=low_res))


def test_sam_forward_batch_matches_official(model_pair):
    official, ours = model_pair
    size = official.image_encoder.img_size
    from segment_anything.utils.transforms import ResizeLongestSide

    transform = ResizeLongestSide(size)
    batch = []
    for name, shape in (("astronaut", (300, 450)), ("coffee", (400, 300))):
        image = photo(name, shape)
        tensor = torch.as_tensor(transform.apply_image(image)).permute(2, 0, 1).contiguous()
        batch.append({
            "image": tensor,
            "original_size": shape,
            "point_coords": transform.apply_coords_torch(torch.tensor([[[100.0, 120.0]]]), shape),
            "point_labels": torch.tensor([[1]]),
            "boxes": transform.apply_boxes_torch(torch.tensor([[20.0, 30.0, 200.0, 250.0]]), shape),
        })
    for expected, got in zip(official(batch, multimask_output=True), ours(batch, multimask_output=True)):
        assert torch.equal(expected["masks"], got["masks"]) or mask_iou(
            expected["masks"].numpy(), got["masks"].numpy()).min() >= 0.99
        assert torch.allclose(expected["iou_predictions"], got["iou_predictions"], atol=1e-3)


@pytest.mark.slow
def test_vit_b_full_size_matches_official():
    """One full vit_b-size check: same random weights, a real photo, point and box prompts."""
    torch.manual_seed(0)
    official = official_registry["vit_b"]()
    ours = sam_model_registry["vit_b"]()
    ours.load_state_dict(official.state_dict(), strict=True)
    image = photo("astronaut", (480, 640))
    reference, predictor = OfficialPredictor(official), SamPredictor(ours)
    reference.set_image(image)
    predictor.set_image(image)
    assert relative_error(predictor.features, reference.features) <= 1e-4
    for kwargs in (prompt_matrix(480, 640)["one_point_multimask"], prompt_matrix(480, 640)["box_and_point"]):
        assert_same_outputs(reference.predict(**kwargs), predictor.predict(**kwargs))
