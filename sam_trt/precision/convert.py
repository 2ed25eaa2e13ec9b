"""Graph conversions with NVIDIA Model Optimizer (runs on CPU through ONNX Runtime):
FP16 with AutoCast (LayerNorm and Softmax kept FP32, plus every node whose calibration activations pass
`FP16_DATA_MAX`) and INT8 / FP8 explicit Q/DQ (symmetric, per-channel weights; LayerNorm, Softmax, GELU and
Adds, residual ones included, left unquantized; the other ops stay FP32)."""

from __future__ import annotations

import collections
import contextlib
import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendError

HOW_TO_GET = ("precision conversion needs NVIDIA Model Optimizer without its [onnx] extra: "
              "pip install 'sam-trt[precision]' (never next to onnxruntime-gpu)")
FP16_KEEP_OPS = ["LayerNormalization", "Softmax"]
# Module classes whose nodes stay FP32 (matched on the class path the exporter records per node): EfficientViT-SAM's
# ReLU linear attention sums over all tokens (can overflow FP16) and divides by sum + 1e-15 (0 in FP16).
FP16_KEEP_MODULES = ("ReLULinearAttention",)
# Activations beyond this (a 4x margin below FP16's 65504) keep their node in FP32.
FP16_DATA_MAX = 16384.0
FP16_CALIB_BATCHES = 12  # AutoCast keeps every activation of every batch: a spread-out subset is enough ...
FP16_CALIB_BYTES = 4e9  # ... and no more batches than fit here (one 1024 px vit_t batch holds 2.3 GB)
QUANT_EXCLUDE_OPS = ["LayerNormalization", "Softmax", "Gelu", "Add"]
# Ops that compute in INT8 from their Q/DQ inputs; every other consumer gets the FP32 tensor back.
QUANTIZED_OPS = {"Conv", "ConvTranspose", "MatMul", "Gemm"}
# Modules whose layers stay FP32 (matched on their weights' names): the decoder's mask head, which writes the
# mask logits directly (measured: it costs most of the INT8 decoder's mask IoU; see benchmarks/).
FP32_MODULES = ("mask_decoder.output_upscaling", "mask_decoder.output_hypernetworks_mlps")


def _modelopt() -> Any:
    try:
        import modelopt.onnx.autocast as autocast
        import modelopt.onnx.quantization as quantization
    except ImportError as exc:
        raise BackendError(f"{HOW_TO_GET} ({exc.__class__.__name__}: {str(exc).splitlines()[0]})") from None
    autocast.configure_logging("ERROR")  # it logs every node at INFO; our summary goes into the manifest
    onnx_logger = logging.getLogger("modelopt.onnx")
    if _no_gpu_noise not in onnx_logger.filters:
        onnx_logger.addFilter(_no_gpu_noise)
    return autocast, quantization


def _no_gpu_noise(record: logging.LogRecord) -> bool:
    """Drop ModelOpt's 'Failed to get GPU count: NVML ...' error: calibration runs on CPU on purpose."""
    return "NVML" not in record.getMessage()


