"""PNG plots of benchmark results (matplotlib, Agg backend; pyplot imported only when writing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib  # here, so a missing bench extra stops `sam-trt bench` before it measures anything
import numpy as np

COLORS = ["#2a7ab9", "#e07b39", "#3a9a4a", "#888888", "#9b59b6", "#c0392b"]


def _plt() -> Any:
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bar_chart(path: Path, title: str, groups: dict[str, dict[str, float]], ylabel: str = "median seconds") -> None:
    """groups: {stage: {system: value}} -> one panel per stage, a bar per system (a system keeps its colour)."""
    plt = _plt()
    stages = list(groups)
    systems = list(dict.fromkeys(s for group in groups.values() for s in group))  # a stage may lack some
    fig, axes = plt.subplots(1, len(stages), figsize=(4 * len(stages), 3.5))
    for ax, stage in zip(np.atleast_1d(axes), stages):
        present = [s for s in systems if s in groups[stage]]
        bars = ax.bar(present, [groups[stage][s] for s in present],
                      color=[COLORS[systems.index(s) % len(COLORS)] for s in present])
        ax.bar_label(bars, fmt="%.3g")
        ax.set_title(stage)
        ax.set_ylabel(ylabel)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def latency_stages(path: Path, results: dict[str, Any]) -> None:
    """Grouped bars: p50 per stage and system (log scale), whiskers up to p90."""
    plt = _plt()
    stages, labels = results["stage_order"], list(results["systems"])
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(stages) * max(1, len(labels)) / 2 + 2), 4.2))
    width = 0.8 / len(labels)
    x = np.arange(len(stages))
    for i, label in enumerate(labels):
        p50 = np.array([results["stages"][s].get(label, {}).get("p50_s", np.nan) for s in stages]) * 1e3
        p90 = np.array([results["stages"][s].get(label, {}).get("p90_s", np.nan) for s in stages]) * 1e3
        ax.bar(x + (i - (len(labels) - 1) / 2) * width, p50, width, label=label, color=COLORS[i % len(COLORS)],
               yerr=[np.zeros_like(p50), np.nan_to_num(p90 - p50)], capsize=2)
    ax.set_xticks(x, stages, rotation=30, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("p50 latency, ms (whisker: p90)")
    ax.set_title(f"{results['model']['source']}: latency per stage ({results['image']})", fontsize=10)
    ax.legend()
    ax.grid(axis="y", alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def decoder_batches(path: Path, results: dict[str, Any]) -> None:
    """Decoder p50 per call and prompts/s against the prompt batch B, one line per system."""
    plt = _plt()
    batches = results["settings"]["batches"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    for i, label in enumerate(results["systems"]):
        stats = [results["stages"].get(f"decoder_b{b}", {}).get(label) for b in batches]
        if not any(stats):
            continue
        color = COLORS[i % len(COLORS)]
        left.plot(batches, [s["p50_s"] * 1e3 if s else np.nan for s in stats], "o-", color=color, label=label)
        right.plot(batches, [s["throughput_per_s"] if s else np.nan for s in stats], "o-", color=color, label=label)
    for ax, ylabel in ((left, "p50 ms per decoder call"), (right, "prompts / s at p50")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(batches, [str(b) for b in batches])
        ax.set_xlabel("prompts per call (B)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    left.legend()
    fig.suptitle("Mask decoder against the prompt batch", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def iou_histograms(path: Path, results: dict[str, Any]) -> None:
    """Per-object IoU against the GT: GT box (token 0) and one click, one outline per system."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    bins = np.linspace(0, 1, 21)
    for ax, (key, title) in zip(axes, (("box", "GT box"), ("click", "one click"))):
        for i, (label, rows) in enumerate(results["per_object"].items()):
            values = np.asarray(rows[key])
            ax.hist(values, bins=bins, histtype="step", linewidth=1.6, color=COLORS[i % len(COLORS)],
                    label=f"{label} (mIoU {100 * values.mean():.1f})")
        ax.set_title(title)
        ax.set_xlabel("IoU against ground truth")
        ax.set_ylabel("objects")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fidelity_histogram(path: Path, values: dict[str, np.ndarray], reference: str) -> None:
    """Per-mask IoU against the reference, as 1 - IoU on a log axis (0 counted at the floor)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    floor = 1e-6
    bins = np.logspace(-6, 0, 25)
    for i, (label, v) in enumerate(values.items()):
        gap = np.clip(1.0 - np.asarray(v), floor, 1.0)
        ax.hist(gap, bins=bins, histtype="step", linewidth=1.6, color=COLORS[i % len(COLORS)],
                label=f"{label}: {100 * np.mean(np.asarray(v) == 1.0):.1f}% identical")
    ax.set_xscale("log")
    ax.set_xlabel(f"1 - IoU against {reference} (identical masks at {floor:g})")
    ax.set_ylabel("masks")
    ax.set_title(f"Fidelity against {reference}, every token of every prompt", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def latency_vs_accuracy(path: Path, results: dict[str, Any]) -> None:
    """set_image p50 measured during the accuracy run against GT-box and one-click mIoU, per system."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (label, a) in enumerate(results["accuracy"].items()):
        x = a["timing"]["set_image"]["p50_s"] * 1e3
        color = COLORS[i % len(COLORS)]
        ax.scatter([x], [100 * a["box"]["all"]["mean"]], marker="s", color=color, label=f"{label} box")
        ax.scatter([x], [100 * a["click"]["all"]["mean"]], marker="o", color=color, label=f"{label} 1-click")
        ax.annotate(label, (x, 100 * a["box"]["all"]["mean"]), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("set_image p50 during the run, ms")
    ax.set_ylabel("mIoU %")
    ax.set_title("Latency against accuracy", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def clicks_curve(path: Path, results: dict[str, Any]) -> None:
    """mIoU against the number of clicks (iterative refinement), one line per system."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for i, (label, a) in enumerate(results["accuracy"].items()):
        k = np.arange(1, len(a["clicks_miou"]) + 1)
        ax.plot(k, 100 * np.asarray(a["clicks_miou"]), "o-", color=COLORS[i % len(COLORS)], label=label)
    ax.set_xlabel("clicks")
    ax.set_ylabel("mIoU %")
    ax.set_xticks(np.arange(1, results["settings"]["clicks"] + 1))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
