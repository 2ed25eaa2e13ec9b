"""`sam-trt video`: outputs that parse, interrupt safety, and one-line errors for bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from sam_trt.cli import main
from sam_trt.data.writers import write_video

pytest.importorskip("onnxruntime")
mask_utils = pytest.importorskip("pycocotools.mask")

REPO = Path(__file__).resolve().parents[1]
FRAMES = 10


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[Path, dict]:
    """A 10-frame generated clip (mp4) and its annotations."""
    folder = tmp_path_factory.mktemp("clip")
    annotations = json.loads(write_video(folder, seed=3, num_frames=FRAMES).read_text())
    return folder / "video.mp4", annotations


def frame0_prompts(annotations: dict, path: Path) -> Path:
    objects = [{"id": o["track_id"], "box": [x, y, x + w, y + h]}
               for o in annotations["frames"][0]["objects"] for x, y, w, h in [o["bbox"]]]
    path.write_text(json.dumps({"objects": objects}))
    return path


def count_frames(video: Path) -> int:
    capture = cv2.VideoCapture(str(video))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def check_outputs(out: Path, frames: int | None, objects: list[int]) -> list[dict]:
    """Every file parses: jsonl lines (whole frames), RLE masks decode, the mp4 reads back, summary is valid."""
    lines = [json.loads(line) for line in (out / "masks.jsonl").read_text().splitlines()]
    seen = sorted({line["frame"] for line in lines})
    if frames is not None:
        assert seen == list(range(frames))
    for frame in seen:
        assert sorted(line["object_id"] for line in lines if line["frame"] == frame) == objects
    for line in lines:
        assert set(line) >= {"frame", "object_id", "segmentation", "bbox", "score"}
        mask = mask_utils.decode({**line["segmentation"], "counts": line["segmentation"]["counts"].encode()})
        assert mask.shape == (240, 320)
        x, y, w, h = line["bbox"]
        if mask.any():
            ys, xs = np.nonzero(mask)
            assert (x, y, w, h) == (xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min())
    assert count_frames(out / "overlay.mp4") == (frames if frames is not None else len(seen))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == len(seen) and summary["objects"] == objects
    assert summary["backend"] == "ort" and summary["precision"] == "fp32"
    assert summary["latency"]["capture_to_mask"]["p95_ms"] >= summary["latency"]["capture_to_mask"]["p50_ms"] > 0
    assert not list(out.glob(".*")), "temporary files left behind"
    return lines


def test_video_outputs_parse(clip, tmp_path, capsys):
    video, annotations = clip
    prompts = frame0_prompts(annotations, tmp_path / "prompts.json")
    out = tmp_path / "out"
    assert main(["video", "--source", str(video), "--prompts", str(prompts), "--output", str(out),
                 "--png-masks"]) == 0
    printed = capsys.readouterr().out
    assert "backend: ort (cpu, fp32)" in printed and f"{FRAMES} frames" in printed
    ids = sorted(o["track_id"] for o in annotations["frames"][0]["objects"])
    lines = check_outputs(out, FRAMES, ids)
    pngs = sorted((out / "masks").glob("*.png"))
    assert len(pngs) == FRAMES
    id_map = cv2.imread(str(pngs[0]), cv2.IMREAD_UNCHANGED)
    for line in lines[: len(ids)]:  # frame 0: the PNG holds each object's id where its mask is
        mask = mask_utils.decode({**line["segmentation"], "counts": line["segmentation"]["counts"].encode()})
        assert (id_map[mask.astype(bool)] == line["object_id"]).all()


def test_realtime_plays_a_file_as_a_live_source_and_track_exits_is_applied(tmp_path, capsys):
    # The bundled clip (12 fps) played as a camera: latest-frame policy, reads paced at its frame rate.
    out = tmp_path / "live"
    assert main(["video", "--output", str(out), "--max-frames", "6", "--realtime", "--track-exits"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["live"] is True and summary["policy"] == "latest"
    # A live source reports how far the masks lag behind the scene.
    p50 = summary["latency"]["capture_to_mask"]["p50_ms"]
    assert summary["reported_latency"] == "capture_to_mask"
    assert capsys.readouterr().out.rstrip().endswith(f"capture-to-mask p50 {p50:.1f} ms)")
    assert summary["wall_seconds"] >= 5 / 12  # six frames of a 12 fps camera span at least five periods
    assert summary["tracker"]["exit_fraction"] == 0.3


def test_default_run_uses_bundled_clip_and_prompts(tmp_path, capsys):
    from sam_trt.demo import SAMPLE_CLIP_PROMPTS
    from sam_trt.video.prompts import read_prompts

    out = tmp_path / "out"
    assert main(["video", "--output", str(out), "--max-frames", "3"]) == 0
    printed = capsys.readouterr().out
    assert "sample_clip.mp4" in printed
    check_outputs(out, 3, [o.object_id for o in read_prompts(SAMPLE_CLIP_PROMPTS)])
    # A file keeps every frame, so capture-to-mask is mostly queue wait: the readout is the per-frame work.
    latency = json.loads((out / "summary.json").read_text())["latency"]
    assert json.loads((out / "summary.json").read_text())["reported_latency"] == "processing"
    assert printed.rstrip().endswith(f"per-frame processing p50 {latency['processing']['p50_ms']:.1f} ms)")
    assert "capture-to-mask" not in printed.splitlines()[-1]
    parts = sum(latency[s]["mean_ms"] for s in ("preprocess", "encode", "decode"))
    assert latency["processing"]["count"] == 3 and latency["processing"]["mean_ms"] == pytest.approx(parts, abs=0.01)


def test_box_and_point_groups_on_the_command_line(clip, tmp_path):
    video, _ = clip
    out = tmp_path / "out"
    assert main(["video", "--source", str(video), "--box", "10,10,60,60", "--point", "30,30",
                 "--point", "200,100", "--point", "210,110,0", "--output", str(out), "--max-frames", "2",
                 "--no-overlay"]) == 0
    lines = [json.loads(line) for line in (out / "masks.jsonl").read_text().splitlines()]
    assert sorted({line["object_id"] for line in lines}) == [1, 2]  # box+point, then point+negative point


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_leaves_valid_outputs(clip, tmp_path, sig):
    video, annotations = clip
    long_clip = tmp_path / "long.mp4"  # the 10 frames 30 times
    frames = []
    capture = cv2.VideoCapture(str(video))
    while (read := capture.read())[0]:
        frames.append(read[1])
    writer = cv2.VideoWriter(str(long_clip), cv2.VideoWriter_fourcc(*"mp4v"), 12.0, (320, 240))
    for _ in range(30):
        for frame in frames:
            writer.write(frame)
    writer.release()
    prompts = frame0_prompts(annotations, tmp_path / "prompts.json")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "sam_trt.cli", "video", "--source", str(long_clip), "--prompts",
                             str(prompts), "--output", str(out)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            jsonl = out / "masks.jsonl"
            if jsonl.is_file() and len(jsonl.read_text().splitlines()) >= 12:
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    ids = sorted(o["track_id"] for o in annotations["frames"][0]["objects"])
    check_outputs(out, None, ids)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True and 0 < summary["frames"] < 300


def fake_engines(folder: Path) -> Path:
    """An engines folder whose sidecars say it was built for another GPU and TensorRT version."""
    target = folder / "nvidia-jetson-agx-orin-sm87-trt10.3.0"
    target.mkdir(parents=True)
    for graph in ("encoder", "decoder"):
        plan = target / f"demo-fp16-{graph}.plan"
        plan.write_bytes(b"not a real plan")
        sidecar = {"plan": plan.name, "graph": graph, "model_type": "demo", "precision": "fp16",
                   "tensorrt": {"flavour": "tensorrt", "version": "10.3.0"},
                   "gpu": {"name": "NVIDIA Jetson AGX Orin", "compute_capability": "8.7"},
                   "rebuild_command": "sam-trt build --onnx exports/demo --precision fp16 --output engines/"}
        (target / f"{plan.name}.json").write_text(json.dumps(sidecar))
    return folder


def bad_inputs(tmp: Path, clip: Path, annotations: dict) -> dict[str, tuple[list[str], str]]:
    (tmp / "bad.json").write_text("{not json")
    (tmp / "schema.json").write_text(json.dumps({"objects": [{"id": 1, "box": [1, 2, 3]}]}))
    (tmp / "outside.json").write_text(json.dumps({"objects": [{"id": 1, "box": [10, 10, 400, 100]}]}))
    (tmp / "reversed.json").write_text(json.dumps({"objects": [{"id": 1, "box": [10, 10, 50, 5]}]}))
    (tmp / "broken.mp4").write_bytes(b"\x00" * 1000)
    good = str(frame0_prompts(annotations, tmp / "good.json"))
    return {
        "missing source": (["--source", str(tmp / "nope.mp4"), "--prompts", good], "nope.mp4"),
        "unreadable source": (["--source", str(tmp / "broken.mp4"), "--prompts", good], "broken.mp4"),
        "malformed prompts": (["--source", str(clip), "--prompts", str(tmp / "bad.json")], "not valid JSON"),
        "prompts schema": (["--source", str(clip), "--prompts", str(tmp / "schema.json")], "box must be 4 numbers"),
        "prompts outside frame": (["--source", str(clip), "--prompts", str(tmp / "outside.json")],
                                  "outside the 320x240 frame"),
        "point outside frame": (["--source", str(clip), "--point", "10,-5"], "outside the 320x240 frame"),
        "reversed box": (["--source", str(clip), "--box", "10,10,5,5"],
                         "box [10.0, 10.0, 5.0, 5.0] has x1 < x0 or y1 < y0; boxes are XYXY"),
        "reversed box in prompts": (["--source", str(clip), "--prompts", str(tmp / "reversed.json")],
                                    "object 1 frame 0: box [10.0, 10.0, 50.0, 5.0] has x1 < x0 or y1 < y0"),
        "engines for another GPU": (["--source", str(clip), "--prompts", good, "--engines",
                                     str(fake_engines(tmp / "engines"))], "was built "),
        "nothing to track": (["--source", str(clip)], "nothing to track"),
    }


@pytest.mark.parametrize("case", ["missing source", "unreadable source", "malformed prompts", "prompts schema",
                                  "prompts outside frame", "point outside frame", "reversed box",
                                  "reversed box in prompts", "engines for another GPU", "nothing to track"])
def test_bad_input_one_line_and_nothing_written(clip, tmp_path, capsys, case):
    video, annotations = clip
    argv, expected = bad_inputs(tmp_path, video, annotations)[case]
    out = tmp_path / "out"
    assert main(["video", *argv, "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sam-trt video: error: ") and "\n" not in err, err
    assert expected in err, err
    assert not out.exists()


def test_show_needs_a_gui(clip, tmp_path, capsys):
    if "GUI:                           NONE" not in cv2.getBuildInformation():
        pytest.skip("this OpenCV has a GUI; the headless guard cannot be exercised")
    video, annotations = clip
    out = tmp_path / "out"
    assert main(["video", "--source", str(video), "--show", "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--show needs OpenCV with GUI support" in err and "\n" not in err
    assert not out.exists()