@contextlib.contextmanager
def _quiet():
    """ModelOpt logs at INFO and complains about NVML on GPU-less machines; keep warnings and above."""
    names = ("modelopt", "modelopt.onnx", "modelopt.onnx.autocast", "modelopt.onnx.quantization")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def convert_fp16(src: Path, dst: Path, feeds: Sequence[dict[str, np.ndarray]]) -> dict[str, Any]:
    """src FP32 ONNX -> dst mixed FP16/FP32, I/O types unchanged. feeds: calibration inputs (AutoCast runs them
    through ONNX Runtime and keeps nodes whose inputs/outputs exceed FP16_DATA_MAX in FP32)."""
    autocast, _ = _modelopt()
    import re

    import onnx

    kept_modules = nodes_of_modules(src, FP16_KEEP_MODULES)
    per_batch = activation_bytes(src)
    limit = max(1, min(FP16_CALIB_BATCHES, int(FP16_CALIB_BYTES // max(per_batch, 1))))
    if len(feeds) > limit:
        feeds = [feeds[int(i)] for i in np.linspace(0, len(feeds) - 1, limit)]
    with tempfile.TemporaryDirectory(prefix="sam-trt-fp16-") as tmp:
        for i, feed in enumerate(feeds):
            np.savez(Path(tmp) / f"{i:05d}.npz", **feed)
        with _quiet():
            model = autocast.convert_to_mixed_precision(
                onnx_path=str(src), low_precision_type="fp16", op_types_to_exclude=FP16_KEEP_OPS,
                nodes_to_exclude=[f"^{re.escape(n)}$" for n in kept_modules],
                data_max=FP16_DATA_MAX, keep_io_types=True, calibration_data=tmp, providers=["cpu"])
    onnx.save(model, str(dst))
    return {"tool": "modelopt.onnx.autocast", "low_precision": "fp16", "fp32_op_types": FP16_KEEP_OPS,
            "fp32_modules": {"classes": list(FP16_KEEP_MODULES), "nodes": len(kept_modules)},
            "data_max": FP16_DATA_MAX, "calibration_batches": len(feeds),
            "activation_bytes_per_batch": per_batch, **_precision_census(model),
            "fp32_compute_nodes": _fp32_compute_nodes(model)}


class _FeedReader:
    """ORT CalibrationDataReader over a list of feeds (each a full set of graph inputs, any batch sizes)."""

    def __init__(self, feeds: Sequence[dict[str, np.ndarray]]) -> None:
        self.feeds = list(feeds)
        self.calibration_data_list = self.feeds
        self.index = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.index >= len(self.feeds):
            return None
        self.index += 1
        return self.feeds[self.index - 1]

    def get_first(self) -> dict[str, np.ndarray]:  # ModelOpt peeks at one feed to find attention blocks
        return self.feeds[0]

    def rewind(self) -> None:
        self.index = 0


def quantize(src: Path, dst: Path, mode: str, feeds: Sequence[dict[str, np.ndarray]],
             method: str = "max") -> dict[str, Any]:
    """src FP32 ONNX -> dst with explicit Q/DQ (mode "int8" or "fp8"), calibrated on `feeds` (max or entropy)."""
    _, quantization = _modelopt()
    import re

    from onnxruntime.quantization.calibrate import CalibrationDataReader

    reader = type("SamFeedReader", (_FeedReader, CalibrationDataReader), {})(feeds)
    products = activation_products(src) + nodes_with_weights(src, FP32_MODULES)
    work = dst.parent / f".{dst.stem}-source.onnx"  # ModelOpt writes shape inference back into its input file
    shutil.copyfile(src, work)
    data = src.with_name(src.name + ".data")  # external weights (models over 2 GB) are found beside the file
    linked = dst.parent / data.name
    if data.is_file() and not linked.exists():
        linked.symlink_to(data.resolve())
    try:
        with _quiet():
            quantization.quantize(
                str(work), quantize_mode=mode, calibration_data_reader=reader, calibration_method=method,
                calibration_eps=["cpu"], op_types_to_exclude=QUANT_EXCLUDE_OPS,
                nodes_to_exclude=[f"^{re.escape(n)}$" for n in products], high_precision_dtype="fp32",
                use_zero_point=False, dq_only=True, output_path=str(dst), log_level="ERROR")
    finally:
        work.unlink(missing_ok=True)
        if linked.is_symlink():
            linked.unlink()
    import onnx

    model = onnx.load(str(dst))
    rewired = keep_unquantized_consumers(model)
    onnx.save(model, str(dst))
    return {"tool": "modelopt.onnx.quantization", "fp32_inputs_restored": rewired,
            "unquantized_nodes": len(products),
            "fp32_modules": list(FP32_MODULES), "mode": mode, "calibration_method": method,
            "calibration_batches": len(feeds), "unquantized_op_types": QUANT_EXCLUDE_OPS,
            "high_precision": "fp32", **_precision_census(model)}


def activation_bytes(path: Path) -> int:
    """Bytes of every intermediate tensor of one run at batch 1 (symbolic dims count as 1), by ONNX shape
    inference: what a calibrator that keeps all activations holds per batch."""
    import onnx

    model = onnx.shape_inference.infer_shapes(onnx.load(str(path), load_external_data=False))
    total = 0
    for value in model.graph.value_info:
        tensor = value.type.tensor_type
        count = int(np.prod([d.dim_value if d.HasField("dim_value") else 1 for d in tensor.shape.dim]))
        total += count * onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).itemsize
    return total


def activation_products(path: Path) -> list[str]:
    """Names of MatMul/Einsum nodes multiplying two activations (attention q@k and attn@v, the decoder's
    hypernetwork x upscaled-embedding mask product): left in FP32, since both operands vary per input."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    constant = {i.name for i in model.graph.initializer}
    constant |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    return [n.name for n in model.graph.node
            if n.op_type in ("MatMul", "Einsum") and not any(i in constant for i in n.input)]


def nodes_of_modules(path: Path, classes: Sequence[str]) -> list[str]:
    """Names of the nodes exported from inside a module of one of `classes` (by class name), read from the
    `pkg.torch.onnx.class_hierarchy` metadata torch's exporter writes on every node."""
    import ast

    import onnx

    model = onnx.load(str(path), load_external_data=False)
    names = []
    for node in model.graph.node:
        meta = {p.key: p.value for p in node.metadata_props}
        try:
            hierarchy = ast.literal_eval(meta.get("pkg.torch.onnx.class_hierarchy", "[]"))
        except (ValueError, SyntaxError):
            continue
        if any(str(c).rsplit(".", 1)[-1] in classes for c in hierarchy):
            names.append(node.name)
    return names


def nodes_with_weights(path: Path, modules: Sequence[str]) -> list[str]:
    """Names of the nodes that read an initializer whose name contains one of `modules`."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    names = {i.name for i in model.graph.initializer if any(m in i.name for m in modules)}
    return [n.name for n in model.graph.node if any(i in names for i in n.input)]


def keep_unquantized_consumers(model: Any) -> int:
    """Where ModelOpt's activation Q/DQ feeds both a quantized op and others (a residual Add, LayerNorm, a
    positional Sub/Mul), give the others the original FP32 tensor, so only QUANTIZED_OPS see INT8 values.
    Q/DQ pairs left without consumers are removed. Returns the number of inputs rewired (in place)."""
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list[Any]] = collections.defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    outputs = {o.name for o in graph.output}
    rewired = 0
    for dq in [n for n in graph.node if n.op_type == "DequantizeLinear"]:
        q = producer.get(dq.input[0])
        if q is None or q.op_type != "QuantizeLinear" or q.input[0] in initializers:
            continue  # a weight (or an already-quantized initializer): leave it
        original = q.input[0]
        for node in consumers[dq.output[0]]:
            if node.op_type in QUANTIZED_OPS:
                continue
            for k, name in enumerate(node.input):
                if name == dq.output[0]:
                    node.input[k] = original
                    rewired += 1
        if all(n.op_type not in QUANTIZED_OPS for n in consumers[dq.output[0]]) and dq.output[0] not in outputs:
            graph.node.remove(dq)
            if all(c is dq for c in consumers[q.output[0]]):
                graph.node.remove(q)
    used = {i for n in graph.node for i in n.input}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)
    return rewired


def _fp32_compute_nodes(model: Any) -> dict[str, int]:
    """Op type -> count of the float-computing nodes AutoCast left in FP32 (LayerNorm, Softmax, overflows)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type for v in [*inferred.graph.value_info, *inferred.graph.input]}
    types.update({i.name: i.data_type for i in model.graph.initializer})
    skip = {"Cast", "Shape", "Reshape", "Transpose", "Slice", "Squeeze", "Unsqueeze", "Concat", "Gather", "Expand"}
    kept = collections.Counter(n.op_type for n in model.graph.node
                               if n.op_type not in skip and n.input and types.get(n.input[0]) == onnx.TensorProto.FLOAT)
    return dict(kept)


def _precision_census(model: Any) -> dict[str, Any]:
    """What the converted graph contains: op counts of Q/DQ and Casts, and the quantized op types."""
    ops = collections.Counter(n.op_type for n in model.graph.node)
    produced = {o: n for n in model.graph.node for o in n.output}
    quantized = collections.Counter()
    for node in model.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear", "Cast"):
            continue
        if any(produced.get(i) is not None and produced[i].op_type == "DequantizeLinear" for i in node.input):
            quantized[node.op_type] += 1
    return {"quantize_linear": ops.get("QuantizeLinear", 0), "dequantize_linear": ops.get("DequantizeLinear", 0),
            "casts": ops.get("Cast", 0), "quantized_op_types": dict(quantized)}
