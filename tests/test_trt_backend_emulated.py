"""TrtBackend's data flow on a CPU: cuda-python and TensorRT's runtime emulated over host memory, the engines
running the demo ONNX with onnxruntime (tests/trt_emulation.py). Outputs must equal the ORT backend's exactly,
which proves staging, shapes, tensor addresses, the on-device embedding, chunking and graph replay."""

from __future__ import annotations

import numpy as np
import pytest

from sam_trt.config import KNOWN_CONFIGS
from sam_trt.data.scenes import generate_scene
from sam_trt.demo import DEMO_EXPORT
from sam_trt.engine.cache import Target
from sam_trt.engine.profiles import ProfileRanges
from sam_trt.errors import BackendError
from sam_trt.predictor import SamPredictor
from sam_trt.runtime.base import to_numpy
from sam_trt.runtime.loader import load_backend

from .trt_emulation import FakeCudart, make_fake_trt, write_plans

TARGET = Target("tensorrt", "10.99", "NVIDIA Emulated GPU", "9.0")
RANGES = ProfileRanges(prompts=(1, 4, 8), points=(1, 3, 6))  # max 8 prompts: chunking shows at small B


@pytest.fixture(scope="module")
def ort():
    return load_backend("demo", backend="ort", threads=1)


@pytest.fixture(scope="module")
def image():
    return generate_scene(5, size=(300, 400)).image


def _backend(tmp_path, monkeypatch, refuse_capture: bool = False, export=DEMO_EXPORT, model_type="demo",
             **options):
    from sam_trt.runtime import cuda
    from sam_trt.runtime.trt_backend import TrtBackend

    cudart = FakeCudart(refuse_capture)
    trt = make_fake_trt(cudart)
    monkeypatch.setattr(cuda, "import_cudart", lambda: cudart)
    monkeypatch.setattr("sam_trt.runtime.trt_backend.import_tensorrt", lambda prefer=None: trt)
    monkeypatch.setattr("sam_trt.runtime.trt_backend.machine_target", lambda flavour=None: TARGET)
    engines = write_plans(tmp_path, export, RANGES, KNOWN_CONFIGS[model_type], TARGET, model_type=model_type)
    return TrtBackend(engines, **options), cudart


def _prompts(batch: int, points: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0, 255, (batch, points, 2)).astype(np.float32),
            rng.integers(-1, 2, (batch, points)).astype(np.float32),
            rng.normal(0, 3, (batch, 1, 64, 64)).astype(np.float32), (np.arange(batch) % 2).astype(np.float32))


def test_encode_decode_equal_the_ort_backend(tmp_path, monkeypatch, ort, image):
    backend, _ = _backend(tmp_path, monkeypatch)
    resized, _ = backend.preprocess(image)
    embedding = backend.encode(resized)
    ref_embedding = ort.encode(resized)
    assert embedding.shape == (1, 128, 16, 16)
    np.testing.assert_array_equal(to_numpy(embedding), ref_embedding)
    assert set(backend.last_timings) >= {"encode_upload", "encode_compute"}
    for batch in (1, 3, 8, 11, 20, 3):  # 11 and 20 exceed the profile maximum of 8: split and merged
        prompts = _prompts(batch, seed=batch)
        iou, low_res = backend.decode(embedding, *prompts)
        ref_iou, ref_low = ort.decode(ref_embedding, *prompts)
        assert iou.shape == (batch, 4) and low_res.shape == (batch, 4, 64, 64)
        np.testing.assert_allclose(iou, ref_iou, atol=1e-5)
        np.testing.assert_allclose(low_res, ref_low, atol=1e-4)
    assert set(backend.last_timings) >= {"decode_upload", "decode_compute", "decode_download"}
    backend.close()
    backend.close()


def test_shapes_are_set_only_when_they_change(tmp_path, monkeypatch, image):
    backend, _ = _backend(tmp_path, monkeypatch)
    embedding = backend.encode(backend.preprocess(image)[0])
    context = backend.decoder.context
    context.shape_calls.clear()
    backend.decode(embedding, *_prompts(4))
    first = len(context.shape_calls)
    backend.decode(embedding, *_prompts(4, seed=1))
    assert len(context.shape_calls) == first, "same shapes: no set_input_shape"
    backend.decode(embedding, *_prompts(5, seed=2))
    assert {name for name, _ in context.shape_calls[first:]} == {"point_coords", "point_labels", "mask_input",
                                                                  "has_mask_input"}
    with pytest.raises(BackendError, match="7 points per prompt exceed the engine's profile maximum 6"):
        backend.decode(embedding, *_prompts(2, points=7))


