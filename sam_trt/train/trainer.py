"""The resumable training loop: AdamW + warm-up/cosine, EMA weights, periodic eval, atomic checkpoints.

Output folder layout: last.pt (model, EMA, optimizer, step, RNG, elapsed time; written to a temp file then
renamed), best.safetensors + best.json (EMA weights with the best held-out GT-box mIoU so far),
metrics.jsonl (one JSON object a line: "train" and "eval" records).
"""

from __future__ import annotations

import copy
import json
import math
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..config import DEMO_CONFIG, SamConfig
from ..files import atomic_path
from ..modeling import Sam, build_sam_from_config
from .evaluate import eval_scenes, evaluate
from .step import make_batch, train_losses


@dataclass
class TrainOptions:
    """Everything that defines a run; stored in the checkpoint (the stored values win on resume)."""

    output: str
    seed: int = 0
    config: dict = field(default_factory=DEMO_CONFIG.to_dict)
    images_per_step: int = 8
    max_objects: int = 8
    lr: float = 1e-3
    min_lr_frac: float = 0.05
    warmup_steps: int = 300
    schedule_steps: int = 40_000  # cosine horizon; the lr stays at min_lr_frac * lr past it
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    ema_decay: float = 0.998
    dice_weight: float = 1.0
    bce_balance: float = 1.0  # class-balanced BCE share at step 0 (escapes the empty-mask optimum fast) ...
    bce_balance_final: float = 0.2  # ... annealed linearly to this share (plain BCE is better calibrated)
    bce_balance_steps: int = 4000
    iou_weight: float = 1.0
    refine: bool = True
    eval_scenes: int = 32
    eval_minutes: float = 5.0
    save_minutes: float = 3.0
    log_every: int = 20


def init_decoder(sam: Sam, gain: float = 2.0) -> None:
    """Tie every decoder attention's key projection to its query projection (orthogonal, scaled by `gain`).

    With q = k projections, a prompt token's attention logits start as the similarity of its positional
    encoding to each grid cell's, so each prompt attends to its own location from step 0. From default init
    the decoder instead learns the empty mask first and can stay there (seen with BCE and focal + dice).
    """
    for module in sam.mask_decoder.transformer.modules():
        if hasattr(module, "q_proj") and hasattr(module, "k_proj"):
            with torch.no_grad():
                torch.nn.init.orthogonal_(module.q_proj.weight, gain=gain)
                module.k_proj.weight.copy_(module.q_proj.weight)
                module.q_proj.bias.zero_()
                module.k_proj.bias.zero_()


def balance_at(step: int, opts: TrainOptions) -> float:
    t = min(1.0, step / max(1, opts.bce_balance_steps))
    return opts.bce_balance + (opts.bce_balance_final - opts.bce_balance) * t


def lr_at(step: int, opts: TrainOptions) -> float:
    if step < opts.warmup_steps:
        return opts.lr * (step + 1) / opts.warmup_steps
    t = min(1.0, (step - opts.warmup_steps) / max(1, opts.schedule_steps - opts.warmup_steps))
    return opts.lr * (opts.min_lr_frac + (1 - opts.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * t)))


def weights_for_export(sam: Sam) -> dict[str, torch.Tensor]:
    """Flat state dict in the official key layout (contiguous CPU tensors)."""
    return {k: v.detach().cpu().contiguous() for k, v in sam.state_dict().items()}


