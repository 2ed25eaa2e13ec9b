"""Checkpoint loading: .pth and .safetensors, strict, with one-line errors for every wrong file."""

from __future__ import annotations

import pickle

import pytest
import torch
from safetensors.torch import save_file

from sam_trt import CheckpointError, sam_model_registry
from sam_trt.modeling import build_sam_from_config

from .conftest import SMALL_256, TINY_1024


@pytest.fixture(scope="module")
def small_state():
    torch.manual_seed(3)
    sam = build_sam_from_config(SMALL_256)
    with torch.no_grad():
        for p in sam.parameters():
            p.normal_()
    return sam.state_dict()


def assert_one_line(exc: pytest.ExceptionInfo, *fragments: str) -> None:
    message = str(exc.value)
    assert "\n" not in message and len(message) < 400, message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_roundtrip_is_exact(tmp_path, small_state, suffix):
    path = tmp_path / f"model{suffix}"
    if suffix == ".pth":
        torch.save(small_state, path)
    else:
        save_file({k: v.contiguous() for k, v in small_state.items()}, str(path))
    sam = build_sam_from_config(SMALL_256, checkpoint=path)
    for key, value in sam.state_dict().items():
        assert torch.equal(value, small_state[key]), key
    assert sam.pixel_mean.device.type == "cpu" and not sam.training
    assert torch.allclose(sam.pixel_std.flatten(), torch.tensor(SMALL_256.pixel_std))


def test_wrapped_training_checkpoint(tmp_path, small_state):
    path = tmp_path / "wrapped.pth"
    torch.save({"model": small_state, "step": 7}, path)
    sam = build_sam_from_config(SMALL_256, checkpoint=path)
    assert torch.equal(sam.state_dict()["mask_decoder.iou_token.weight"], small_state["mask_decoder.iou_token.weight"])


def fake_vit_b_checkpoint(path) -> None:
    """Just enough of a vit_b state dict for its type to be recognised (embed 768, depth 12, 1024 px)."""
    state = {
        "image_encoder.patch_embed.proj.weight": torch.zeros(768, 3, 16, 16),
        "image_encoder.pos_embed": torch.zeros(1, 64, 64, 1),
        **{f"image_encoder.blocks.{i}.norm1.weight": torch.zeros(1) for i in range(12)},
    }
    torch.save(state, path)


def test_wrong_model_type_names_both(tmp_path):
    path = tmp_path / "sam_vit_b.pth"
    fake_vit_b_checkpoint(path)
    with pytest.raises(CheckpointError) as exc:
        sam_model_registry["vit_h"](checkpoint=path)
    assert_one_line(exc, "vit_b checkpoint", "vit_h", "sam_model_registry['vit_b']")
    with pytest.raises(CheckpointError) as exc:
        sam_model_registry["default"](checkpoint=path)
    assert_one_line(exc, "vit_b checkpoint")


def test_other_architecture(tmp_path, small_state):
    path = tmp_path / "small.pth"
    torch.save(small_state, path)
    with pytest.raises(CheckpointError) as exc:
        build_sam_from_config(TINY_1024, checkpoint=path, model_type="tiny")
    assert_one_line(exc, "does not fit model type tiny", "embed_dim 48")


def test_missing_and_mismatched_keys_summarised(tmp_path, small_state):
    state = dict(small_state)
    del state["mask_decoder.iou_token.weight"]
    state["mask_decoder.extra.weight"] = torch.zeros(1)
    state["prompt_encoder.no_mask_embed.weight"] = torch.zeros(1, 3)
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError) as exc:
        build_sam_from_config(SMALL_256, checkpoint=path)
    assert_one_line(exc, "1 missing (e.g. mask_decoder.iou_token.weight)", "1 unexpected", "1 shape mismatch")


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError) as exc:
        sam_model_registry["vit_b"](checkpoint=tmp_path / "nope.pth")
    assert_one_line(exc, "checkpoint not found")


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_truncated_file(tmp_path, small_state, suffix):
    path = tmp_path / f"whole{suffix}"
    if suffix == ".pth":
        torch.save(small_state, path)
    else:
        save_file({k: v.contiguous() for k, v in small_state.items()}, str(path))
    data = path.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as exc:
        build_sam_from_config(SMALL_256, checkpoint=cut)
    assert_one_line(exc, "truncated")


def test_not_a_checkpoint(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("hello, I am not a checkpoint\n")
    with pytest.raises(CheckpointError) as exc:
        sam_model_registry["vit_b"](checkpoint=text)
    assert_one_line(exc, "could not be read")
    other = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, other)
    with pytest.raises(CheckpointError) as exc:
        sam_model_registry["vit_b"](checkpoint=other)
    assert_one_line(exc, "not a SAM checkpoint", "fc.weight")


class Payload:
    pass


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "pickled.pth"
    with open(path, "wb") as f:
        pickle.dump({"image_encoder.x": Payload()}, f)
    with pytest.raises(CheckpointError) as exc:
        sam_model_registry["vit_b"](checkpoint=path)
    assert_one_line(exc, str(path))
