"""The demo model's training curve: held-out GT-box and 1-click mIoU (the trainer's eval set) against CPU-minutes.

    python benchmarks/demo_training_curve.py [--run checkpoints/demo] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("checkpoints/demo"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [json.loads(line) for line in (args.run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    evals = [r for r in records if r.get("type") == "eval"]
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, label in (("box_miou", "GT box"), ("click_miou", "1 click"), ("box_miou_small", "small objects, box")):
        ax.plot([r["minutes"] for r in evals], [r[key] for r in evals], label=label)
    ax.set_xlabel("training CPU-minutes (wall clock of the run)")
    ax.set_ylabel("held-out mIoU (32 scenes)")
    ax.set_title(f"demo model: step {evals[-1]['step']}, {evals[-1]['minutes']:.0f} min")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out / "demo_training_curve.png", dpi=110)
    last = evals[-1]
    print(f"step {last['step']}, {last['minutes']:.1f} min: box {last['box_miou']:.3f}, "
          f"click {last['click_miou']:.3f}, small box {last['box_miou_small']:.3f}")


if __name__ == "__main__":
    main()
