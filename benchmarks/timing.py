"""Small timing and reporting helpers shared by the benchmark scripts (not part of the package)."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def time_calls(fn: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of `repeats` calls of fn after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def summarize(times: list[float]) -> dict[str, float]:
    arr = np.asarray(times)
    return {"median_s": float(np.median(arr)), "p90_s": float(np.percentile(arr, 90)),
            "mean_s": float(arr.mean()), "runs": len(times)}


def machine() -> dict[str, object]:
    import torch

    info: dict[str, object] = {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                               "python": platform.python_version(), "torch": torch.__version__,
                               "torch_threads": torch.get_num_threads()}
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    with open("/proc/cpuinfo") as f:
        names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    info["cpu"] = names[0] if names else platform.processor()
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def write_results(out_dir: Path, name: str, results: dict, markdown: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / f"{name}.md").write_text(markdown)


def bar_chart(path: Path, title: str, groups: dict[str, dict[str, float]], ylabel: str = "median seconds") -> None:
    """groups: {stage: {system: value}} -> grouped bar chart PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = list(groups)
    systems = list(next(iter(groups.values())))
    fig, axes = plt.subplots(1, len(stages), figsize=(4 * len(stages), 3.5))
    for ax, stage in zip(np.atleast_1d(axes), stages):
        values = [groups[stage][s] for s in systems]
        bars = ax.bar(systems, values, color=["#888888", "#2a7ab9", "#e07b39", "#3a9a4a"][: len(systems)])
        ax.bar_label(bars, fmt="%.3g")
        ax.set_title(stage)
        ax.set_ylabel(ylabel)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