def test_embeddings_stay_on_the_device_in_slots(tmp_path, monkeypatch, ort, image):
    backend, _ = _backend(tmp_path, monkeypatch, embedding_slots=2)
    resized = backend.preprocess(image)[0]
    first, second = backend.encode(resized), backend.encode(resized[:, :, :, ::-1].copy())
    assert (first.slot, second.slot) == (0, 1)
    runs = backend.decoder.context.runs
    a = backend.decode(first, *_prompts(2))[1]
    b = backend.decode(second, *_prompts(2))[1]
    assert backend.decoder.context.runs == runs + 2 and not np.allclose(a, b), "each handle decodes its own image"
    np.testing.assert_allclose(backend.decode(first, *_prompts(2))[1], a, atol=1e-6)
    backend.encode(resized)  # reuses slot 0
    with pytest.raises(BackendError, match="embedding was overwritten.*embedding_slots="):
        backend.decode(first, *_prompts(2))
    host = ort.encode(resized)
    np.testing.assert_allclose(backend.decode(host, *_prompts(2))[1], ort.decode(host, *_prompts(2))[1], atol=1e-4)


def test_cuda_graphs_replay_equals_eager_and_refusal_falls_back(tmp_path, monkeypatch, ort, image):
    logs = []
    graphed, cudart = _backend(tmp_path / "a", monkeypatch, cuda_graphs=True, graph_warmup=1, log=logs.append)
    embedding = graphed.encode(graphed.preprocess(image)[0])
    ref_embedding = to_numpy(embedding)
    for round_ in range(3):
        for batch in (1, 3, 12):  # 3 pads to graph size 4; 12 = 8 + 4
            prompts = _prompts(batch, seed=10 * round_ + batch)
            iou, low_res = graphed.decode(embedding, *prompts)
            ref_iou, ref_low = ort.decode(ref_embedding, *prompts)
            np.testing.assert_allclose(iou, ref_iou, atol=1e-5)
            np.testing.assert_allclose(low_res, ref_low, atol=1e-4)
    assert set(graphed._graphs) == {(1, 2), (4, 2), (8, 2)} and all(graphed._graphs.values())
    assert cudart.launches >= 5 and not logs
    refused, _ = _backend(tmp_path / "b", monkeypatch, refuse_capture=True, cuda_graphs=True, graph_warmup=0,
                          log=logs.append)
    embedding = refused.encode(refused.preprocess(image)[0])
    prompts = _prompts(3)
    np.testing.assert_allclose(refused.decode(embedding, *prompts)[1], ort.decode(ref_embedding, *prompts)[1],
                               atol=1e-4)
    assert refused._graphs == {(4, 2): None}
    assert len(logs) == 1 and "capture refused for decoder batch 4" in logs[0] and "cudaStreamBeginCapture" in logs[0]


def test_predictor_on_the_trt_backend_matches_ort(tmp_path, monkeypatch, ort, image):
    backend, _ = _backend(tmp_path, monkeypatch)
    ours, ref = SamPredictor(backend), SamPredictor(ort)
    ours.set_image(image)
    ref.set_image(image)
    box = np.array([50, 60, 250, 200])
    masks, iou, _ = ours.predict(np.array([[150, 120]]), np.array([1]), box=box)
    ref_masks, ref_iou, _ = ref.predict(np.array([[150, 120]]), np.array([1]), box=box)
    np.testing.assert_array_equal(masks, ref_masks)
    np.testing.assert_allclose(iou, ref_iou, atol=1e-5)
    np.testing.assert_array_equal(to_numpy(ours.get_image_embedding()), ref.get_image_embedding())


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")
def test_efficientvit_l0_plans_encode_at_512_and_match_ort(tmp_path, monkeypatch, edge_models, image):
    """An edge export through the TensorRT data flow: the encoder binding is 512 px, masks in the 1024 px frame."""
    export = edge_models.export("efficientvit_l0")
    backend, _ = _backend(tmp_path, monkeypatch, export=export, model_type="efficientvit_l0")
    ours, ref = SamPredictor(backend), SamPredictor(load_backend(export, backend="ort"))
    ours.set_image(image)
    ref.set_image(image)
    assert ours.input_size == ref.input_size == (768, 1024)
    box = np.array([50, 60, 250, 200])
    masks, iou, _ = ours.predict(np.array([[150, 120]]), np.array([1]), box=box)
    ref_masks, ref_iou, _ = ref.predict(np.array([[150, 120]]), np.array([1]), box=box)
    np.testing.assert_array_equal(masks, ref_masks)
    np.testing.assert_allclose(iou, ref_iou, atol=1e-5)
    backend.close()


def test_auto_picks_trt_when_the_plans_suit_this_machine(tmp_path, monkeypatch):
    _backend(tmp_path, monkeypatch)  # emulated GPU + TensorRT matching the plans' sidecars
    backend = load_backend(tmp_path, backend="auto")
    assert backend.name == "trt" and backend.device == "cuda:0" and backend.precision == "fp32"
    assert backend.describe()["tensorrt"] == "tensorrt 10.99" and backend.max_prompts == 8
