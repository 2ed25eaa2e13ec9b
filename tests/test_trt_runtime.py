"""TensorRT runtime logic that needs no GPU: buffer sizing from I/O descriptions (hand-written, read from an
engine-like object, and derived with tensorrt-rtx from the demo export), chunking, sidecar checks before
deserialising, engines-folder loading with the ORT fallback, and guarded imports."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sam_trt.config import DEMO_CONFIG
from sam_trt.demo import DEMO_EXPORT
from sam_trt.engine.cache import Target, make_sidecar, sidecar_path
from sam_trt.engine.profiles import ProfileRanges, profile_shapes
from sam_trt.errors import BackendError
from sam_trt.export.manifest import read_manifest
from sam_trt.runtime.chunking import chunk_slices, concat, pad_rows, padded_size
from sam_trt.runtime.loader import load_backend
from sam_trt.runtime.trt_io import TensorIO, io_from_engine, io_from_network, manifest_output_dims, numpy_dtype
from sam_trt.runtime.trt_plans import find_plans

OTHER_GPU = Target("tensorrt_rtx", "0.0.1", "NVIDIA Jetson AGX Orin", "8.7")


@pytest.fixture(scope="module")
def trt():
    return pytest.importorskip("tensorrt_rtx", reason="tensorrt-rtx (pip install tensorrt-rtx) parses ONNX on CPU")


def test_tensor_io_sizes_and_profile_bounds():
    coords = TensorIO("point_coords", True, np.dtype(np.float32), (16, 10, 2))
    image = TensorIO("image", True, np.dtype(np.uint8), (1, 3, 1024, 1024))
    half = TensorIO("low_res_masks", False, np.dtype(np.float16), (16, 4, 256, 256))
    assert (coords.max_bytes, image.max_bytes, half.max_bytes) == (1280, 3 * 1024 * 1024, 16 * 4 * 256 * 256 * 2)
    assert coords.nbytes((3, 5, 2)) == 3 * 5 * 2 * 4
    with pytest.raises(BackendError, match=r"\(17, 5, 2\) is outside the engine's profile.*--prompts"):
        coords.nbytes((17, 5, 2))
    with pytest.raises(BackendError, match="outside"):
        coords.nbytes((3, 5))


def test_numpy_dtypes_of_tensorrt_types(trt):
    assert numpy_dtype(trt.DataType.FLOAT) == np.float32 and numpy_dtype(trt.DataType.HALF) == np.float16
    assert numpy_dtype(trt.DataType.UINT8) == np.uint8 and numpy_dtype(trt.DataType.INT32) == np.int32
    assert numpy_dtype(trt.DataType.BF16).itemsize == 2 and numpy_dtype("DataType.INT64") == np.int64
    with pytest.raises(BackendError, match="FP4 has no buffer mapping"):
        numpy_dtype("DataType.FP4")


def _parse(trt, graph: str):
    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    assert parser.parse_from_file(str(read_manifest(DEMO_EXPORT).graph_path(graph)))
    return builder, network, parser


@pytest.mark.parametrize("ranges", [ProfileRanges(), ProfileRanges(prompts=(1, 8, 32), points=(1, 2, 5))])
def test_io_derived_from_the_parsed_demo_export_and_profiles(trt, ranges):
    manifest = read_manifest(DEMO_EXPORT)
    sizes = {}
    for graph in ("encoder", "decoder"):
        _, network, _ = _parse(trt, graph)
        io = io_from_network(network, profile_shapes(DEMO_CONFIG, graph, ranges),
                             manifest_output_dims(manifest.graph(graph)))
        sizes.update({t.name: (t.is_input, t.dtype, t.max_shape, t.max_bytes) for t in io})
    b, n, s, c = ranges.prompts[2], ranges.points[2], DEMO_CONFIG.low_res_size, DEMO_CONFIG.prompt_embed_dim
    assert sizes["image"] == (True, np.uint8, (1, 3, 256, 256), 3 * 256 * 256)
    assert sizes["input_size"] == (True, np.int32, (1, 2), 8)
    assert sizes["image_embeddings"][1:] == (np.float32, (1, c, 16, 16), c * 16 * 16 * 4)
    assert sizes["point_coords"] == (True, np.float32, (b, n, 2), b * n * 2 * 4)
    assert sizes["has_mask_input"] == (True, np.float32, (b,), b * 4)
    assert sizes["iou_predictions"] == (False, np.float32, (b, 4), b * 4 * 4)
    assert sizes["low_res_masks"] == (False, np.float32, (b, 4, s, s), b * 4 * s * s * 4)


class _FakeEngine:
    """The name-based ICudaEngine/IExecutionContext surface io_from_engine uses (shapes as TensorRT reports)."""

    def __init__(self, trt, max_prompts: int) -> None:
        self.trt, self.max = trt, max_prompts
        self.tensors = {"point_coords": ((-1, -1, 2), trt.TensorIOMode.INPUT, trt.DataType.FLOAT),
                        "image_embeddings": ((1, 8, 4, 4), trt.TensorIOMode.INPUT, trt.DataType.HALF),
                        "low_res_masks": ((-1, 4, 16, 16), trt.TensorIOMode.OUTPUT, trt.DataType.HALF)}
        self.num_io_tensors = len(self.tensors)
        self.set_shapes: dict[str, tuple] = {}

    def get_tensor_name(self, i):
        return list(self.tensors)[i]

    def get_tensor_mode(self, name):
        return self.tensors[name][1]

    def get_tensor_dtype(self, name):
        return self.tensors[name][2]

    def get_tensor_shape(self, name):  # engine (with -1) and context (resolved) share it here
        shape = self.tensors[name][0]
        if self.tensors[name][1] == self.trt.TensorIOMode.OUTPUT and "point_coords" in self.set_shapes:
            return (self.set_shapes["point_coords"][0], *shape[1:])
        return shape

    def get_tensor_profile_shape(self, name, profile):
        assert name == "point_coords" and profile == 0, "only dynamic inputs have profile shapes"
        return [(1, 1, 2), (4, 3, 2), (self.max, 10, 2)]

    def set_input_shape(self, name, shape):
        self.set_shapes[name] = tuple(shape)
        return True


def test_io_read_from_an_engine_uses_profile_maxima(trt):
    engine = _FakeEngine(trt, max_prompts=16)
    io = {t.name: t for t in io_from_engine(engine, engine, trt)}
    assert io["point_coords"].max_shape == (16, 10, 2) and io["point_coords"].is_input
    assert io["image_embeddings"].max_shape == (1, 8, 4, 4) and io["image_embeddings"].dtype == np.float16
    assert io["low_res_masks"].max_shape == (16, 4, 16, 16) and not io["low_res_masks"].is_input
    assert io["low_res_masks"].max_bytes == 16 * 4 * 16 * 16 * 2
    assert engine.set_shapes == {"point_coords": (16, 10, 2)}, "static inputs keep their shape"


@pytest.mark.parametrize("batch,max_batch,expected", [(35, 16, [16, 16, 3]), (32, 16, [16, 16]), (3, 16, [3]),
                                                      (1, 1, [1]), (7, 2, [2, 2, 2, 1]), (0, 4, [0])])
def test_chunk_slices_cover_the_batch_in_order(batch, max_batch, expected):
    slices = chunk_slices(batch, max_batch)
    assert [s.stop - s.start for s in slices] == expected
    assert np.concatenate([np.arange(batch)[s] for s in slices]).tolist() == list(range(batch))


def test_padding_to_graph_sizes_and_merging():
    sizes = (1, 2, 4, 8, 16)
    assert [padded_size(b, sizes) for b in (1, 2, 3, 5, 9, 16, 17)] == [1, 2, 4, 8, 16, 16, None]
    a = np.arange(6, dtype=np.float32).reshape(3, 2)
    (padded,) = pad_rows([a], 4)
    assert padded.tolist() == [[0, 1], [2, 3], [4, 5], [4, 5]]
    (tensor,) = pad_rows([torch.from_numpy(a)], 8)
    assert tensor.shape == (8, 2) and tensor[3:].eq(torch.tensor([4.0, 5.0])).all()
    assert concat([torch.ones(2, 3), torch.zeros(1, 3)]).shape == (3, 3)
    assert concat([a, a]).shape == (6, 2) and concat([a]) is a


def _fake_engines(folder: Path, target: Target, onnx_dir: Path = DEMO_EXPORT, precision: str = "fp16") -> Path:
    """Plans (not real ones) with sidecars as sam-trt build writes them, for `target`."""
    folder = folder / target.folder_name()
    folder.mkdir(parents=True)
    for graph in ("encoder", "decoder"):
        plan = folder / f"demo-{precision}-{graph}.plan"
        plan.write_bytes(b"not a plan")
        sidecar = make_sidecar(plan=plan, plan_bytes=b"not a plan", onnx_path=onnx_dir / f"{graph}.onnx",
                               onnx_sha256="ab" * 32, precision=precision, graph=graph, target=target,
                               profiles=profile_shapes(DEMO_CONFIG, graph, ProfileRanges()), build_options={},
                               gate={}, build_seconds=1.0, model_type="demo",
                               rebuild_command=f"sam-trt build --onnx {onnx_dir} --precision {precision}")
        sidecar_path(plan).write_text(json.dumps(sidecar))
    return folder.parent


def test_sidecar_mismatch_is_refused_before_deserialising(trt, tmp_path, monkeypatch):
    pytest.importorskip("cuda.bindings", reason="cuda-python (pip install cuda-python) provides cuda.bindings")
    from sam_trt.runtime.trt_backend import TrtBackend

    engines = _fake_engines(tmp_path, Target(trt.__name__, str(trt.__version__), OTHER_GPU.gpu_name, "8.7"))
    opened = []
    monkeypatch.setattr(trt, "Runtime", lambda *a: opened.append(a))
    monkeypatch.setattr("sam_trt.runtime.trt_backend.machine_target",
                        lambda flavour=None: Target(trt.__name__, str(trt.__version__), "NVIDIA H100 80GB HBM3", "9.0"))
    with pytest.raises(BackendError) as err:
        TrtBackend(engines)
    message = str(err.value)
    assert "NVIDIA Jetson AGX Orin (sm 8.7)" in message and "NVIDIA H100 80GB HBM3 (sm 9.0)" in message
    assert "sam-trt build --onnx" in message and "\n" not in message
    monkeypatch.setattr("sam_trt.runtime.trt_backend.machine_target",
                        lambda flavour=None: Target(trt.__name__, "9.9", OTHER_GPU.gpu_name, "8.7"))
    with pytest.raises(BackendError, match=f"built with tensorrt_rtx {trt.__version__} but this machine runs"):
        TrtBackend(engines)
    assert not opened, "no plan may be deserialised before its sidecar is accepted"


def test_auto_falls_back_to_ort_on_the_plans_export_with_the_reason(trt, tmp_path):
    pytest.importorskip("cuda.bindings", reason="cuda-python provides cuda.bindings")
    engines = _fake_engines(tmp_path, OTHER_GPU)
    with pytest.warns(UserWarning, match=r"not using TensorRT: engine .*demo-fp16-encoder.plan was built with "
                      r"tensorrt_rtx 0.0.1 .*; falling back to onnxruntime on .*export"):
        backend = load_backend(engines, backend="auto")
    assert backend.name == "ort" and backend.manifest.folder == DEMO_EXPORT
    with pytest.raises(BackendError, match="was built with tensorrt_rtx 0.0.1"):
        load_backend(engines, backend="trt")
    with pytest.raises(BackendError, match="holds TensorRT engines; run them with backend='trt'"):
        load_backend(engines, backend="ort")
    gone = _fake_engines(tmp_path / "b", OTHER_GPU, onnx_dir=tmp_path / "deleted-export")
    with pytest.raises(BackendError, match="the export folder they were built from is gone") as err:
        load_backend(gone, backend="auto")
    assert "\n" not in str(err.value)


def test_find_plans_picks_one_model_and_precision(tmp_path):
    engines = _fake_engines(tmp_path, OTHER_GPU, precision="fp16")
    folder = engines / OTHER_GPU.folder_name()
    for graph in ("encoder", "decoder"):
        (folder / f"demo-int8-{graph}.plan").write_bytes(b"x")
    with pytest.raises(BackendError, match="several match.*pass model_type= and precision="):
        find_plans(engines)
    assert find_plans(engines, precision="int8")["decoder"] == folder / "demo-int8-decoder.plan"
    (folder / "demo-int8-decoder.plan").unlink()
    with pytest.raises(BackendError, match="demo-int8-decoder.plan is missing"):
        find_plans(engines, precision="int8")
    _fake_engines(tmp_path, Target("tensorrt", "10.3.0", "NVIDIA A2", "8.6"))
    with pytest.raises(BackendError, match="none for this machine"):
        find_plans(tmp_path, precision="fp16", target_folder="rtx-4090-sm89-trt10.3.0")
    assert find_plans(tmp_path, precision="fp16", target_folder=OTHER_GPU.folder_name())["encoder"].parent == folder
    with pytest.raises(BackendError, match="holds no TensorRT plans"):
        find_plans(tmp_path / "nothing")


def test_cuda_errors_name_the_call_and_cuda_reason():
    cudart = pytest.importorskip("cuda.bindings.runtime", reason="cuda-python provides cuda.bindings")
    from sam_trt.runtime import cuda

    if cudart.cudaGetDeviceCount()[0] == cudart.cudaError_t.cudaSuccess:
        pytest.skip("this machine has a CUDA driver: the no-GPU error paths cannot be exercised")
    with pytest.raises(BackendError, match=r"CUDA call cudaMalloc failed: cudaError\w+ \(.+\)"):
        cuda.DeviceBuffer(1024)
    with pytest.raises(BackendError, match=r"no usable CUDA GPU: cudaGetDeviceCount failed with cudaError"):
        cuda.require_device(0)
    with pytest.raises(BackendError, match="cudaStreamCreateWithFlags failed"):
        cuda.Stream()
    assert cuda.check("cudaGetErrorName", cudart.cudaGetErrorName(cudart.cudaError_t.cudaErrorNoDevice)) == \
        b"cudaErrorNoDevice"


def test_missing_cuda_python_or_tensorrt_gives_one_line_errors(monkeypatch, tmp_path):
    from sam_trt.engine.tensorrt_import import import_tensorrt
    from sam_trt.runtime.trt_backend import TrtBackend

    monkeypatch.setitem(sys.modules, "cuda.bindings", None)
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", None)
    for call in (lambda: TrtBackend(tmp_path), lambda: load_backend(_fake_engines(tmp_path, OTHER_GPU), "trt")):
        with pytest.raises(BackendError, match=r"needs cuda-python .*pip install 'sam-trt\[trt\]'") as err:
            call()
        assert "\n" not in str(err.value)
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    monkeypatch.setitem(sys.modules, "tensorrt_rtx", None)
    with pytest.raises(BackendError, match="TensorRT is not installed") as err:
        import_tensorrt()
    assert "\n" not in str(err.value)


def test_the_trt_inference_path_imports_no_torch():
    import subprocess

    code = ("import sys; import sam_trt.runtime.trt_backend, sam_trt.runtime.loader, sam_trt.predictor; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
