"""TensorRT's parser and builder accept both exported graphs with our optimization profiles.

TensorRT itself is not on PyPI; tensorrt-rtx is, and it parses and builds ahead of time on a CPU-only
machine with the same builder API, so CI proves our ONNX files build.
"""

from __future__ import annotations

import pytest

from sam_trt.engine.builder import build_plan
from sam_trt.engine.profiles import ProfileRanges, profile_shapes
from sam_trt.engine.tensorrt_import import import_tensorrt
from sam_trt.export.exporter import export_model
from sam_trt.export.manifest import read_manifest
from sam_trt.modeling import build_sam_from_config

from .conftest import SMALL_256


@pytest.fixture(scope="module")
def trt():
    return import_tensorrt("tensorrt_rtx")


def test_both_graphs_build(trt, tmp_path):
    export_model(build_sam_from_config(SMALL_256), tmp_path / "m", log=lambda _: None)
    manifest = read_manifest(tmp_path / "m")
    ranges = ProfileRanges(encoder_batch=(1, 1, 2), prompts=(1, 8, 16), points=(1, 4, 10))
    for graph in ("encoder", "decoder"):
        plan = build_plan(manifest.graph_path(graph), profile_shapes(manifest.config, graph, ranges), trt=trt)
        assert len(plan) > 100_000  # a serialized engine, not an error stub


def test_profiles_cover_the_dynamic_inputs():
    shapes = profile_shapes(SMALL_256, "decoder", ProfileRanges(prompts=(1, 4, 16), points=(1, 3, 10)))
    assert shapes["point_coords"] == ((1, 1, 2), (4, 3, 2), (16, 10, 2))
    assert shapes["mask_input"][2] == (16, 1, 64, 64)
    assert profile_shapes(SMALL_256, "encoder", ProfileRanges())["image"][0] == (1, 3, 256, 256)


def test_parse_errors_are_reported(trt, tmp_path):
    from sam_trt import BackendError

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(BackendError, match="could not parse"):
        build_plan(bad, {}, trt=trt)
