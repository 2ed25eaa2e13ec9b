"""TinyViT-5M (MobileSAM / TinySAM `vit_t` encoder): official key layout, parity with the `mobile_sam` package,
attention biases read at run time (the full vit_t export against ONNX Runtime: test_edge_parity.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from sam_trt.bench.official import randomize_
from sam_trt.modeling.tiny_vit import TinyViT, WindowAttention

from .conftest import photo
from .parity import relative_error

# mobile_sam imports the deprecated `timm.models.layers` and re-registers timm's TinyViT models.
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

PIXEL_MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
PIXEL_STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)


def sam_input(height: int = 768, width: int = 1024, size: int = 1024) -> torch.Tensor:
    """A photograph as SAM feeds it: normalised, zero-padded bottom/right to size x size. 1x3xSxS."""
    image = (photo("astronaut", (height, width)).astype(np.float32) - PIXEL_MEAN) / PIXEL_STD
    image = cv2.copyMakeBorder(image, 0, size - height, 0, size - width, cv2.BORDER_CONSTANT, value=0)
    return torch.from_numpy(image).permute(2, 0, 1)[None].contiguous()


@pytest.fixture(scope="module")
def reference_encoder() -> nn.Module:
    """The official `vit_t` image encoder with seeded random weights, norm statistics and attention biases."""
    mobile_sam = pytest.importorskip("mobile_sam")
    torch.manual_seed(0)
    encoder = mobile_sam.build_sam_vit_t().image_encoder
    randomize_(encoder)
    # The reference caches its biases in train(False): eval() must run again after they change.
    return encoder.eval()


def test_state_dict_matches_official_layout(reference_encoder):
    expected = reference_encoder.state_dict()
    ours = TinyViT().state_dict()
    assert len(ours) == len(expected) == 302
    assert list(ours) == list(expected)
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in expected.items()}
    assert any(k.startswith("head.") for k in ours) and any(k.startswith("norm_head.") for k in ours)
    # The non-persistent bias index: same (|dy|, |dx|) numbering as the reference.
    expected_buffers = dict(reference_encoder.named_buffers())
    indices = {k: v for k, v in TinyViT().named_buffers() if k.endswith("attention_bias_idxs")}
    assert len(indices) == 10
    for name, index in indices.items():
        assert torch.equal(index, expected_buffers[name]), name


def test_attention_reads_biases_at_run_time():
    """Biases loaded after eval() are used (the reference's cached copy would keep the old ones)."""
    mobile_sam = pytest.importorskip("mobile_sam")
    torch.manual_seed(0)
    reference = mobile_sam.modeling.tiny_vit_sam.Attention(40, 8, num_heads=5, attn_ratio=1, resolution=(7, 7))
    ours = WindowAttention(40, num_heads=5, window_size=7).eval()
    x = torch.randn(3, 49, 40)
    with torch.no_grad():
        before = ours(x)
        reference.attention_biases.normal_()
        reference.qkv.weight.normal_(std=0.3)
        ours.load_state_dict(reference.state_dict(), strict=True)
        reference.eval()
        after = ours(x)
        expected = reference(x)
    assert relative_error(after, before) > 0.05
    assert relative_error(after, expected) < 1e-6


@pytest.mark.slow
def test_matches_official_encoder(reference_encoder):
    ours = TinyViT().eval()
    ours.load_state_dict(reference_encoder.state_dict(), strict=True)  # after eval(): no stale-bias cache
    assert ours.img_size == 1024
    image = sam_input()
    with torch.no_grad():
        expected = reference_encoder(image)
        actual = ours(image)
    assert actual.shape == (1, 256, 64, 64)
    assert relative_error(actual, expected) <= 1e-4
