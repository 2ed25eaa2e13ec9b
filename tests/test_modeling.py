"""Model pieces that parity tests do not isolate: LayerNorm2d export form, torch backend options."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sam_trt import BackendError, SamPredictor
from sam_trt.modeling import build_sam_from_config
from sam_trt.modeling.common import LayerNorm2d
from sam_trt.runtime.torch_backend import TorchBackend

from .conftest import SMALL_256


def reference_layernorm2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
    u = x.mean(1, keepdim=True)
    s = (x - u).pow(2).mean(1, keepdim=True)
    return weight[:, None, None] * ((x - u) / torch.sqrt(s + eps)) + bias[:, None, None]


def test_layernorm2d_equals_reference_formula():
    norm = LayerNorm2d(16)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = torch.randn(2, 16, 5, 7) * 30 + 4
    assert torch.allclose(norm(x), reference_layernorm2d(x, norm.weight, norm.bias, 1e-6), atol=1e-5)


def test_layernorm2d_exports_as_one_layernormalization(tmp_path):
    import onnx

    path = tmp_path / "ln.onnx"
    torch.onnx.export(LayerNorm2d(8).eval(), (torch.randn(1, 8, 4, 4),), str(path), dynamo=True, opset_version=20)
    ops = [node.op_type for node in onnx.load(str(path)).graph.node]
    assert ops.count("LayerNormalization") == 1
    assert not {"ReduceMean", "Sqrt", "Pow"} & set(ops), ops


def test_torch_backend_describes_itself_and_refuses_cpu_fp16():
    sam = build_sam_from_config(SMALL_256)
    backend = TorchBackend(sam)
    assert backend.describe() == {"backend": "torch", "device": "cpu", "precision": "fp32"}
    assert (backend.image_size, backend.embedding_size, backend.low_res_size) == (256, 16, 64)
    with pytest.raises(BackendError, match="needs a CUDA device"):
        TorchBackend(sam, precision="fp16")
    with pytest.raises(BackendError, match="fp32, fp16 or bf16"):
        TorchBackend(sam, precision="int4")


def test_predictor_accepts_a_backend_and_batches_like_single_prompts():
    """Decoding B prompts at once equals decoding them one by one (the embedding is broadcast)."""
    sam = build_sam_from_config(SMALL_256)
    predictor = SamPredictor(TorchBackend(sam))
    rng = np.random.default_rng(1)
    predictor.set_image(rng.integers(0, 255, (120, 200, 3), dtype=np.uint8))
    points = torch.tensor(rng.uniform(0, 200, (5, 2, 2)), dtype=torch.float)
    labels = torch.tensor([[1, 0], [1, 1], [0, 1], [1, -1], [1, 0]])
    _, iou_batch, low_batch = predictor.predict_torch(points, labels)
    for i in range(5):
        _, iou, low = predictor.predict_torch(points[i : i + 1], labels[i : i + 1])
        assert torch.allclose(iou, iou_batch[i : i + 1], atol=1e-5)
        assert torch.allclose(low, low_batch[i : i + 1], atol=1e-4)


@pytest.mark.gpu
def test_cuda_fp16_backend_close_to_fp32():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    sam = build_sam_from_config(SMALL_256)
    image = np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    out = {}
    for precision in ("fp32", "fp16", "bf16"):
        predictor = SamPredictor(TorchBackend(sam, device="cuda", precision=precision))
        predictor.set_image(image)
        out[precision] = predictor.predict(box=np.array([20, 30, 200, 180]), multimask_output=False)
    for precision in ("fp16", "bf16"):
        agree = (out[precision][0] == out["fp32"][0]).mean()
        assert agree > 0.98, (precision, agree)
