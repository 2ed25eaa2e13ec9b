"""Our state-dict keys and shapes equal the official ones for every registry model."""

from __future__ import annotations

import pytest
import torch
from segment_anything import sam_model_registry as official_registry

from sam_trt import sam_model_registry
from sam_trt.config import MODEL_CONFIGS

# Totals (parameters + persistent buffers) and key counts from SAM_REFERENCE.md 1.4.
EXPECTED = {"vit_b": (314, 93_735_728), "vit_l": (482, 312_343_088), "vit_h": (594, 641_090_864)}


def shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("model_type", list(MODEL_CONFIGS))
def test_state_dict_matches_official(model_type):
    with torch.device("meta"):  # shapes only: no memory, no init time
        official = official_registry[model_type]()
        ours = sam_model_registry[model_type]()
    assert shapes(ours) == shapes(official)
    keys, total = EXPECTED[model_type]
    assert len(shapes(ours)) == keys
    assert sum(v.numel() for v in ours.state_dict().values()) == total


def test_registry_keys_and_default():
    assert set(sam_model_registry) == {"default", "vit_h", "vit_l", "vit_b", "demo", "vit_t", "efficientvit_l0",
                                       "efficientvit_l1", "efficientvit_l2", "efficientvit_xl0", "efficientvit_xl1"}
    assert sam_model_registry["default"] is sam_model_registry["vit_h"]


def test_sizes_follow_config():
    from sam_trt.modeling import build_sam_from_config

    from .conftest import SMALL_256

    sam = build_sam_from_config(SMALL_256)
    assert SMALL_256.embedding_size == 16 and SMALL_256.low_res_size == 64
    emb = sam.image_encoder(torch.zeros(1, 3, 256, 256))
    assert emb.shape == (1, SMALL_256.prompt_embed_dim, 16, 16)
    assert sam.prompt_encoder.get_dense_pe().shape == (1, SMALL_256.prompt_embed_dim, 16, 16)
