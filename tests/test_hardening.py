"""Hardening: the public names, the CLI's help, TensorRT status, missing extras and image-size limits."""

from __future__ import annotations

import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

import sam_trt
from sam_trt.cli import build_parser, info, main
from sam_trt.errors import InputError
from sam_trt.extras import extra_for, missing_module_hint
from sam_trt.files import DEFAULT_MAX_IMAGE_PIXELS, MAX_IMAGE_PIXELS_ENV, read_image_rgb

REPO = Path(__file__).resolve().parents[1]


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO, timeout=120)


def one_line(text: str) -> str:
    text = text.strip()
    assert text and "\n" not in text and "Traceback" not in text, text
    return text


# -- public names -------------------------------------------------------------------------------------------


def test_load_backend_is_exported_and_import_stays_torch_free():
    out = run_python("import sys\nfrom sam_trt import load_backend, SamPredictor\n"
                     "print(load_backend.__module__, 'torch' in sys.modules, 'onnxruntime' in sys.modules)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["sam_trt.runtime.loader", "False", "False"]
    assert "load_backend" in sam_trt.__all__


def test_every_name_the_readme_imports_from_sam_trt_exists():
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    names = {name.strip() for block in blocks for found in re.findall(r"^from sam_trt import ([^#\n]+)", block, re.M)
             for name in found.strip("() ").split(",") if name.strip()}
    assert "load_backend" in names  # the README's TensorRT example
    missing = [name for name in sorted(names) if not hasattr(sam_trt, name)]
    assert not missing, f"README imports {missing} from sam_trt"


# -- sam-trt --help ------------------------------------------------------------------------------------------


def test_help_describes_the_tool_and_its_verbs():
    text = build_parser().format_help()
    assert "add_parser" not in text and "one module per verb" not in text
    assert "Segment Anything" in text and "TensorRT" in text
    for verb in ("export", "info", "segment", "amg", "bench", "build", "video"):
        assert re.search(rf"^\s+{verb}\s", text, re.M), verb


# -- sam-trt info: what builds and what runs TensorRT plans ----------------------------------------------


def fake_tensorrt(monkeypatch, installed: dict[str, str], gpu: tuple[str | None, str | None], cuda_python: bool):
    """Pretend `installed` ({module: version}) are the TensorRT flavours, `gpu` the CUDA device 0."""
    monkeypatch.setattr(info, "detect_gpu", lambda: gpu)
    monkeypatch.setattr(info, "import_tensorrt", lambda name: SimpleNamespace(__version__=installed[name]))
    real = info._installed
    monkeypatch.setattr(info, "_installed", lambda m: m in installed if m.startswith("tensorrt")
                        else cuda_python if m == "cuda.bindings" else real(m))


def test_info_says_tensorrt_rtx_builds_but_nothing_runs_plans_without_a_gpu(monkeypatch, capsys):
    fake_tensorrt(monkeypatch, {"tensorrt_rtx": "1.7.0"}, (None, None), cuda_python=True)
    installed = info._installed
    monkeypatch.setattr(info, "_installed", lambda m: m != "torch" and installed(m))  # skip the models' costs
    assert main(["info"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("  backend trt"))
    assert "available" not in line
    assert "tensorrt-rtx 1.7.0 can build plans ahead of time" in line
    assert line.endswith("running plans needs a CUDA GPU, TensorRT and cuda-python: no CUDA GPU found")


def test_info_tensorrt_status_on_gpu_machines(monkeypatch):
    fake_tensorrt(monkeypatch, {"tensorrt": "10.3.0"}, ("NVIDIA Orin", "8.7"), cuda_python=True)
    assert info.tensorrt_status() == "tensorrt 10.3.0 can build plans for NVIDIA Orin (sm 8.7); runs plans on " \
                                     "NVIDIA Orin (sm 8.7)"
    fake_tensorrt(monkeypatch, {"tensorrt": "10.3.0"}, ("NVIDIA Orin", "8.7"), cuda_python=False)
    assert info.tensorrt_status().endswith("no cuda-python (pip install 'sam-trt[trt]') found")
    fake_tensorrt(monkeypatch, {}, (None, None), cuda_python=False)
    assert info.tensorrt_status().startswith("TensorRT is not installed")


# -- a missing optional dependency names its extra -----------------------------------------------------------

WITHOUT = """import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None  # import raises ModuleNotFoundError, as where it is not installed
from sam_trt.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_bench_without_matplotlib_names_the_bench_extra(tmp_path):
    out = tmp_path / "bench"
    result = run_python(WITHOUT, "matplotlib", "bench", "accuracy", "--output", str(out))
    assert result.returncode == 2, result.stderr
    assert one_line(result.stderr) == ("sam-trt bench: error: this needs matplotlib (not installed); install the "
                                       "bench extra: pip install 'sam-trt[bench]'")
    assert not out.exists()


def test_export_without_torch_names_the_export_extra(tmp_path):
    ckpt = tmp_path / "model.pth"
    ckpt.write_bytes(b"x")
    result = run_python(WITHOUT, "torch", "export", "--checkpoint", str(ckpt), "--output", str(tmp_path / "e"))
    assert result.returncode == 2, result.stderr
    assert one_line(result.stderr).endswith("this needs torch (not installed); install the export extra: "
                                            "pip install 'sam-trt[export]'")
    assert not (tmp_path / "e").exists()


def test_extras_come_from_pyproject():
    assert extra_for("scikit-image") == "bench" and extra_for("torch") == "torch"
    assert extra_for("torch", prefer="export") == "export"  # through sam-trt[torch]
    assert extra_for("torch", prefer="bench") == "torch" and extra_for("tensorrt-rtx") == "trt-rtx"
    hint = missing_module_hint(ModuleNotFoundError("No module named 'skimage'", name="skimage"), "segment")
    assert hint == "this needs scikit-image (not installed); install the bench extra: pip install 'sam-trt[bench]'"
    assert missing_module_hint(ModuleNotFoundError("No module named 'nope'", name="nope")) is None


# -- images whose header declares too many pixels are refused before decoding ---------------------------------


def bomb_png(path: Path, width: int = 60000, height: int = 60000) -> Path:
    """A valid 4x4 PNG whose IHDR then claims width x height (a few hundred bytes on disk)."""
    ok, data = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))
    data = bytearray(data.tobytes())
    assert ok and data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def test_segment_refuses_a_decompression_bomb(tmp_path, capsys):
    bomb = bomb_png(tmp_path / "bomb.png")
    out = tmp_path / "overlay.png"
    assert main(["segment", "--image", str(bomb), "--point", "1,1", "--output", str(out)]) == 2
    err = one_line(capsys.readouterr().err)
    assert err == (f"sam-trt segment: error: {bomb} declares 3600000000 pixels, over the limit of "
                   f"{DEFAULT_MAX_IMAGE_PIXELS} (a guard against decompression bombs); downscale it, or raise the "
                   f"limit: {MAX_IMAGE_PIXELS_ENV}=3600000000")
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bomb.png"]


def test_pixel_limit_is_set_by_the_environment(tmp_path, monkeypatch):
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), np.zeros((20, 30, 3), np.uint8))
    monkeypatch.setenv(MAX_IMAGE_PIXELS_ENV, "599")
    with pytest.raises(InputError, match=r"declares 30x20 = 600 pixels, over the limit of 599"):
        read_image_rgb(image)
    monkeypatch.setenv(MAX_IMAGE_PIXELS_ENV, "600")
    assert read_image_rgb(image).shape == (20, 30, 3)
    monkeypatch.setenv(MAX_IMAGE_PIXELS_ENV, "lots")
    with pytest.raises(InputError, match="is not a pixel count"):
        read_image_rgb(image)


def test_image_folders_refuse_bombs_too(tmp_path, capsys):
    from sam_trt.precision.calibration import calibration_images
    from sam_trt.video.sources import open_source

    folder = tmp_path / "frames"
    folder.mkdir()
    bomb_png(folder / "0.png")
    with pytest.raises(InputError, match="decompression bombs"):
        open_source(str(folder)).read()
    with pytest.raises(InputError, match="decompression bombs"):
        calibration_images(folder, count=1)
    assert main(["amg", "--input", str(folder), "--output", str(tmp_path / "amg")]) == 1
    assert "0.png declares 3600000000 pixels" in capsys.readouterr().out