class Trainer:
    """Builds or resumes a run in `opts.output`; `run(minutes=, steps=)` trains until a limit or SIGTERM.

    On resume the stored options win, except `resume_overrides` (e.g. a longer `schedule_steps`), which are
    applied on top and stored from then on.
    """

    def __init__(self, opts: TrainOptions, device: str = "cpu", log=print,
                 resume_overrides: dict | None = None) -> None:
        self.out = Path(opts.output)
        self.out.mkdir(parents=True, exist_ok=True)
        self.device = torch.device(device)
        self.log = log
        ckpt_path = self.out / "last.pt"
        state = torch.load(ckpt_path, map_location="cpu", weights_only=True) if ckpt_path.exists() else None
        if state is not None:
            opts = TrainOptions(**{**asdict(opts), **state["options"], **(resume_overrides or {}),
                                   "output": opts.output})
            changed = {k: v for k, v in (resume_overrides or {}).items() if state["options"].get(k) != v}
            if changed:
                log(f"resume overrides {json.dumps(changed)}")
        self.opts = opts
        self.config = SamConfig.from_dict(opts.config)
        torch.manual_seed(opts.seed)
        self.model = build_sam_from_config(self.config).to(self.device).train()
        init_decoder(self.model)
        self.ema = copy.deepcopy(self.model).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        decay, no_decay = [], []
        for name, p in self.model.named_parameters():
            (no_decay if p.ndim < 2 or "pos" in name or "token" in name or "embed" in name else decay).append(p)
        self.optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": opts.weight_decay},
                                            {"params": no_decay, "weight_decay": 0.0}], lr=opts.lr,
                                           betas=(0.9, 0.98))
        self.step = 0
        self.elapsed = 0.0
        self.best_box = -1.0
        if state is not None:
            self.model.load_state_dict(state["model"])
            self.ema.load_state_dict(state["ema"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.step, self.elapsed, self.best_box = state["step"], state["elapsed_s"], state["best_box"]
            torch.set_rng_state(state["torch_rng"])
            self.log(f"resumed {ckpt_path} at step {self.step} ({self.elapsed / 60:.1f} min trained)")
        self._scenes = None
        self._stop = False

    # -- state ------------------------------------------------------------------------------------------
    def save(self) -> None:
        state = {"model": self.model.state_dict(), "ema": self.ema.state_dict(),
                 "optimizer": self.optimizer.state_dict(), "step": self.step, "elapsed_s": self.elapsed,
                 "best_box": self.best_box, "torch_rng": torch.get_rng_state(), "options": asdict(self.opts)}
        with atomic_path(self.out / "last.pt") as p:
            torch.save(state, p)

    def _record(self, record: dict) -> None:
        with open(self.out / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = min(self.opts.ema_decay, (1 + self.step) / (10 + self.step))
        ema_p = list(self.ema.parameters())
        torch._foreach_lerp_(ema_p, [p.detach() for p in self.model.parameters()], 1 - decay)

    def evaluate(self) -> dict:
        if self._scenes is None:
            self._scenes = eval_scenes(self.opts.eval_scenes, self.config.image_size)
        t0 = time.time()
        metrics = evaluate(self.ema, self._scenes)
        record = {"type": "eval", "step": self.step, "minutes": round(self.elapsed / 60, 2),
                  "eval_s": round(time.time() - t0, 1), **{k: round(v, 4) for k, v in metrics.items()}}
        self._record(record)
        self.log(f"eval step {self.step} ({self.elapsed / 60:.1f} min): box {metrics['box_miou']:.3f} "
                 f"click {metrics['click_miou']:.3f} (oracle {metrics['click_oracle_miou']:.3f}) "
                 f"small box {metrics['box_miou_small']:.3f}")
        if metrics["box_miou"] > self.best_box:
            self.best_box = metrics["box_miou"]
            self.write_best(record)
        return metrics

    def write_best(self, record: dict) -> None:
        from safetensors.torch import save_file

        weights = weights_for_export(self.ema)
        with atomic_path(self.out / "best.safetensors") as p:
            save_file(weights, str(p))
        meta = {"config": self.config.to_dict(), "step": self.step, "minutes": round(self.elapsed / 60, 2),
                "seed": self.opts.seed, "metrics": record, "options": asdict(self.opts)}
        with atomic_path(self.out / "best.json") as p:
            p.write_text(json.dumps(meta, indent=2))

    # -- loop -------------------------------------------------------------------------------------------
    def _on_signal(self, signum, frame) -> None:  # noqa: ARG002
        self.log(f"signal {signum}: saving and stopping after this step")
        self._stop = True

    def train_step(self) -> dict[str, float]:
        opts = self.opts
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(self.step, opts)
        batch = make_batch(opts.seed, self.step, opts.images_per_step, self.config.image_size, opts.max_objects)
        generator = torch.Generator().manual_seed(opts.seed * 1_000_003 + self.step)
        out = train_losses(self.model, batch, generator, opts.dice_weight, balance_at(self.step, opts),
                           opts.iou_weight, refine=opts.refine)
        self.optimizer.zero_grad(set_to_none=True)
        out["loss"].backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), opts.grad_clip)
        self.optimizer.step()
        self.step += 1
        self._update_ema()
        stats = {k: float(v.detach()) for k, v in out.items()}
        return stats | {"grad_norm": float(grad_norm), "prompts": len(batch.masks)}

    def run(self, minutes: float | None = None, steps: int | None = None) -> None:
        """Train until `minutes` of this call or global step `steps`, whichever comes first (or a signal)."""
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        start = time.time()
        last_save = last_eval = start
        window: list[dict] = []
        recent: list[float] = []
        try:
            while not self._stop:
                if steps is not None and self.step >= steps:
                    break
                if minutes is not None and time.time() - start >= minutes * 60:
                    break
                t0 = time.time()
                stats = self.train_step()
                dt = time.time() - t0
                recent.append(dt)
                typical = sorted(recent[-50:])[len(recent[-50:]) // 2]
                # A step far slower than usual was paused (SIGSTOP, suspend): count it as a typical one.
                self.elapsed += min(dt, 5 * typical) if len(recent) >= 5 else dt
                window.append(stats | {"step_s": dt})
                if self.step % self.opts.log_every == 0:
                    mean = {k: round(sum(w[k] for w in window) / len(window), 4) for k in window[0]}
                    self._record({"type": "train", "step": self.step, "minutes": round(self.elapsed / 60, 2),
                                  "lr": lr_at(self.step, self.opts), **mean})
                    self.log(f"step {self.step} loss {mean['loss']:.3f} box-iou {mean['iou_box']:.3f} "
                             f"click-iou {mean['iou_click']:.3f} {mean['step_s']:.2f}s/step")
                    window = []
                now = time.time()
                if now - last_eval >= self.opts.eval_minutes * 60:
                    self.evaluate()
                    last_eval = time.time()
                if now - last_save >= self.opts.save_minutes * 60:
                    self.save()
                    last_save = time.time()
        finally:
            self.save()
            for s, handler in old.items():
                signal.signal(s, handler)
        self.evaluate()
        self.save()
