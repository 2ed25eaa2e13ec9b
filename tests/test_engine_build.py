"""`sam-trt build` engines: tensorrt-rtx builds every precision variant of the demo model (both graphs, the
default profiles), the sidecar / cache key / mismatch errors, and the verb's errors."""

from __future__ import annotations

import json

import pytest

from sam_trt.demo import DEMO_EXPORT
from sam_trt.engine import cache
from sam_trt.engine.build import NO_GPU, build_engines
from sam_trt.engine.cache import Target, check_compatible, make_sidecar, read_sidecar, reusable
from sam_trt.engine.profiles import ProfileRanges
from sam_trt.errors import BackendError

RANGES = ProfileRanges(encoder_batch=(1, 1, 1), prompts=(1, 4, 16), points=(1, 3, 10))
ORIN = Target("tensorrt", "10.3.0", "Orin (nvgpu)", "8.7")


@pytest.fixture(scope="module")
def trt():
    from sam_trt.engine.tensorrt_import import import_tensorrt

    return import_tensorrt("tensorrt_rtx")


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    """fp32 (the bundled export), fp16 and int8 of the demo model (shared with test_precision in one session)."""
    pytest.importorskip("modelopt.onnx.quantization", reason="precision conversion needs nvidia-modelopt")
    from .test_precision import demo_variant

    base = tmp_path_factory.getbasetemp()
    return {"fp32": DEMO_EXPORT, **{p: demo_variant(base, p).folder for p in ("fp16", "int8")}}


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_tensorrt_rtx_builds_every_variant(trt, variants, precision, tmp_path):
    built = build_engines(variants[precision], tmp_path, RANGES, trt=trt, plan_only_check=True, progress=False,
                          log=lambda _: None)
    assert [b.graph for b in built] == ["encoder", "decoder"]
    assert all(b.size > 100_000 and b.plan is None for b in built)
    decoder = built[1].sidecar
    assert decoder["precision"] == precision
    assert decoder["profiles"]["point_coords"] == [[1, 1, 2], [4, 3, 2], [16, 10, 2]]
    assert built[0].sidecar["profiles"]["image"] == [[1, 3, 256, 256]] * 3
    assert not list(tmp_path.iterdir()), "a plan-only check keeps nothing"


def test_plans_sidecars_timing_cache_and_reuse(trt, tmp_path, monkeypatch):
    """With a (pretend) GPU: plans + sidecars under engines/<gpu>-sm<cc>-<trt><version>/, a timing cache, reuse."""
    target = Target(trt.__name__, str(trt.__version__), "NVIDIA GeForce RTX 4090", "8.9")
    monkeypatch.setattr("sam_trt.engine.build.running_target", lambda _: target)
    built = build_engines(DEMO_EXPORT, tmp_path, RANGES, trt=trt, progress=False, rebuild_command="sam-trt build X",
                          log=lambda _: None)
    folder = tmp_path / f"nvidia-geforce-rtx-4090-sm89-trtrtx{trt.__version__}"
    assert built[0].plan == folder / "demo-fp32-encoder.plan" and built[0].plan.is_file()
    sidecar = read_sidecar(built[1].plan)
    assert sidecar["gpu"] == {"name": "NVIDIA GeForce RTX 4090", "compute_capability": "8.9"}
    assert sidecar["tensorrt"] == {"flavour": "tensorrt_rtx", "version": str(trt.__version__)}
    assert sidecar["onnx_sha256"] == json.loads((DEMO_EXPORT / "manifest.json").read_text())["graphs"]["decoder"][
        "sha256"]["decoder.onnx"]
    assert sidecar["build_options"]["strongly_typed"] and sidecar["build_seconds"] > 0
    assert sidecar["cache_key"] == cache.cache_key(sidecar)
    check_compatible(sidecar, target)  # the machine it was built for accepts it
    again = build_engines(DEMO_EXPORT, tmp_path, RANGES, trt=trt, progress=False, log=lambda _: None)
    assert all(b.reused for b in again)
    other = build_engines(DEMO_EXPORT, tmp_path, ProfileRanges(prompts=(1, 8, 32)), trt=trt, progress=False,
                          log=lambda _: None)
    assert not other[1].reused, "new profiles change the cache key"


def _sidecar(target: Target = ORIN) -> dict:
    from pathlib import Path

    return make_sidecar(plan=Path("demo-int8-encoder.plan"), plan_bytes=b"plan", onnx_path=Path("encoder.onnx"),
                        onnx_sha256="ab" * 32, precision="int8", graph="encoder", target=target,
                        profiles={"image": ((1, 3, 256, 256),) * 3}, build_options={"optimization_level": 3},
                        gate={"status": "passed"}, build_seconds=1.0, model_type="demo",
                        rebuild_command="sam-trt build --onnx demo --precision int8 --output engines --force")


