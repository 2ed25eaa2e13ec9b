"""Edge variants (MobileSAM/TinySAM vit_t, EfficientViT-SAM) against their own reference code on the same
random weights: checkpoint files load unchanged, types are read off the keys, and SamPredictor on torch and
on the ONNX export gives the reference's embeddings and masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sam_trt import CheckpointError, SamPredictor, sam_model_registry
from sam_trt.bench.official import edge_reference_predictor as reference_predictor
from sam_trt.checkpoint import guess_model_type, read_state_dict
from sam_trt.runtime.loader import load_backend

from .conftest import photo
from .parity import check_prompt_matrix, relative_error

pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning"), pytest.mark.filterwarnings("ignore::UserWarning")]

# One full-size model per family on every path; XL0 adds EfficientViT-SAM's 1024 px encoder input.
PARITY_TYPES = ["vit_t", "efficientvit_l0", pytest.param("efficientvit_xl0", marks=pytest.mark.slow)]
ORT_TYPES = ["vit_t", "efficientvit_l0"]


def _set_image(predictor, image: np.ndarray) -> None:
    with torch.inference_mode():
        predictor.set_image(image)


@pytest.mark.parametrize("model_type", PARITY_TYPES)
def test_torch_predictor_matches_reference(edge_models, model_type):
    reference_model, ours, path = edge_models.models(model_type)
    assert guess_model_type(read_state_dict(path)) == model_type
    image = photo("astronaut", (480, 640))
    reference, predictor = reference_predictor(model_type, reference_model), SamPredictor(ours)
    _set_image(reference, image)
    _set_image(predictor, image)
    assert predictor.input_size == tuple(reference.input_size)
    assert predictor.original_size == tuple(reference.original_size)
    assert relative_error(predictor.get_image_embedding(), reference.features) <= 1e-4
    check_prompt_matrix(reference, predictor, image.shape[:2])


@pytest.mark.parametrize("model_type", ORT_TYPES)
def test_onnx_export_matches_reference(edge_models, model_type):
    reference_model, _, _ = edge_models.models(model_type)
    backend = load_backend(edge_models.export(model_type), backend="ort")
    assert backend.encoder_size == (512 if model_type == "efficientvit_l0" else 1024)
    image = photo("coffee", (400, 600))
    reference, predictor = reference_predictor(model_type, reference_model), SamPredictor(backend)
    _set_image(reference, image)
    predictor.set_image(image)
    assert relative_error(predictor.get_image_embedding(), reference.features) <= 1e-4
    check_prompt_matrix(reference, predictor, image.shape[:2])


def test_efficientvit_decoder_norms_use_its_eps(edge_models):
    """EfficientViT-SAM sets eps 1e-6 on every norm, the decoder's LayerNorms included (SAM: 1e-5)."""
    reference_model, ours, _ = edge_models.models("efficientvit_l0")

    def eps(model):
        return [m.eps for m in model.mask_decoder.modules() if isinstance(m, torch.nn.LayerNorm)]

    assert eps(ours) == eps(reference_model) == [1e-6] * 9
    assert set(eps(sam_model_registry["vit_t"]())) == {1e-5}


def test_edge_checkpoint_for_another_type_is_refused_in_one_line(edge_models):
    path = edge_models.checkpoint("vit_t")
    with pytest.raises(CheckpointError) as exc:
        sam_model_registry["efficientvit_l2"](checkpoint=path)
    message = str(exc.value)
    assert "\n" not in message
    assert "is a vit_t checkpoint" in message and "efficientvit_l2" in message and "--model-type vit_t" in message
    path = edge_models.checkpoint("efficientvit_l0")
    with pytest.raises(CheckpointError, match="is an efficientvit_l0 checkpoint.*model type efficientvit_l1"):
        sam_model_registry["efficientvit_l1"](checkpoint=path)
    with pytest.raises(CheckpointError, match="is an efficientvit_l0 checkpoint.*model type vit_b"):
        sam_model_registry["vit_b"](checkpoint=path)


def test_mobilesam_head_keys_are_kept(edge_models):
    """mobile_sam.pt carries TinyViT's unused ImageNet head; strict loading needs it in our layout too."""
    _, ours, path = edge_models.models("vit_t")
    state = read_state_dict(path)
    head = [k for k in state if k.startswith(("image_encoder.head.", "image_encoder.norm_head."))]
    assert head and set(state) == set(ours.state_dict())
