"""The sam-trt command line: info, segment, and one-line errors with no half-written output."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from sam_trt.cli import main
from sam_trt.config import KNOWN_CONFIGS
from sam_trt.modeling import build_sam_from_config

from .conftest import SMALL_256
from .official_reference import randomize_


@pytest.fixture
def tiny_checkpoint(tmp_path_factory, monkeypatch):
    """A small model registered as --model-type tiny for the duration of a test."""
    monkeypatch.setitem(KNOWN_CONFIGS, "tiny", SMALL_256)
    torch.manual_seed(0)
    sam = build_sam_from_config(SMALL_256)
    randomize_(sam)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pth"
    torch.save(sam.state_dict(), path)
    return path


def test_info_runs():
    out = subprocess.run([sys.executable, "-m", "sam_trt.cli", "info"], capture_output=True, text=True, check=True)
    assert "vit_b" in out.stdout and "backend torch" in out.stdout
    lines = {line.split(":")[0].strip(): line for line in out.stdout.splitlines() if line.startswith("  model ")}
    assert "encoder 972.1 GFLOPs" in lines["model vit_b"] and "93.7 M params" in lines["model vit_b"]
    assert "efficientvit l0, encoder input 512px, prompt frame 1024px" in lines["model efficientvit_l0"]
    assert "tiny_vit 5m, encoder input 1024px" in lines["model vit_t"]


def test_segment_writes_overlay_and_mask(tmp_path, tiny_checkpoint, capsys):
    image = np.full((90, 120, 3), 40, np.uint8)
    cv2.rectangle(image, (30, 20), (80, 70), (200, 180, 20), -1)
    cv2.imwrite(str(tmp_path / "in.png"), image)
    out, mask = tmp_path / "out" / "overlay.png", tmp_path / "mask.png"
    code = main(["segment", "--image", str(tmp_path / "in.png"), "--point", "55,45", "--box", "30,20,80,70",
                 "--checkpoint", str(tiny_checkpoint), "--model-type", "tiny", "--output", str(out),
                 "--mask-output", str(mask)])
    assert code == 0
    overlay = cv2.imread(str(out))
    assert overlay.shape == (90, 120, 3) and not np.array_equal(overlay, image)
    written = cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE)
    assert written.shape == (90, 120) and set(np.unique(written)) <= {0, 255}
    assert "wrote" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["overlay.png"]  # no temp files left


def test_segment_errors_are_one_line(tmp_path, tiny_checkpoint, capsys):
    cv2.imwrite(str(tmp_path / "in.png"), np.zeros((20, 30, 3), np.uint8))
    base = ["segment", "--image", str(tmp_path / "in.png"), "--output", str(tmp_path / "o.png")]
    ckpt = ["--checkpoint", str(tiny_checkpoint), "--model-type", "tiny"]
    cases = [
        (base + ["--point", "500,5"] + ckpt, "outside the 30x20 image"),
        (base + ckpt, "give at least one --point"),
        (base + ["--point", "5,5"] + ckpt[:2] + ["--model-type", "vit_h"], "is a tiny checkpoint"),
        (["segment", "--image", str(tmp_path / "missing.png"), "--point", "1,1"] + ckpt, "image not found"),
    ]
    for argv, fragment in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert fragment in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "o.png").exists()


def test_bad_point_syntax_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["segment", "--image", "x.png", "--point", "1;2", "--checkpoint", "c.pth"])
    assert exc.value.code == 2
    assert "must be x,y or x,y,label" in capsys.readouterr().err
