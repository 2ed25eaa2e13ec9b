"""EfficientViT-SAM encoder: key layout and numerics against the `efficientsam` reference, ONNX export."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from sam_trt.modeling.common import LayerNorm2d
from sam_trt.modeling.efficientvit import EFFICIENTVIT_VARIANTS, EfficientViTSamEncoder, efficientvit_input_size
from sam_trt.modeling.efficientvit_blocks import LinearAttentionNormalize

from .parity import relative_error

VARIANTS = list(EFFICIENTVIT_VARIANTS)

# (input side, neck grid) per variant for the parity test. l0 runs at full size (512, 64x64 grid). The others run
# smaller, set on both models: the backbone takes any side divisible by its stride, and the neck's grid is a
# parameter (its FusedMBConvs cost up to 130 GMACs at the official 64x64, whatever the input). Each case still
# covers real upsampling and one same-size level (the official code resizes it, we skip the identity resize); at
# 256 the XL stage-5 map is 4x4 = 16 tokens, and at 128 both XL attention stages have <= 16, where the reference
# switches to its quadratic attention form (ours computes the same sum in linear form).
PARITY_CASES = {"l0": (512, 64), "l1": (256, 32), "l2": (256, 32), "xl0": (256, 16), "xl1": (128, 8)}


def reference_encoder(variant: str) -> nn.Module:
    """The official image encoder (built on the meta device: fill it with `load_state_dict(..., assign=True)`)."""
    zoo = pytest.importorskip("efficientsam.sam_model_zoo")
    with torch.device("meta"):
        return zoo.create_efficientvit_sam_model(f"efficientvit-sam-{variant}", pretrained=False).image_encoder


def random_state_dict(template: dict[str, torch.Tensor], seed: int = 0) -> dict[str, torch.Tensor]:
    """Seeded weights in `template`'s layout, scaled so activations stay O(1)-O(1e4) through the network.

    Convs N(0, 1/fan_in); norm scales U(0.5, 1.5); biases and BN running means N(0, 0.1); running vars
    U(0.5, 1.5). (PyTorch's default conv init shrinks the signal until the output is mostly biases.)
    """
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, t in template.items():
        shape = t.shape
        if key.endswith("num_batches_tracked"):
            value = torch.zeros(shape, dtype=torch.long)
        elif len(shape) == 4:
            value = torch.randn(shape, generator=g) / shape[1:].numel() ** 0.5
        elif key.endswith(("running_var", "norm.weight")):  # BatchNorm and final LayerNorm scales
            value = torch.rand(shape, generator=g) + 0.5
        else:  # conv biases, norm biases, running means
            value = torch.randn(shape, generator=g) * 0.1
        state[key] = value
    return state


def meta_shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_variant_table() -> None:
    assert set(VARIANTS) == {"l0", "l1", "l2", "xl0", "xl1"}
    assert [efficientvit_input_size(v) for v in VARIANTS] == [512, 512, 512, 1024, 1024]
    with torch.device("meta"):
        assert EfficientViTSamEncoder("xl0").img_size == 1024
    with pytest.raises(ValueError, match="known: l0, l1"):
        efficientvit_input_size("b0")


@pytest.mark.parametrize("variant", ["l0", "xl0"])
def test_numerics_follow_the_official_builder(variant: str) -> None:
    """BN and LayerNorm eps 1e-6 (`set_norm_eps`), GELU tanh, LiteMLA eps 1e-15."""
    with torch.device("meta"):
        encoder = EfficientViTSamEncoder(variant)
    modules = list(encoder.modules())
    assert {m.eps for m in modules if isinstance(m, (nn.BatchNorm2d, LayerNorm2d))} == {1e-6}
    assert {m.approximate for m in modules if isinstance(m, nn.GELU)} == {"tanh"}
    assert {m.eps for m in modules if isinstance(m, LinearAttentionNormalize)} == {1e-15}


@pytest.mark.parametrize("variant", VARIANTS)
def test_state_dict_layout_matches_reference(variant: str) -> None:
    reference = reference_encoder(variant)
    with torch.device("meta"):
        ours = EfficientViTSamEncoder(variant)
    assert meta_shapes(ours) == meta_shapes(reference)
    ours.load_state_dict(reference.state_dict(), strict=True, assign=True)


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_matches_reference(variant: str) -> None:
    side, grid = PARITY_CASES[variant]
    reference = reference_encoder(variant)
    with torch.device("meta"):
        ours = EfficientViTSamEncoder(variant)
    state = random_state_dict(reference.state_dict(), seed=1)
    reference.load_state_dict(state, strict=True, assign=True)
    ours.load_state_dict(state, strict=True, assign=True)
    if grid != 64:
        for branch in reference.neck.input_ops:
            branch.op_list[1].size = [grid, grid]
        ours.neck.out_size = grid

    image = torch.randn(1, 3, side, side, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = reference.eval()(image)
        actual = ours.eval()(image)
    assert actual.shape == expected.shape == (1, 256, grid, grid)
    assert relative_error(actual, expected) <= 1e-4  # measured 8e-8 (l*) to 2e-6 (xl*, quadratic branch)


@pytest.mark.slow
def test_onnx_export_with_dynamic_batch(tmp_path) -> None:
    ort = pytest.importorskip("onnxruntime")
    import onnx

    encoder = EfficientViTSamEncoder("l0").eval()
    encoder.load_state_dict(random_state_dict(encoder.state_dict(), seed=3), strict=True)
    side = encoder.img_size
    images = torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(4))
    path = tmp_path / "efficientvit_l0.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            encoder, (images[:1],), dynamo=True, opset_version=20, input_names=["image"],
            output_names=["image_embeddings"], dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1, max=64)}},
            optimize=True, verbose=False,
        )
    program.save(str(path))

    graph = onnx.load(str(path)).graph
    assert {node.domain for node in graph.node} <= {"", "ai.onnx"}
    input_dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    output_dims = [d.dim_param or d.dim_value for d in graph.output[0].type.tensor_type.shape.dim]
    assert isinstance(input_dims[0], str) and input_dims[1:] == [3, side, side]
    assert output_dims == [input_dims[0], 256, 64, 64]

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = encoder(images).numpy()
    for batch in (1, 2):
        (actual,) = session.run(None, {"image": images[:batch].numpy()})
        assert actual.shape == (batch, 256, 64, 64)
        assert relative_error(actual, expected[:batch]) <= 1e-4
    assert np.isfinite(actual).all()


def test_linear_attention_eps_survives_onnx_export(tmp_path) -> None:
    """A zero denominator gives 0 (the reference's 0 / (0 + 1e-15)), not NaN, in the exported graph: torch's ONNX
    optimizer drops "+ 1e-15" as an identity Add, so the module must not be written that way."""
    ort = pytest.importorskip("onnxruntime")
    path = tmp_path / "normalize.onnx"
    torch.onnx.export(LinearAttentionNormalize(), (torch.rand(1, 2, 3, 4),), dynamo=True, verbose=False).save(
        str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = torch.rand(1, 2, 3, 4)
    out[:, :, :, 0] = 0.0  # token 0: numerator and denominator both zero
    (got,) = session.run(None, {session.get_inputs()[0].name: out.numpy()})
    assert np.isfinite(got).all() and (got[..., 0] == 0).all()
    np.testing.assert_allclose(got, (out[:, :, :-1] / (out[:, :, -1:] + 1e-15)).numpy(), rtol=1e-6)
