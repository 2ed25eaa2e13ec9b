"""`sam-trt amg`: both output layouts, unreadable files, reruns, recursive folders and extension filters."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from sam_trt.amg.writers import METADATA_HEADER
from sam_trt.cli import main
from sam_trt.data.scenes import generate_scene, rng_for

FAST = ["--points-per-side", "6", "--no-progress"]


def write_scene(path, index: int, size=(96, 128)) -> np.ndarray:
    image = generate_scene(rng_for(11, index), size=size).image
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return image


@pytest.fixture
def folder(tmp_path):
    """in/a.png, in/b.jpg, in/notes.txt (unreadable), in/sub/c.png."""
    src = tmp_path / "in"
    write_scene(src / "a.png", 0)
    write_scene(src / "b.jpg", 1)
    (src / "notes.txt").write_text("not an image")
    write_scene(src / "sub" / "c.png", 2)
    return src


def test_png_folders_official_layout_and_unreadable_file(folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["amg", "--input", str(folder), "--output", str(out), *FAST]) == 0
    printed = capsys.readouterr().out
    assert "could not read" in printed and "notes.txt" in printed and "skipped 1 unreadable" in printed
    assert sorted(p.name for p in out.iterdir()) == ["a", "b"]  # not recursive: no sub/c
    for name in ("a", "b"):
        lines = (out / name / "metadata.csv").read_text().split("\n")
        assert lines[0] == METADATA_HEADER and len(lines) >= 2
        pngs = sorted(p.name for p in (out / name).glob("*.png"))
        assert pngs == sorted(f"{i}.png" for i in range(len(lines) - 1))
        for row in lines[1:]:
            fields = row.split(",")
            assert len(fields) == 14
            mask = cv2.imread(str(out / name / f"{fields[0]}.png"), cv2.IMREAD_UNCHANGED)
            assert mask.shape == (96, 128) and mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
            assert int(fields[1]) == int((mask > 0).sum())


@pytest.mark.parametrize("rle", [False, True])
def test_overlay_picture_beside_each_result(folder, tmp_path, rle):
    out = tmp_path / "ov"
    extra = ["--convert-to-rle"] if rle else []
    assert main(["amg", "--input", str(folder / "a.png"), "--output", str(out), "--overlay", *extra, *FAST]) == 0
    picture = cv2.imread(str(out / "a.overlay.png"), cv2.IMREAD_COLOR)
    original = cv2.imread(str(folder / "a.png"), cv2.IMREAD_COLOR)
    assert picture.shape == original.shape
    if rle:
        masks = [mask_utils.decode(r["segmentation"]) for r in json.loads((out / "a.json").read_text())["annotations"]]
    else:
        masks = [cv2.imread(str(m), cv2.IMREAD_UNCHANGED) > 0 for m in (out / "a").glob("*.png")]
    covered = np.any(masks, axis=0)
    assert covered.any()
    changed = np.abs(picture.astype(int) - original.astype(int)).sum(-1) > 0
    assert changed[covered].mean() > 0.9  # the masks are coloured in


def test_rle_json_sa1b_layout(folder, tmp_path):
    out = tmp_path / "rle"
    image = folder / "a.png"
    assert main(["amg", "--input", str(image), "--output", str(out), "--convert-to-rle", *FAST]) == 0
    assert [p.name for p in out.iterdir()] == ["a.json"]
    data = json.loads((out / "a.json").read_text())
    assert data["image"] == {"width": 128, "height": 96, "file_name": "a.png"}
    assert len(data["annotations"]) >= 1
    for record in data["annotations"]:
        assert set(record) == {"segmentation", "area", "bbox", "predicted_iou", "point_coords",
                               "stability_score", "crop_box"}
        mask = mask_utils.decode(record["segmentation"])
        assert mask.shape == (96, 128) and int(mask.sum()) == record["area"]


def test_rerun_needs_overwrite(folder, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["amg", "--input", str(folder), "--output", str(out), "--extensions", "png", *FAST]
    assert main(args) == 0
    before = (out / "a" / "metadata.csv").stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "already exists" in err and "--overwrite" in err and "\n" not in err
    assert main([*args, "--overwrite", "--points-per-side", "3"]) == 0
    assert (out / "a" / "metadata.csv").stat().st_mtime_ns != before
    assert sorted(p.name for p in out.iterdir()) == ["a"]  # no temporary or old folders left behind


def test_recursive_with_extension_filter(folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["amg", "--input", str(folder), "--output", str(out), "--recursive", "--extensions", ".PNG,jpeg",
                 "--convert-to-rle", *FAST]) == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.json")) == ["a.json", "sub/c.json"]
    assert "could not read" not in capsys.readouterr().out  # notes.txt filtered out, b.jpg not selected


def test_no_readable_image_fails(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.png").write_bytes(b"broken")
    assert main(["amg", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), *FAST]) == 1
    assert "none of the 1 input file(s)" in capsys.readouterr().out
    assert not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("argv, message", [
    (["--input", "missing-folder"], "input not found"),
    (["--crop-overlap-ratio", "0.34", "--points-per-side", "0"], "points_per_side must be >= 1"),
])
def test_errors_are_one_line(tmp_path, capsys, argv, message):
    argv = [a if a != "missing-folder" else str(tmp_path / a) for a in argv]
    if "--input" not in argv:
        write_scene(tmp_path / "a.png", 0)
        argv += ["--input", str(tmp_path / "a.png")]
    assert main(["amg", "--output", str(tmp_path / "out"), "--no-progress", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("sam-trt amg: error:")


def test_output_inside_input_is_not_read_back(folder, capsys):
    out = folder / "results"
    args = ["amg", "--input", str(folder), "--output", str(out), "--recursive", *FAST]
    assert main(args) == 0
    assert main([*args, "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a", "b", "sub"]  # no results/results/...
    assert "wrote" in capsys.readouterr().out
