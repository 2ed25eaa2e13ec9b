"""python -m sam_trt.train --output runs/demo [--minutes N] [--steps N] [--seed 0] [--threads N] [--export]"""

from __future__ import annotations

import argparse
import json
import sys

import torch

from ..config import DEMO_CONFIG, SamConfig
from .trainer import Trainer, TrainOptions


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sam_trt.train", description="Train the demo SAM on generated "
                                 "scenes; resumes from OUTPUT/last.pt when present.")
    ap.add_argument("--output", required=True, help="run folder (checkpoints, metrics.jsonl, best weights)")
    ap.add_argument("--minutes", type=float, help="train this many minutes in this call")
    ap.add_argument("--steps", type=int, help="stop at this global step")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, help="torch CPU threads")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--config", default="{}", help="JSON overrides of the demo SamConfig fields (new runs)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="training option override, e.g. --set lr=2e-3 --set images_per_step=4 (a new run's "
                    "options; on resume these win over the stored ones, e.g. --set schedule_steps=12000)")
    ap.add_argument("--export", nargs="?", const="sam_trt/demo/weights", metavar="DIR",
                    help="export OUTPUT/best.safetensors to DIR (default sam_trt/demo/weights) and exit")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.export:
        from .export import export_best

        meta = export_best(args.output, args.export)
        print(json.dumps(meta["metrics"], indent=2))
        return 0
    config = SamConfig.from_dict({**DEMO_CONFIG.to_dict(), **json.loads(args.config)})
    overrides = {}
    fields = TrainOptions.__dataclass_fields__
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in fields:
            ap.error(f"unknown option {key}")
        overrides[key] = json.loads(value)
    opts = TrainOptions(output=args.output, seed=args.seed, config=config.to_dict(), **overrides)
    trainer = Trainer(opts, device=args.device, log=lambda m: print(m, flush=True), resume_overrides=overrides)
    n = sum(p.numel() for p in trainer.model.parameters())
    print(f"model {n / 1e6:.2f} M parameters; config {json.dumps(trainer.config.to_dict())}", flush=True)
    trainer.run(minutes=args.minutes, steps=args.steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
