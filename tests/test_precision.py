"""Precision variants of the demo model (FP16, INT8 through ModelOpt; FP8 marked 'needs GPU') and their
accuracy gate, measured at run time through ONNX Runtime on CPU against the FP32 export."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest

from sam_trt.demo import DEMO_EXPORT
from sam_trt.precision import make_variant
from sam_trt.precision import variant as variant_module
from sam_trt.precision.gate import NEEDS_GPU, THRESHOLDS, run_gate
from sam_trt.precision.variant import GateError

pytest.importorskip("modelopt.onnx.quantization", reason="precision conversion needs nvidia-modelopt")

CALIB = 16  # calibration images for the tests (the CLI default is 64; measured: no gain for the demo model)


def demo_variant(base, precision: str):
    """The demo model's variant in a folder shared by the session (test_engine_build reuses it)."""
    return make_variant(DEMO_EXPORT, precision, base / "demo-variants" / f"demo-{precision}", calib_count=CALIB,
                        progress=False, log=lambda _: None)


@pytest.fixture(scope="module")
def fp16(tmp_path_factory):
    return demo_variant(tmp_path_factory.getbasetemp(), "fp16")


@pytest.fixture(scope="module")
def int8(tmp_path_factory):
    return demo_variant(tmp_path_factory.getbasetemp(), "int8")


def test_fp16_passes_its_gate(fp16):
    gate = fp16.gate
    print("fp16 gate:", json.dumps({k: c["value"] for k, c in gate["checks"].items()}))
    assert gate["passed"] and gate["status"] == "passed"
    assert gate["checks"]["mask_iou_mean"]["value"] >= THRESHOLDS["fp16"]["mask_iou_mean"] == 0.99
    manifest = json.loads((fp16.folder / "manifest.json").read_text())
    assert manifest["precision"] == "fp16" and manifest["gate"]["passed"]
    assert manifest["source"]["sha256"]["encoder"] == json.loads(
        (DEMO_EXPORT / "manifest.json").read_text())["graphs"]["encoder"]["sha256"]["encoder.onnx"]


def test_int8_passes_its_gate(int8):
    gate = int8.gate
    print("int8 gate:", json.dumps({k: c["value"] for k, c in gate["checks"].items()}))
    assert gate["passed"]
    assert gate["checks"]["mask_iou_mean"]["value"] >= THRESHOLDS["int8"]["mask_iou_mean"] == 0.97
    assert gate["box_miou"]["drop_points"] <= THRESHOLDS["int8"]["miou_drop_points"] == 1.0


def _types(model: onnx.ModelProto) -> dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type for v in
             [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]}
    types.update({i.name: i.data_type for i in model.graph.initializer})
    return types


def test_fp16_keeps_layernorm_and_softmax_fp32_and_io_types(fp16):
    for graph in ("encoder", "decoder"):
        model = onnx.load(str(fp16.folder / f"{graph}.onnx"))
        types = _types(model)
        kept = [n for n in model.graph.node if n.op_type in ("LayerNormalization", "Softmax")]
        assert kept and all(types.get(n.input[0]) == onnx.TensorProto.FLOAT for n in kept)
        half = [n for n in model.graph.node
                if n.op_type == "MatMul" and types.get(n.input[0]) == onnx.TensorProto.FLOAT16]
        assert half, f"{graph}: no MatMul runs in FP16"
        original = onnx.load(str(DEMO_EXPORT / f"{graph}.onnx"))
        assert [(i.name, i.type.tensor_type.elem_type) for i in model.graph.input] == \
               [(i.name, i.type.tensor_type.elem_type) for i in original.graph.input]


