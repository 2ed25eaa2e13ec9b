"""Timing and reporting helpers of the standalone benchmark scripts: thin wrappers over `sam_trt.bench`
(kept so the scripts, and the results they recorded, stay reproducible)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sam_trt.bench.machine import machine_info
from sam_trt.bench.plots import bar_chart
from sam_trt.bench.timing import summarize as _summarize
from sam_trt.bench.timing import time_calls

__all__ = ["bar_chart", "machine", "summarize", "time_calls", "write_results"]


def summarize(times: list[float]) -> dict[str, float]:
    """The package's statistics plus the keys these scripts recorded (median_s = p50_s)."""
    stats = _summarize(times)
    return {"median_s": stats["p50_s"], **stats}


def machine() -> dict[str, Any]:
    import torch  # noqa: F401  (machine_info reports torch only once it is imported)

    return machine_info()


def write_results(out_dir: Path, name: str, results: dict, markdown: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / f"{name}.md").write_text(markdown)