def test_mismatching_gpu_or_tensorrt_fails_with_both_sides_and_the_rebuild_command():
    sidecar = _sidecar()
    check_compatible(sidecar, ORIN)
    with pytest.raises(BackendError) as err:
        check_compatible(sidecar, Target("tensorrt", "10.3.0", "NVIDIA H100 80GB HBM3", "9.0"))
    message = str(err.value)
    assert "Orin (nvgpu) (sm 8.7)" in message and "NVIDIA H100 80GB HBM3 (sm 9.0)" in message
    assert "sam-trt build --onnx demo --precision int8" in message and "\n" not in message
    with pytest.raises(BackendError, match="built with tensorrt 10.3.0 but this machine runs tensorrt 10.13.3"):
        check_compatible(sidecar, Target("tensorrt", "10.13.3", "Orin (nvgpu)", "8.7"))
    with pytest.raises(BackendError, match="tensorrt_rtx 1.7"):
        check_compatible(sidecar, Target("tensorrt_rtx", "1.7", "Orin (nvgpu)", "8.7"))
    with pytest.raises(BackendError, match="no CUDA GPU"):
        check_compatible(sidecar, Target("tensorrt", "10.3.0"))
    edited = {**sidecar, "profiles": {"image": [[1, 3, 256, 256]] * 2}}
    with pytest.raises(BackendError, match="cache key mismatch"):
        check_compatible(edited, ORIN)


def test_cache_key_covers_the_reuse_fields():
    base = _sidecar()
    assert base["cache_key"] == cache.cache_key(dict(base, build_seconds=9.0, gate={"status": "failed"}))
    for change in ({"onnx_sha256": "cd" * 32}, {"tensorrt": {"flavour": "tensorrt", "version": "11.0"}},
                   {"gpu": {"name": "x", "compute_capability": "8.7"}}, {"build_options": {"optimization_level": 5}}):
        assert cache.cache_key({**base, **change}) != base["cache_key"]
    assert ORIN.folder_name() == "orin-nvgpu-sm87-trt10.3.0"


def test_reusable_needs_the_plan_its_sidecar_describes(tmp_path):
    plan = tmp_path / "demo-int8-encoder.plan"
    plan.write_bytes(b"plan")
    sidecar = _sidecar()
    cache.sidecar_path(plan).write_text(json.dumps(sidecar))
    assert reusable(plan, sidecar)
    plan.write_bytes(b"other plan")
    assert not reusable(plan, sidecar)


def test_no_gpu_says_what_is_missing(tmp_path, trt, monkeypatch):
    monkeypatch.setattr("sam_trt.engine.build.running_target", lambda t: Target(t.__name__, t.__version__))
    with pytest.raises(BackendError, match="no CUDA GPU found") as err:
        build_engines(DEMO_EXPORT, tmp_path, trt=trt, log=lambda _: None)
    assert "--plan-only-check" in str(err.value) == NO_GPU


# ---- the verb -------------------------------------------------------------------------------------------------

def test_cli_unknown_precision(capsys):
    from sam_trt.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["build", "--onnx", "demo", "--precision", "int4", "--output", "engines"])
    assert exit_.value.code == 2 and "invalid choice: 'int4'" in capsys.readouterr().err


def test_cli_missing_export_and_calibration_folders(tmp_path, capsys):
    from sam_trt.cli import main

    assert main(["build", "--onnx", str(tmp_path / "nope"), "--precision", "fp16", "--output", str(tmp_path)]) == 2
    assert "export folder not found" in capsys.readouterr().err
    assert main(["build", "--onnx", "demo", "--precision", "int8", "--calib", str(tmp_path / "none"),
                 "--output", str(tmp_path)]) == 2
    assert "calibration folder not found" in capsys.readouterr().err
    assert main(["build", "--onnx", str(tmp_path), "--precision", "fp16", "--output", str(tmp_path)]) == 2
    assert "not a sam-trt export folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["build", "--onnx", "demo", "--precision", "fp16", "--output", "e", "--prompts", "4,2,16"])


def test_cli_fp32_variant_and_plan_check(tmp_path, capsys):
    from sam_trt.cli import main

    assert main(["build", "--onnx", "demo", "--precision", "fp32", "--output", str(tmp_path), "--plan-only-check"]) == 0
    out = capsys.readouterr().out
    assert "demo-fp32: fp32, gate reference" in out and "decoder:" in out
    assert json.loads((tmp_path / "onnx" / "demo-fp32" / "manifest.json").read_text())["precision"] == "fp32"
