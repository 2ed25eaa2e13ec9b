"""The bundled demo model: loads through every backend, its shipped export matches its weights, and it
segments fixed generated scenes as well as recorded for the shipped weights."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from sam_trt import SamPredictor, sam_model_registry
from sam_trt.cli import main
from sam_trt.demo import DEMO_CONFIG, DEMO_EXPORT, DEMO_METADATA, DEMO_WEIGHTS, SAMPLE_IMAGE
from sam_trt.demo.bundle import check_scenes
from sam_trt.evaluation import prompted_ious
from sam_trt.export.manifest import read_manifest, sha256_file
from sam_trt.runtime.loader import load_backend


def test_registry_demo_loads_the_shipped_weights():
    sam = sam_model_registry["demo"]()
    assert sam.config == DEMO_CONFIG
    stored = load_file(str(DEMO_WEIGHTS))
    for key, value in sam.state_dict().items():
        assert value.dtype == torch.float32
        assert torch.equal(value, stored[key].float()), key
    assert DEMO_WEIGHTS.stat().st_size <= 10 * 1024 * 1024


def test_shipped_export_was_made_from_the_shipped_weights():
    manifest = read_manifest(DEMO_EXPORT)
    manifest.verify_checksums()
    assert manifest.data["weights_sha256"] == sha256_file(DEMO_WEIGHTS), "run: python -m sam_trt.demo.bundle"
    assert manifest.config == DEMO_CONFIG


def test_auto_backend_for_the_demo_is_onnxruntime():
    assert load_backend().name == "ort"
    assert load_backend("demo", backend="torch").name == "torch"


@pytest.fixture(scope="module")
def recorded():
    return json.loads(DEMO_METADATA.read_text())["ci_check"]


@pytest.mark.parametrize("backend", ["torch", "ort"])
def test_quality_on_fixed_scenes_matches_the_record(backend, recorded):
    ious = prompted_ious(SamPredictor(load_backend("demo", backend=backend)), check_scenes())
    assert len(ious["box"]) == recorded["objects"]
    assert abs(ious["box"].mean() - recorded["box_miou"]) <= 0.02
    assert abs(ious["click"].mean() - recorded["click_miou"]) <= 0.02


def test_segment_with_no_arguments_uses_the_bundled_model_and_sample(tmp_path, capsys):
    out = tmp_path / "overlay.png"
    assert main(["segment", "--output", str(out)]) == 0
    picture = cv2.imread(str(out))
    sample = cv2.imread(str(SAMPLE_IMAGE))
    assert picture.shape == sample.shape and not np.array_equal(picture, sample)
    assert "model demo on ort" in capsys.readouterr().out


def test_prompt_file_errors(tmp_path, capsys):
    bad = tmp_path / "p.json"
    bad.write_text('{"points": [[1]]}')
    assert main(["segment", "--prompts", str(bad), "--output", str(tmp_path / "o.png")]) == 2
    assert "not a valid prompt file" in capsys.readouterr().err
    assert main(["segment", "--prompts", str(tmp_path / "none.json"), "--output", str(tmp_path / "o.png")]) == 2
    assert "prompt file not found" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()
