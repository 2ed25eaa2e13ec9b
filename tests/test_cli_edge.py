"""The verbs with edge models: export reads the type off the checkpoint's keys, segment / amg run an EfficientViT-SAM
L0 export (512 px encoder, 1024 px prompt frame), bench takes --random-weights for an edge type and refuses the
official-package baseline for it in one line."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from sam_trt.cli import main
from sam_trt.export.manifest import read_manifest

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::FutureWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning")]


def test_export_reads_the_edge_type_from_the_checkpoint(edge_models):
    manifest = read_manifest(edge_models.export("efficientvit_l0"))  # made by `sam-trt export`, no --model-type
    assert manifest.data["model_type"] == "efficientvit_l0"
    assert manifest.data["encoder_size"] == 512 and manifest.data["image_size"] == 1024
    inputs = {i["name"]: i for i in manifest.data["graphs"]["encoder"]["inputs"]}
    assert inputs["image"]["shape"] == ["batch", 3, 512, 512]


def test_segment_and_amg_run_an_efficientvit_export(edge_models, tmp_path):
    image = np.full((300, 400, 3), 60, np.uint8)
    cv2.circle(image, (200, 150), 60, (30, 200, 220), -1)
    cv2.imwrite(str(tmp_path / "in.png"), image)
    export = str(edge_models.export("efficientvit_l0"))
    out, mask = tmp_path / "overlay.png", tmp_path / "mask.png"
    assert main(["segment", "--image", str(tmp_path / "in.png"), "--point", "200,150", "--checkpoint", export,
                 "--output", str(out), "--mask-output", str(mask)]) == 0
    assert cv2.imread(str(out)).shape == (300, 400, 3) and cv2.imread(str(mask), 0).shape == (300, 400)
    masks = tmp_path / "masks"
    assert main(["amg", "--input", str(tmp_path / "in.png"), "--output", str(masks), "--checkpoint", export,
                 "--convert-to-rle", "--points-per-side", "4", "--pred-iou-thresh", "0", "--stability-score-thresh",
                 "0"]) == 0
    record = json.loads((masks / "in.json").read_text())
    assert record["image"]["width"] == 400 and record["annotations"]
    assert all(a["segmentation"]["size"] == [300, 400] for a in record["annotations"])


def test_bench_random_edge_weights_and_no_official_baseline(tmp_path, capsys):
    out = tmp_path / "lat"
    quick = ["--repeats", "1", "--warmup", "1", "--batches", "1", "--image-size", "64x96", "--no-progress"]
    assert main(["bench", "latency", "--random-weights", "efficientvit_l0", "--backend", "torch",
                 "--baseline-official", "--output", str(out), *quick]) == 2
    err = capsys.readouterr().err
    assert "bench_edge_encoders.py" in err and len(err.strip().splitlines()) == 1 and not out.exists()
    assert main(["bench", "latency", "--random-weights", "efficientvit_l0", "--backend", "torch",
                 "--output", str(out), *quick]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["model"]["model_type"] == "efficientvit_l0" and "encoder" in results["stages"]
