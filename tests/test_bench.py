"""The benchmark harness: metric rules against hand-computed cases, fidelity of a backend against itself,
COCO loading, both `sam-trt bench` commands end to end on tiny settings, and their one-line errors."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from sam_trt.bench.dataset import CocoDataset
from sam_trt.bench.fidelity import compare, gt_prompts, passes
from sam_trt.bench.models import ModelSource, parse_backend_list
from sam_trt.bench.timing import interleaved_order, summarize
from sam_trt.cli import main
from sam_trt.config import KNOWN_CONFIGS
from sam_trt.data import generate_scene, rng_for, write_coco
from sam_trt.demo import DEMO_EXPORT
from sam_trt.errors import BackendError, InputError
from sam_trt.evaluation import evaluate_image
from sam_trt.metrics import bucket_means, cosine_similarity, distribution, next_click
from sam_trt.predictor import SamPredictor
from sam_trt.runtime.loader import load_backend

from .conftest import SMALL_256

# ---------------------------------------------------------------- metric rules, computed by hand


def test_next_click_goes_to_the_middle_of_the_missed_part():
    gt = np.zeros((20, 20), bool)
    gt[5:15, 5:15] = True
    pred = np.zeros_like(gt)
    pred[5:15, 5:10] = True  # the left half found; columns 10..14 missed
    x, y, label = next_click(pred, gt)
    # The missed part is 5 wide: its centre column 12 is 3 px from either side; rows 7..12 are at least 3
    # px from its top and bottom, and the first of those in row-major order is row 7.
    assert (x, y, label) == (12.0, 7.0, 1)


def test_next_click_is_negative_on_a_false_positive_and_none_when_perfect():
    gt = np.zeros((20, 20), bool)
    gt[2:12, 5:15] = True
    pred = gt.copy()
    pred[14:20, 2:18] = True  # a 6-row strip of false positives along the bottom image border
    x, y, label = next_click(pred, gt)
    assert label == 0 and not gt[int(y), int(x)] and pred[int(y), int(x)]
    assert y == 16.0  # 3 px from row 13 (outside) and from the image border below row 19
    assert next_click(gt, gt) is None


def test_next_click_tie_prefers_the_missed_region():
    gt = np.zeros((20, 24), bool)
    gt[5:15, 2:12] = True
    pred = np.zeros_like(gt)
    pred[5:15, 8:18] = True  # missed columns 2..7 and false columns 12..17: mirror images
    assert next_click(pred, gt)[2] == 1


def test_bucket_means_use_coco_thresholds():
    areas = [100, 32 * 32, 96 * 96, 96 * 96 + 1]  # small, medium (== 32^2), medium (== 96^2), large
    out = bucket_means([0.1, 0.2, 0.3, 0.4], areas)
    assert out["all"] == {"mean": pytest.approx(0.25), "count": 4}
    assert out["small"] == {"mean": pytest.approx(0.1), "count": 1}
    assert out["medium"] == {"mean": pytest.approx(0.25), "count": 2}
    assert out["large"] == {"mean": pytest.approx(0.4), "count": 1}
    assert bucket_means([0.5], [10])["large"] == {"mean": None, "count": 0}


def test_cosine_distribution_and_summary_statistics():
    a = np.random.default_rng(0).normal(size=(1, 8, 4, 4)).astype(np.float32)
    assert cosine_similarity(a, a.copy()) == 1.0
    assert cosine_similarity(a, -a) == -1.0
    assert cosine_similarity([1.0, 0.0], [0.0, 2.0]) == 0.0
    d = distribution(np.arange(101))
    assert (d["min"], d["p1"], d["p5"], d["p50"], d["max"], d["mean"]) == (0, 1, 5, 50, 100, 50)
    s = summarize([0.1, 0.2, 0.3, 0.4, 0.5], units=4)
    assert s["p50_s"] == pytest.approx(0.3) and s["throughput_per_s"] == pytest.approx(4 / 0.3)
    assert s["p90_s"] == pytest.approx(0.46) and s["p99_s"] == pytest.approx(0.496)
    assert interleaved_order(["a", "b", "c"], 1) == ["b", "c", "a"]


# ---------------------------------------------------------------- evaluation and fidelity


@pytest.fixture(scope="module")
def scenes():
    return [generate_scene(rng_for(77, i), size=(96, 128)) for i in range(2)]


@pytest.fixture(scope="module")
def ort_demo():
    return load_backend("demo", backend="ort")


@pytest.fixture(scope="module")
def torch_demo():
    return load_backend("demo", backend="torch", device="cpu")


def test_k_click_refinement_shapes_and_first_click(scenes, ort_demo):
    scene = scenes[0]
    ev = evaluate_image(SamPredictor(ort_demo), scene.image, scene.masks, clicks=3, keep_outputs=True)
    count = len(scene.masks)
    assert ev.refine_iou.shape == (count, 3) and ev.box_iou.shape == (count, 4)
    np.testing.assert_array_equal(ev.refine_iou[:, 0], ev.click_best)
    assert np.all((ev.refine_iou >= 0) & (ev.refine_iou <= 1))
    assert ev.box.masks.shape == (count, 4, 96, 128) and ev.embedding.shape == (1, 128, 16, 16)


@pytest.mark.parametrize("name", ["ort", "torch"])
def test_fidelity_of_a_backend_against_itself_is_exact(name, scenes, ort_demo, torch_demo):
    backend = ort_demo if name == "ort" else torch_demo
    images = [s.image for s in scenes]
    result = compare(backend, backend, images, [gt_prompts(s.masks) for s in scenes])
    assert result["images"] == 2 and result["prompts"] == 2 * sum(len(s.masks) for s in scenes)
    assert result["mask_iou"]["mean"] == 1.0 and result["mask_iou"]["min"] == 1.0
    assert result["mask_iou"]["count"] == 4 * result["prompts"]
    assert result["embedding_cosine"]["min"] == 1.0 and result["embedding_max_abs_error"] == 0.0
    assert result["pred_iou_abs_error"]["max"] == 0.0
    assert passes(result, miou_drop_points=0.0)["passed"]


def test_fidelity_of_ort_against_torch_passes_the_gate(scenes, ort_demo, torch_demo):
    result = compare(ort_demo, torch_demo, [s.image for s in scenes])  # default prompts: a 4x4 click grid
    assert result["prompts"] == 32
    assert result["mask_iou"]["mean"] > 0.999 and result["embedding_cosine"]["min"] > 0.9999
    gate = passes(result, miou_drop_points=0.5)
    assert not gate["passed"] and not gate["checks"]["miou_drop_points"]["ok"]
    assert gate["checks"]["mask_iou_mean"]["ok"]


# ---------------------------------------------------------------- COCO loading


def _square_polygon(x0, y0, x1, y1):
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]


@pytest.fixture
def coco_dir(tmp_path):
    """Two images, one object each as a polygon and one as RLE (via write_coco), plus a crowd annotation."""
    path = write_coco(tmp_path / "ds", 2, seed=5, size=(64, 80))
    data = json.loads(path.read_text())
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] == 1][:1]
    data["annotations"].append({"id": 100, "image_id": 2, "category_id": 1, "iscrowd": 0, "area": 200.0,
                                "bbox": [10, 10, 20, 10], "segmentation": _square_polygon(10, 10, 30, 20)})
    data["annotations"].append({"id": 101, "image_id": 2, "category_id": 1, "iscrowd": 1, "area": 10.0,
                                "bbox": [0, 0, 5, 2], "segmentation": _square_polygon(0, 0, 5, 2)})
    path.write_text(json.dumps(data))
    return path


def test_coco_dataset_reads_rle_and_polygons_and_skips_crowds(coco_dir):
    dataset = CocoDataset(coco_dir.parent)  # the folder works as well as the file
    samples = list(dataset)
    assert len(samples) == 2 and dataset.crowd_skipped == 1
    polygon = samples[1]
    assert polygon.masks.shape == (1, 64, 80) and polygon.annotation_ids == [100]
    assert polygon.masks[0, 10:20, 10:30].all() and polygon.masks[0].sum() <= 21 * 11
    assert polygon.areas[0] == 200.0
    assert samples[0].masks[0].sum() == samples[0].areas[0]  # RLE area as written


def test_coco_dataset_errors(coco_dir, tmp_path):
    with pytest.raises(InputError, match="dataset not found"):
        CocoDataset(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not a readable COCO"):
        CocoDataset(bad)
    data = json.loads(coco_dir.read_text())
    empty = coco_dir.parent / "empty.json"
    empty.write_text(json.dumps({**data, "annotations": [a for a in data["annotations"] if a["iscrowd"]]}))
    with pytest.raises(InputError, match="no objects to evaluate"):
        CocoDataset(empty)
    (coco_dir.parent / "images" / "000001.png").unlink()
    with pytest.raises(InputError, match="1 of 2 images not found"):
        CocoDataset(coco_dir)
    cv2.imwrite(str(coco_dir.parent / "images" / "000001.png"), np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(InputError, match="is 10x10 but its annotation says 64x80"):
        list(CocoDataset(coco_dir))


# ---------------------------------------------------------------- model sources and backend lists


def test_backend_lists_and_sources():
    assert [s.label for s in parse_backend_list("torch, ort,torch:fp16")] == ["torch", "ort", "torch:fp16"]
    for text, message in (("tensorflow", "unknown backend"), ("torch:fp12", "unknown precision"),
                          ("ort,ort", "listed twice"), (",", "no backend")):
        with pytest.raises(BackendError, match=message):
            parse_backend_list(text)
    with pytest.raises(BackendError, match="model not found"):
        ModelSource("nowhere.pth")
    with pytest.raises(BackendError, match="not both"):
        ModelSource("x.pth", random_weights="vit_b")
    assert [s.label for s in ModelSource().default_backends()] == ["torch", "ort"]
    specs = parse_backend_list(f"ort,ort:fp32@{DEMO_EXPORT}")  # a system with its own export folder
    assert [s.label for s in specs] == ["ort", "ort:fp32@export"] and specs[1].source == str(DEMO_EXPORT)
    assert ModelSource().load(specs[1]).precision == "fp32"
    with pytest.raises(BackendError, match="not fp16"):
        ModelSource().load(parse_backend_list(f"ort:fp16@{DEMO_EXPORT}")[0])


# ---------------------------------------------------------------- the commands end to end


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """The commands below run with --threads 1 (fast and steady on a busy 2-core machine); torch's
    setting is process-wide, so put it back for the tests that follow."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _finite_numbers(value, path="results"):
    if isinstance(value, dict):
        for k, v in value.items():
            _finite_numbers(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _finite_numbers(v, f"{path}[{i}]")
    elif isinstance(value, float):
        assert math.isfinite(value), path


def test_latency_command_end_to_end(tmp_path, capsys):
    out = tmp_path / "lat"
    code = main(["bench", "latency", "--output", str(out), "--repeats", "2", "--warmup", "1", "--prime", "1",
                 "--settle", "0", "--batches", "1,4", "--image-size", "96x128", "--baseline-official", "--threads", "1",
                 "--no-progress"])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["decoder_batches.png", "latency_stages.png", "report.md",
                                                     "results.json"]
    results = json.loads((out / "results.json").read_text())
    _finite_numbers(results)
    assert list(results["systems"]) == ["torch", "ort", "official"]
    assert results["stage_order"] == ["preprocess", "encoder", "decoder_b1", "decoder_b4", "postprocess",
                                      "end_to_end"]
    for name, per in results["stages"].items():
        assert set(per) == {"torch", "ort", "official"}, name
        for s in per.values():
            assert s["runs"] == 2 and 0 < s["p50_s"] <= s["p90_s"] <= s["p99_s"] <= s["max_s"] < 60
            assert s["prime_calls"] in (0, 1)  # 0 where the warm-up call took over 0.5 s
            assert s["throughput_per_s"] > 0
    assert results["stages"]["decoder_b4"]["ort"]["units"] == 4
    assert results["reference"] == "official"
    for system in results["systems"].values():
        assert system["memory"]["host_peak_rss_mib"] > 0 and system["precision"] == "fp32"
    assert results["model"]["model_type"] == "demo" and results["machine"]["cpu_count"] >= 1
    assert "onnxruntime" in results["machine"]["versions"]
    report = (out / "report.md").read_text()
    assert "## p50 latency per stage (ms)" in report and "| decoder_b4 | 4 prompts |" in report
    assert "wrote" in capsys.readouterr().out


def test_accuracy_command_end_to_end(tmp_path):
    out = tmp_path / "acc"
    code = main(["bench", "accuracy", "--output", str(out), "--synthetic-scenes", "2", "--synthetic-size", "96x128",
                 "--cache-dir", str(tmp_path / "cache"), "--clicks", "2", "--threads", "1", "--no-progress"])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["clicks.png", "fidelity_iou.png", "iou_histograms.png",
                                                     "latency_vs_accuracy.png", "report.md", "results.json"]
    results = json.loads((out / "results.json").read_text())
    _finite_numbers(results)
    assert results["reference"] == "torch" and set(results["accuracy"]) == {"torch", "ort"}
    objects = results["dataset"]["objects"]
    for acc in results["accuracy"].values():
        assert acc["objects"] == objects > 0
        for metric in ("box", "box_multi", "click"):
            assert 0 <= acc[metric]["all"]["mean"] <= 1
            assert sum(acc[metric][b]["count"] for b in ("small", "medium", "large")) == objects
        assert len(acc["clicks_miou"]) == 2 and acc["timing"]["set_image"]["runs"] == 2
    fid = results["fidelity"]["ort"]
    assert fid["mask_iou"]["count"] == 4 * 2 * objects and 0.99 <= fid["mask_iou"]["mean"] <= 1
    assert fid["gate"]["passed"] and sum(fid["mask_iou_histogram"]["counts"]) == fid["mask_iou"]["count"]
    assert "## Fidelity against torch" in (out / "report.md").read_text()
    # a real COCO folder, one backend, no reference
    dataset = write_coco(tmp_path / "coco", 2, seed=3, size=(64, 64))
    code = main(["bench", "accuracy", "--output", str(tmp_path / "acc2"), "--dataset", str(dataset),
                 "--backend", "ort", "--threads", "1", "--no-progress"])
    results = json.loads((tmp_path / "acc2" / "results.json").read_text())
    assert code == 0 and results["fidelity"] == {} and list(results["accuracy"]) == ["ort"]
    assert not (tmp_path / "acc2" / "fidelity_iou.png").exists()


def test_random_weights_source_with_the_official_baseline(tmp_path, monkeypatch):
    monkeypatch.setitem(KNOWN_CONFIGS, "tiny", SMALL_256)
    out = tmp_path / "lat"
    code = main(["bench", "latency", "--random-weights", "tiny", "--backend", "torch", "--baseline-official",
                 "--output", str(out), "--repeats", "1", "--warmup", "1", "--batches", "2", "--image-size", "64x64",
                 "--threads", "1", "--no-progress"])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["model"]["kind"] == "random" and results["model"]["model_type"] == "tiny"
    assert set(results["stages"]["decoder_b2"]) == {"torch", "official"}


def test_command_errors_are_one_line_and_write_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    quick = ["--output", str(out), "--no-progress"]
    cases = [
        (["bench", "accuracy", "--dataset", str(tmp_path / "missing.json")] + quick, "dataset not found"),
        (["bench", "latency", "--backend", "tensorflow"] + quick, "unknown backend 'tensorflow'"),
        (["bench", "accuracy", "--backend", "torch,onnx"] + quick, "unknown backend 'onnx'"),
        (["bench", "latency", "--model", str(tmp_path / "none.pth")] + quick, "model not found"),
    ]
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.png", "height": 4, "width": 4}],
                                 "annotations": []}))
    cases.append((["bench", "accuracy", "--dataset", str(empty)] + quick, "has no objects to evaluate"))
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
        assert not out.exists()
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["bench", "latency", "--repeats", "1"] + quick) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"
    assert main(["bench", "latency", "--repeats", "1", "--warmup", "1", "--batches", "1", "--image-size", "32x32",
                 "--backend", "ort", "--threads", "1", "--overwrite"] + quick) == 0
    assert not (out / "keep.txt").exists() and (out / "results.json").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left behind
