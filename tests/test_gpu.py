"""GPU checks (marked `gpu`; skipped with the reason on machines without CUDA). One command on a GPU machine:

    python -m pytest -q -m gpu tests/test_gpu.py

TensorRT vs onnxruntime on the same ONNX (fp32 and the gated fp16 variant), the torch CUDA backend in
fp16/bf16 vs fp32, CUDA-graph decoders vs eager, device resize vs Pillow, and a cuda-python buffer round trip.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
import torch

from sam_trt.data.scenes import generate_scene
from sam_trt.demo import DEMO_EXPORT
from sam_trt.engine.cache import detect_gpu
from sam_trt.metrics import farthest_from_boundary
from sam_trt.predictor import SamPredictor
from sam_trt.runtime.base import to_numpy
from sam_trt.runtime.loader import load_backend

from .conftest import mask_iou

GPU_NAME, _ = detect_gpu()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(GPU_NAME is None, reason="no CUDA GPU on this machine "
                                                  "(cuda-python and torch.cuda found none)")]


@lru_cache(maxsize=1)
def scenes() -> list:
    return [generate_scene(100 + i, size=(480, 640), num_objects=(4, 7)) for i in range(4)]


def _masks(backend, multimask: bool = True) -> list[np.ndarray]:
    """Masks of one centre point per object of scenes(), then all objects as one prompt batch per scene."""
    predictor, out = SamPredictor(backend), []
    for scene in scenes():
        predictor.set_image(scene.image)
        points = np.array([farthest_from_boundary(m) for m in scene.masks], np.float32)
        for point in points:
            out.append(predictor.predict(point[None], np.array([1]), multimask_output=multimask)[0])
        coords = predictor.transform.apply_coords_torch(torch.as_tensor(points[:, None]), predictor.original_size)
        masks, _, _ = predictor.predict_torch(coords, torch.ones(len(points), 1), multimask_output=False)
        out.append(to_numpy(masks))
    return out


def _assert_iou(masks, reference, min_iou: float, mean_iou: float = 0.99) -> None:
    ious = np.concatenate([mask_iou(a, b) for a, b in zip(masks, reference)])
    assert ious.min() >= min_iou and ious.mean() >= mean_iou, f"IoU min {ious.min():.4f} mean {ious.mean():.4f}"


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    """Engines of the demo model for this GPU: fp32 (bundled export) and the gated fp16 variant."""
    pytest.importorskip("tensorrt", reason="TensorRT is not installed (pip install tensorrt --extra-index-url "
                        "https://pypi.nvidia.com)")
    pytest.importorskip("modelopt.onnx.quantization", reason="the fp16 variant needs nvidia-modelopt ('.[precision]')")
    from sam_trt.engine.build import build_engines
    from sam_trt.precision.variant import make_variant

    base = tmp_path_factory.mktemp("gpu-engines")
    fp16 = make_variant(DEMO_EXPORT, "fp16", base / "onnx" / "demo-fp16", progress=False, log=lambda _: None).folder
    for export in (DEMO_EXPORT, fp16):
        build_engines(export, base, progress=False, log=lambda _: None)
    return {"root": base, "fp32": DEMO_EXPORT, "fp16": fp16}


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_tensorrt_matches_onnxruntime_on_the_same_onnx(engines, precision):
    from sam_trt.runtime.trt_backend import TrtBackend

    with TrtBackend(engines["root"], precision=precision) as trt:
        masks = _masks(trt)
        assert set(trt.last_timings) >= {"encode_upload", "encode_compute", "decode_upload", "decode_compute"}
        assert all(v >= 0 for v in trt.last_timings.values())
        predictor = SamPredictor(trt)
        predictor.set_image(scenes()[0].image)
        emb = to_numpy(predictor.get_image_embedding())
    ort = load_backend(engines[precision], backend="ort")
    _assert_iou(masks, _masks(ort), min_iou=0.9)  # mean >= 0.99, as the precision gate
    ref = SamPredictor(ort)
    ref.set_image(scenes()[0].image)
    ref_emb = ref.get_image_embedding()
    # TensorRT may use TF32 for fp32 layers: a relative, not a bit-level, bound
    assert np.abs(emb - ref_emb).mean() <= (0.03 if precision == "fp16" else 0.01) * np.abs(ref_emb).mean()


def test_tensorrt_chunks_large_prompt_batches_and_graphs_equal_eager(engines):
    from sam_trt.runtime.trt_backend import TrtBackend

    rng = np.random.default_rng(0)
    with TrtBackend(engines["root"], precision="fp32") as eager, \
            TrtBackend(engines["root"], precision="fp32", cuda_graphs=True, graph_warmup=1) as graphed:
        image = eager.preprocess(scenes()[1].image)[0]
        emb_e, emb_g = eager.encode(image), graphed.encode(image)
        for batch in (1, 3, 16, 35, 3, 1, 16):  # repeats: warm-up, capture, replay; 35 > profile max 16
            prompts = (rng.uniform(0, 255, (batch, 2, 2)).astype(np.float32), np.ones((batch, 2), np.float32),
                       np.zeros((batch, 1, 64, 64), np.float32), np.zeros(batch, np.float32))
            ref = eager.decode(emb_e, *prompts)
            out = graphed.decode(emb_g, *prompts)
            assert out[1].shape == ref[1].shape == (batch, 4, 64, 64)
            np.testing.assert_allclose(out[0], ref[0], atol=1e-4)
            np.testing.assert_allclose(out[1], ref[1], atol=1e-3)
        assert any(g is not None for g in graphed._graphs.values()), "at least one decoder graph was captured"


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_torch_cuda_half_precisions_match_fp32(precision):
    reference = _masks(load_backend("demo", backend="torch", device="cuda"))
    _assert_iou(_masks(load_backend("demo", backend="torch", device="cuda", precision=precision)), reference,
                min_iou=0.9)


def test_torch_cuda_graph_decoder_equals_eager_and_device_resize_matches_pillow():
    eager = load_backend("demo", backend="torch", device="cuda", device_preprocess=False)
    graphed = load_backend("demo", backend="torch", device="cuda", cuda_graphs=True)
    assert graphed.device_preprocess, "CUDA backends resize on the device by default"
    _assert_iou(_masks(graphed), _masks(eager), min_iou=0.95)  # graphs + device resize vs eager + Pillow
    emb = eager.encode(eager.preprocess(scenes()[2].image)[0])
    rng = np.random.default_rng(1)
    for batch in (2, 2, 2, 5, 5, 5, 1):
        prompts = (rng.uniform(0, 255, (batch, 3, 2)).astype(np.float32), np.ones((batch, 3), np.float32),
                   np.zeros((batch, 1, 64, 64), np.float32), np.zeros(batch, np.float32))
        ref, out = eager.decode(emb, *prompts), graphed.decode(emb, *prompts)
        torch.testing.assert_close(out[0], ref[0], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(out[1], ref[1], atol=1e-3, rtol=1e-3)
    assert any(g is not None for g in graphed.graphs.graphs.values()), "a decoder graph was captured"


def test_cuda_python_buffers_round_trip_and_time():
    pytest.importorskip("cuda.bindings", reason="cuda-python is not installed (pip install cuda-python)")
    from sam_trt.runtime import cuda

    cuda.require_device(0)
    data = np.random.default_rng(0).integers(0, 255, (3, 1000, 1000), dtype=np.uint8)
    pinned, back = cuda.PinnedBuffer(data.nbytes), cuda.PinnedBuffer(data.nbytes)
    first, second = cuda.DeviceBuffer(data.nbytes), cuda.DeviceBuffer(data.nbytes)
    stream, timer = cuda.Stream(), cuda.StageTimer(("upload", "copy", "download"))
    try:
        host = pinned.view(data.shape, np.uint8)
        host[...] = data
        out = back.view(data.shape, np.uint8)
        out[...] = 0
        timer.mark(0, stream)
        stream.copy_to_device(first.ptr, host)
        timer.mark(1, stream)
        stream.copy_on_device(second.ptr, first.ptr, data.nbytes)
        timer.mark(2, stream)
        stream.copy_to_host(out, second.ptr)
        timer.mark(3, stream)
        stream.synchronize()
        np.testing.assert_array_equal(out, data)
        assert all(ms > 0 for ms in timer.timings_ms().values())
    finally:
        for resource in (pinned, back, first, second, timer, stream):
            resource.close()
            resource.close()  # idempotent
