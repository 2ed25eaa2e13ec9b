"""ONNX export and the ONNX Runtime backend: parity with torch and the official package, the files and
manifest we promise, and clear errors for damaged or foreign export folders."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest
import torch
from segment_anything import SamPredictor as OfficialPredictor

from sam_trt import BackendError, InputError, SamPredictor
from sam_trt.export.exporter import export_model
from sam_trt.export.manifest import sha256_file
from sam_trt.export.onnx_checks import check_standard_ops
from sam_trt.runtime.loader import load_backend
from sam_trt.runtime.ort_backend import OrtBackend
from sam_trt.runtime.torch_backend import TorchBackend

from .conftest import photo
from .parity import check_prompt_matrix, relative_error


@pytest.fixture(scope="session")
def exported(model_pair, tmp_path_factory):
    """(official Sam, our Sam, export folder of our Sam) for each test config."""
    official, ours = model_pair
    folder = tmp_path_factory.mktemp("export") / "model"
    export_model(ours, folder, model_type="test", log=lambda _: None)
    return official, ours, folder


def test_ort_matches_official_on_a_photo(exported):
    official, _, folder = exported
    image = photo("astronaut", (720, 1280))
    reference, predictor = OfficialPredictor(official), SamPredictor(load_backend(folder, backend="ort"))
    reference.set_image(image)
    predictor.set_image(image)
    assert relative_error(predictor.get_image_embedding(), reference.get_image_embedding()) <= 1e-4
    check_prompt_matrix(reference, predictor, (720, 1280))


def test_ort_matches_torch_for_prompt_batches(exported):
    """B = 1..16 prompts of N = 1..10 points (labels incl. padding and box corners), with mask inputs."""
    _, ours, folder = exported
    torch_predictor, ort_predictor = SamPredictor(TorchBackend(ours)), SamPredictor(OrtBackend(folder))
    image = photo("coffee", (400, 600))
    torch_predictor.set_image(image)
    ort_predictor.set_image(image)
    size = ours.config.image_size
    low = ours.config.low_res_size
    rng = np.random.default_rng(0)
    for batch, points in [(1, 1), (2, 10), (5, 3), (16, 7), (16, 1), (3, 10)]:
        coords = torch.tensor(rng.uniform(0, size * 0.6, (batch, points, 2)), dtype=torch.float)
        labels = torch.tensor(rng.choice([-1, 0, 1, 1], (batch, points)))
        boxes = torch.tensor(np.sort(rng.uniform(0, size * 0.6, (batch, 2, 2)), axis=1).reshape(batch, 4),
                             dtype=torch.float) if points % 2 else None
        masks = torch.tensor(rng.normal(0, 4, (batch, 1, low, low)), dtype=torch.float) if batch > 4 else None
        for multimask in (True, False):
            expected = torch_predictor.predict_torch(coords, labels, boxes, masks, multimask, return_logits=True)
            got = ort_predictor.predict_torch(coords, labels, boxes, masks, multimask, return_logits=True)
            assert got[0].shape == expected[0].shape == (batch, 3 if multimask else 1, 400, 600)
            assert (got[1] - expected[1]).abs().max() <= 1e-3
            scale = max(1.0, float(expected[2].abs().max()))
            assert (got[2] - expected[2]).abs().max() <= 1e-3 * scale
            agree = ((got[0] > 0) == (expected[0] > 0)).float().mean(dim=(-1, -2))
            assert agree.min() >= 0.999


def test_export_folder_and_manifest(exported):
    _, ours, folder = exported
    config = ours.config
    assert sorted(p.name for p in folder.iterdir()) == ["decoder.onnx", "encoder.onnx", "manifest.json"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format_version"] == 1 and manifest["model_type"] == "test" and manifest["opset"] == 20
    assert (manifest["image_size"], manifest["embedding_size"], manifest["low_res_size"]) == (
        config.image_size, config.embedding_size, config.low_res_size)
    assert "uint8" in manifest["graphs"]["encoder"]["input_format"]
    for graph in ("encoder", "decoder"):
        entry = manifest["graphs"][graph]
        assert entry["sha256"] == {f"{graph}.onnx": sha256_file(folder / f"{graph}.onnx")}
        model = onnx.load(str(folder / f"{graph}.onnx"))
        onnx.checker.check_model(model)
        assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) == 20
    decoder = {i["name"]: i for i in manifest["graphs"]["decoder"]["inputs"]}
    assert decoder["point_coords"]["shape"] == ["num_prompts", "num_points", 2]
    assert decoder["image_embeddings"]["shape"] == [1, config.prompt_embed_dim, config.embedding_size,
                                                   config.embedding_size]
    outputs = {o["name"]: o["shape"] for o in manifest["graphs"]["decoder"]["outputs"]}
    assert outputs == {"iou_predictions": ["num_prompts", 4],
                       "low_res_masks": ["num_prompts", 4, config.low_res_size, config.low_res_size]}
    encoder = {i["name"]: i for i in manifest["graphs"]["encoder"]["inputs"]}
    assert encoder["image"]["dtype"] == "uint8" and encoder["image"]["shape"][0] == "batch"


def test_encoder_batch_is_dynamic(exported):
    _, ours, folder = exported
    backend = OrtBackend(folder)
    rng = np.random.default_rng(1)
    size = ours.config.image_size
    images = rng.integers(0, 255, (2, 3, size, size // 2), dtype=np.uint8)
    both = backend.encode(images)
    one = backend.encode(images[1:])
    assert both.shape[0] == 2 and np.allclose(both[1:], one, atol=1e-4)


def test_non_standard_ops_are_refused(tmp_path):
    node = onnx.helper.make_node("Gelu", ["x"], ["y"], domain="com.microsoft")
    graph = onnx.helper.make_graph([node], "g", [onnx.helper.make_tensor_value_info("x", 1, [1])],
                                   [onnx.helper.make_tensor_value_info("y", 1, [1])])
    path = tmp_path / "vendor.onnx"
    onnx.save(onnx.helper.make_model(graph), str(path))
    with pytest.raises(BackendError, match="non-standard ops"):
        check_standard_ops(path)


@pytest.fixture(scope="module")
def small_export(tmp_path_factory):
    """A small export (tests that damage it work on copies)."""
    from sam_trt.modeling import build_sam_from_config

    from .conftest import SMALL_256

    folder = tmp_path_factory.mktemp("small") / "small"
    export_model(build_sam_from_config(SMALL_256), folder, log=lambda _: None)
    return folder


def test_damaged_and_foreign_exports(small_export, tmp_path):
    def broken(edit) -> str:
        copy = tmp_path / f"copy{len(list(tmp_path.iterdir()))}"
        shutil.copytree(small_export, copy)
        edit(copy)
        with pytest.raises(BackendError) as exc:
            OrtBackend(copy)
        assert "\n" not in str(exc.value)
        return str(exc.value)

    assert "could not be loaded by onnxruntime" in broken(lambda d: (d / "decoder.onnx").write_bytes(b"garbage"))
    assert "is missing" in broken(lambda d: (d / "encoder.onnx").unlink())
    assert "reads format 1" in broken(lambda d: (d / "manifest.json").write_text(
        json.dumps({**json.loads((d / "manifest.json").read_text()), "format_version": 99})))
    assert "not a sam-trt export folder" in broken(lambda d: (d / "manifest.json").unlink())
    assert "mixes files from different exports" in broken(
        lambda d: shutil.copy(d / "encoder.onnx", d / "decoder.onnx"))
    folder = tmp_path / "copy-checksum"
    shutil.copytree(small_export, folder)
    with open(folder / "decoder.onnx", "ab") as f:
        f.write(b"\0")
    with pytest.raises(BackendError, match="does not match its checksum"):
        OrtBackend(folder, verify_checksums=True)


def test_external_data_is_written_and_required(tmp_path, monkeypatch):
    """Graphs over 2 GB (vit_h) keep their weights in <file>.data; simulate with a zero threshold."""
    from sam_trt.export import exporter
    from sam_trt.modeling import build_sam_from_config

    from .conftest import SMALL_256

    monkeypatch.setattr(exporter, "EXTERNAL_DATA_BYTES", 0)
    folder = tmp_path / "ext"
    export_model(build_sam_from_config(SMALL_256), folder, log=lambda _: None)
    names = sorted(p.name for p in folder.iterdir())
    assert "encoder.onnx.data" in names and "decoder.onnx.data" in names
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["graphs"]["encoder"]["sha256"]) == {"encoder.onnx", "encoder.onnx.data"}
    OrtBackend(folder)  # loads with the data beside it
    (folder / "encoder.onnx.data").unlink()
    with pytest.raises(BackendError, match="encoder.onnx.data is missing"):
        OrtBackend(folder)


def test_export_refuses_to_overwrite(small_export):
    from sam_trt.modeling import build_sam_from_config

    from .conftest import SMALL_256

    with pytest.raises(InputError, match="--overwrite"):
        export_model(build_sam_from_config(SMALL_256), small_export, log=lambda _: None)


def test_load_backend_routes_sources(small_export, tmp_path):
    from sam_trt.modeling import build_sam_from_config

    from .conftest import SMALL_256

    assert load_backend(small_export).name == "ort"
    sam = build_sam_from_config(SMALL_256)
    assert load_backend(sam).name == "torch"
    with pytest.raises(BackendError, match="unknown backend"):
        load_backend(small_export, backend="tpu")
    with pytest.raises(BackendError, match="needs a checkpoint"):
        load_backend(small_export, backend="torch")
    with pytest.raises(BackendError, match="sam-trt build"):
        load_backend(small_export, backend="trt")
    checkpoint = tmp_path / "small.pth"
    torch.save(sam.state_dict(), checkpoint)
    with pytest.raises(BackendError, match="could not tell the model type"):
        load_backend(checkpoint)
    with pytest.raises(BackendError, match="sam-trt export --checkpoint"):
        load_backend(checkpoint, backend="ort")
    with pytest.raises(BackendError, match="not found"):
        load_backend(tmp_path / "nothing")


def test_cli_export_end_to_end(tmp_path, monkeypatch, capsys):
    from sam_trt.cli import main
    from sam_trt.config import KNOWN_CONFIGS
    from sam_trt.modeling import build_sam_from_config

    from .conftest import SMALL_256

    monkeypatch.setitem(KNOWN_CONFIGS, "tiny", SMALL_256)
    checkpoint = tmp_path / "tiny.pth"
    torch.save(build_sam_from_config(SMALL_256).state_dict(), checkpoint)
    out = tmp_path / "exports" / "tiny"
    assert main(["export", "--checkpoint", str(checkpoint), "--output", str(out)]) == 0
    assert "checked" in capsys.readouterr().out
    assert json.loads((out / "manifest.json").read_text())["model_type"] == "tiny"
    assert main(["export", "--checkpoint", str(checkpoint), "--output", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["export", "--checkpoint", str(checkpoint), "--model-type", "vit_b", "--output",
                 str(tmp_path / "x")]) == 2
    assert "is a tiny checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny"]  # no temp folders left behind
    # segment straight from the export folder through the ort backend
    import cv2

    cv2.imwrite(str(tmp_path / "in.png"), np.zeros((40, 50, 3), np.uint8))
    assert main(["segment", "--image", str(tmp_path / "in.png"), "--point", "20,20", "--checkpoint", str(out),
                 "--output", str(tmp_path / "o.png")]) == 0
    assert (tmp_path / "o.png").is_file()