def test_int8_graph_is_explicit_symmetric_per_channel_qdq(int8):
    for graph in ("encoder", "decoder"):
        model = onnx.load(str(int8.folder / f"{graph}.onnx"))
        inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
        producer = {o: n for n in model.graph.node for o in n.output}
        dqs = [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
        assert dqs
        for node in [*dqs, *(n for n in model.graph.node if n.op_type == "QuantizeLinear")]:
            if len(node.input) > 2 and node.input[2] in inits:
                assert not np.any(inits[node.input[2]]), f"{node.name}: non-zero zero point"
        weight_dqs = [n for n in dqs if n.input[0] in inits or (producer.get(n.input[0]) is not None and
                                                                producer[n.input[0]].input[0] in inits)]
        assert weight_dqs and all(inits[n.input[1]].size > 1 for n in weight_dqs), "weights must be per-channel"
        for n in dqs:  # no INT32 bias for TensorRT
            source = inits.get(n.input[0])
            assert source is None or source.dtype != np.int32
        for node in model.graph.node:
            if node.op_type in ("LayerNormalization", "Softmax", "Gelu", "Add"):
                assert all(producer.get(i) is None or producer[i].op_type != "DequantizeLinear" for i in node.input), \
                    f"{graph}: {node.op_type} {node.name} reads quantized values"
        conversion = json.loads((int8.folder / "manifest.json").read_text())["conversion"][graph]
        assert conversion["quantized_op_types"] and set(conversion["quantized_op_types"]) <= {
            "Conv", "ConvTranspose", "MatMul", "Gemm"}


def test_up_to_date_variant_is_reused(fp16, tmp_path_factory):
    again = demo_variant(tmp_path_factory.getbasetemp(), "fp16")
    assert again.reused and again.gate["passed"]


def test_failing_gate_is_not_published_without_force(tmp_path, monkeypatch):
    """A conversion that breaks the model: the gate rejects it; --force publishes it, marked failed."""
    from sam_trt.precision import convert, gate

    def broken(src, dst, feeds):
        model = onnx.load(str(src))
        for init in model.graph.initializer:
            if init.name.endswith("output_upscaling.0.weight"):
                array = onnx.numpy_helper.to_array(init) * -1.0
                init.CopyFrom(onnx.numpy_helper.from_array(array.astype(np.float32), init.name))
        onnx.save(model, str(dst))
        return {"tool": "test"}

    monkeypatch.setattr(convert, "convert_fp16", broken)
    monkeypatch.setattr(variant_module, "collect_feeds", lambda *a, **k: ([], [], 0))
    scenes = gate.gate_scenes(3)
    monkeypatch.setattr(variant_module, "run_gate", lambda v, r, p, count: gate.run_gate(v, r, p, scenes))
    with pytest.raises(GateError, match="not published: gate failed: mask_iou_mean .*--force"):
        make_variant(DEMO_EXPORT, "fp16", tmp_path / "v", progress=False, log=lambda _: None)
    assert not (tmp_path / "v").exists() and not list(tmp_path.iterdir())
    result = make_variant(DEMO_EXPORT, "fp16", tmp_path / "v", force=True, progress=False, log=lambda _: None)
    assert result.gate["status"] == "failed"
    assert json.loads((tmp_path / "v" / "manifest.json").read_text())["gate"]["passed"] is False
    with pytest.raises(GateError, match="published with --force"):
        make_variant(DEMO_EXPORT, "fp16", tmp_path / "v", progress=False, log=lambda _: None)


def test_fp8_needs_a_gpu_gate(tmp_path, monkeypatch):
    from sam_trt.precision import convert

    assert run_gate(DEMO_EXPORT, DEMO_EXPORT, "fp8")["status"] == NEEDS_GPU
    monkeypatch.setattr(convert, "quantize", lambda src, dst, mode, feeds, method="max": shutil.copy(src, dst) and {})
    monkeypatch.setattr(variant_module, "collect_feeds", lambda *a, **k: ([], [], 0))
    with pytest.raises(GateError, match="needs GPU"):
        make_variant(DEMO_EXPORT, "fp8", tmp_path / "v", progress=False, log=lambda _: None)
    result = make_variant(DEMO_EXPORT, "fp8", tmp_path / "v", force=True, progress=False, log=lambda _: None)
    assert json.loads((result.folder / "manifest.json").read_text())["gate"]["status"] == NEEDS_GPU


def test_calibration_prompts_look_like_real_use():
    from sam_trt.precision.calibration import calibration_images, decoder_feeds, encoder_feed

    item = calibration_images(None, 1)[0]
    feed, original = encoder_feed(item.image, 256)
    assert feed["image"].shape == (1, 3, 256, 256) and feed["image"].dtype == np.uint8
    embedding = np.zeros((1, 128, 16, 16), np.float32)
    session = type("S", (), {"run": lambda self, _, f: (np.random.rand(len(f["point_coords"]), 4),
                                                         np.random.randn(len(f["point_coords"]), 4, 64, 64))})()
    boxes, clicks, refine = decoder_feeds(embedding, item, original, 256, 64, np.random.default_rng(0), session)
    assert set(boxes["point_labels"][:, :2].ravel()) == {2.0, 3.0}
    assert (clicks["point_labels"][:, 0] == 1).all() and not clicks["has_mask_input"].any()
    assert refine["has_mask_input"].all() and np.abs(refine["mask_input"]).sum() > 0


def test_missing_calibration_folder(tmp_path):
    from sam_trt.errors import InputError
    from sam_trt.precision.calibration import calibration_images

    with pytest.raises(InputError, match="calibration folder not found"):
        calibration_images(tmp_path / "nope")
    with pytest.raises(InputError, match="no images"):
        calibration_images(tmp_path)


def test_the_fp32_export_is_left_untouched(fp16, int8):
    """ModelOpt writes shape inference back into the file it is given: the converter hands it a copy."""
    from sam_trt.export.manifest import read_manifest

    read_manifest(DEMO_EXPORT).verify_checksums()
