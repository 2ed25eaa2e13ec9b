"""Training smoke tests on a tiny config: the loss falls, a run resumes, best weights load and export."""

from __future__ import annotations

import json

import pytest
import torch

from sam_trt.config import SamConfig
from sam_trt.modeling import build_sam_from_config
from sam_trt.train import Trainer, TrainOptions

TINY = SamConfig(
    encoder_embed_dim=32, encoder_depth=2, encoder_num_heads=2, encoder_global_attn_indexes=(1,), image_size=64,
    patch_size=8, window_size=4, prompt_embed_dim=32, mask_in_chans=4, decoder_depth=2, decoder_mlp_dim=64,
    decoder_num_heads=2, iou_head_hidden_dim=32,
)


def _opts(tmp_path, **kw) -> TrainOptions:
    base = dict(output=str(tmp_path / "run"), config=TINY.to_dict(), images_per_step=2, max_objects=4, lr=3e-3,
                warmup_steps=1, schedule_steps=100, eval_scenes=2, eval_minutes=1e9, save_minutes=1e9, log_every=2)
    return TrainOptions(**{**base, **kw})


@pytest.fixture(autouse=True)
def _threads():
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models; and 2 threads on a busy 2-core machine stall in OpenMP barriers
    yield
    torch.set_num_threads(old)


def test_loss_falls(tmp_path) -> None:
    # plain BCE + dice: its total falls fast (the class-balanced BCE of real runs raises IoU first)
    trainer = Trainer(_opts(tmp_path, bce_balance=0.0, bce_balance_final=0.0), log=lambda m: None)
    losses = [trainer.train_step()["loss"] for _ in range(30)]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5


def test_resume_continues_from_saved_step(tmp_path) -> None:
    opts = _opts(tmp_path)
    first = Trainer(opts, log=lambda m: None)
    first.run(steps=3)
    assert first.step == 3
    out = tmp_path / "run"
    assert (out / "last.pt").is_file() and not (out / "last.pt.tmp").exists()
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any(r["type"] == "eval" and "box_miou" in r and "click_miou" in r for r in records)

    second = Trainer(opts, log=lambda m: None)
    assert second.step == 3
    for (name, a), b in zip(first.model.state_dict().items(), second.model.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
    assert second.optimizer.state_dict()["state"]  # the optimizer moments came back too
    second.run(steps=5)
    assert second.step == 5
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == 5

    sam = build_sam_from_config(TINY, checkpoint=out / "best.safetensors")
    assert sam.image_encoder.img_size == 64
    meta = json.loads((out / "best.json").read_text())
    assert SamConfig.from_dict(meta["config"]) == TINY


def test_cli_trains_and_exports(tmp_path) -> None:
    from sam_trt.train.__main__ import main

    out = tmp_path / "cli"
    config = json.dumps({k: v for k, v in TINY.to_dict().items() if k not in ("pixel_mean", "pixel_std")})
    assert main(["--output", str(out), "--steps", "2", "--threads", "1", "--config", config,
                 "--set", "images_per_step=2", "--set", "eval_scenes=2"]) == 0
    assert main(["--output", str(out), "--export", str(tmp_path / "weights")]) == 0
    meta = json.loads((tmp_path / "weights" / "demo.json").read_text())
    assert meta["training"]["steps"] == 2 and "box_miou" in meta["metrics"]["train"]
    sam = build_sam_from_config(TINY, checkpoint=tmp_path / "weights" / "demo.safetensors")
    assert next(sam.parameters()).dtype == torch.float32
