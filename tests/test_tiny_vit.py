"""TinyViT-5M (MobileSAM / TinySAM `vit_t` encoder): official key layout, parity with the `mobile_sam` package,
attention biases read at run time (the full vit_t export against ONNX Runtime: test_edge_parity.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from sam_trt.modeling.tiny_vit import TinyViT, WindowAttention

from .conftest import photo

# mobile_sam imports the deprecated `timm.models.layers` and re-registers timm's TinyViT models.
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

PIXEL_MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
PIXEL_STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)


def relative_l2(actual: np.ndarray | torch.Tensor, expected: np.ndarray | torch.Tensor) -> float:
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    return float(np.linalg.norm(actual - expected) / np.linalg.norm(expected))


@torch.no_grad()
def randomise_(module: nn.Module, seed: int) -> None:
    """O(1), non-trivial norm statistics, affines and attention biases (zeros would hide a bias bug), and
    variance-preserving Linear weights (TinyViT's std-0.02 init leaves the attention branch negligible)."""
    gen = torch.Generator().manual_seed(seed)

    def fill(t: torch.Tensor, low: float, high: float) -> None:
        t.copy_(torch.rand(t.shape, generator=gen) * (high - low) + low)

    for m in module.modules():
        if isinstance(m, nn.Linear):
            m.weight.copy_(torch.randn(m.weight.shape, generator=gen) / m.in_features**0.5)
        if isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)):
            fill(m.weight, 0.5, 1.5)
            fill(m.bias, -0.2, 0.2)
        if isinstance(m, nn.BatchNorm2d):
            fill(m.running_mean, -0.2, 0.2)
            fill(m.running_var, 0.5, 2.0)
    for name, p in module.named_parameters():
        if name.endswith("attention_biases"):
            p.copy_(torch.randn(p.shape, generator=gen))


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
    randomise_(encoder, seed=1)
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
    assert relative_l2(after, before) > 0.05
    assert relative_l2(after, expected) < 1e-6


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
    assert relative_l2(actual, expected) <= 1e-4
