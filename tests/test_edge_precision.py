"""Precision variants and TensorRT builds of the edge exports (vit_t, efficientvit_l0): FP16 passes its gate with
the FP16-unsafe parts kept FP32, INT8 is gated at the same thresholds, and tensorrt-rtx builds fp32/fp16/int8.

Kept small for CI: 2 calibration images and 3 gate scenes (the CLI default is 64 and 12); the weights are the
reference's seeded random weights, the only ones this machine can have."""

from __future__ import annotations

import collections

import onnx
import pytest

from sam_trt.engine.build import build_engines
from sam_trt.engine.profiles import ProfileRanges
from sam_trt.precision import make_variant
from sam_trt.precision.convert import FP16_KEEP_MODULES, nodes_of_modules
from sam_trt.precision.gate import THRESHOLDS

pytest.importorskip("modelopt.onnx.quantization", reason="precision conversion needs nvidia-modelopt")
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::FutureWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning")]

EDGE_TYPES = ["vit_t", "efficientvit_l0"]
RANGES = ProfileRanges(encoder_batch=(1, 1, 1), prompts=(1, 4, 16), points=(1, 3, 10))


@pytest.fixture(scope="module")
def variants(edge_models, tmp_path_factory):
    """model type -> {precision: export folder}; INT8 is published with force so that its graph can be built
    whatever its gate says (the gate result is asserted separately)."""
    root = tmp_path_factory.mktemp("edge-variants")
    cache: dict[str, dict] = {}

    def get(model_type: str) -> dict:
        if model_type not in cache:
            fp32 = edge_models.export(model_type)
            made = {p: make_variant(fp32, p, root / f"{model_type}-{p}", calib_count=2, gate_count=3,
                                    force=p == "int8", progress=False, log=lambda _: None)
                    for p in ("fp16", "int8")}
            cache[model_type] = {"fp32": fp32, **made}
        return cache[model_type]

    return get


@pytest.mark.parametrize("model_type", EDGE_TYPES)
def test_fp16_passes_its_gate_with_unsafe_ops_in_fp32(variants, model_type):
    result = variants(model_type)["fp16"]
    assert result.gate["passed"], result.gate
    assert result.gate["checks"]["mask_iou_mean"]["value"] >= THRESHOLDS["fp16"]["mask_iou_mean"]
    graph = onnx.load(str(result.folder / "encoder.onnx")).graph
    dtypes = {i.name: i.data_type for i in graph.initializer}
    produced = {o: n for n in graph.node for o in n.output}
    # LayerNorms stay FP32 in every encoder (EfficientViT's final LayerNorm2d overflows in FP16).
    norms = [n for n in graph.node if n.op_type == "LayerNormalization"]
    assert norms and all(dtypes.get(n.input[1]) == onnx.TensorProto.FLOAT for n in norms)
    kept = set(nodes_of_modules(variants(model_type)["fp32"] / "encoder.onnx", FP16_KEEP_MODULES))
    if model_type == "efficientvit_l0":
        # LiteMLA's linear attention (a sum over all tokens, divided by sum + 1e-15) computes in FP32: its
        # Div nodes read no FP16 cast.
        divs = [n for n in graph.node if n.name in kept and n.op_type == "Div"]
        assert len(divs) == 4
        for div in divs:
            for name in div.input:
                source = produced.get(name)
                assert source is None or not (source.op_type == "Cast" and source.attribute[0].i ==
                                              onnx.TensorProto.FLOAT16), div.name
    else:
        assert not kept


@pytest.mark.parametrize("model_type", EDGE_TYPES)
def test_int8_gate_is_measured_at_the_existing_thresholds(variants, model_type):
    gate = variants(model_type)["int8"].gate
    assert gate["status"] in ("passed", "failed") and gate["scenes"] == 3
    assert gate["checks"]["mask_iou_mean"]["limit"] == THRESHOLDS["int8"]["mask_iou_mean"]
    quantized = collections.Counter(n.op_type for n in onnx.load(
        str(variants(model_type)["int8"].folder / "encoder.onnx")).graph.node)
    assert quantized["QuantizeLinear"] > 10 and quantized["DequantizeLinear"] > quantized["QuantizeLinear"]


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
@pytest.mark.parametrize("model_type", EDGE_TYPES)
def test_tensorrt_rtx_builds_the_edge_variants(variants, model_type, precision, tmp_path):
    from sam_trt.engine.tensorrt_import import import_tensorrt

    trt = import_tensorrt("tensorrt_rtx")
    folder = variants(model_type)[precision]
    folder = getattr(folder, "folder", folder)
    built = build_engines(folder, tmp_path, RANGES, trt=trt, plan_only_check=True, progress=False,
                          log=lambda _: None)
    assert [b.graph for b in built] == ["encoder", "decoder"] and all(b.size > 1_000_000 for b in built)
    size = 512 if model_type == "efficientvit_l0" else 1024
    assert built[0].sidecar["profiles"]["image"] == [[1, 3, size, size]] * 3
    assert built[1].sidecar["precision"] == precision
