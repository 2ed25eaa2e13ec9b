"""Clocks and statistics for latency runs: host and CUDA-event timers, interleaved repeats, percentiles.

Host stages use `time.perf_counter`; on a CUDA torch device a stage's GPU work is timed with CUDA events
recorded on the current stream around it (`CudaEventTimer`), and host-clock stages synchronise first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


class HostTimer:
    """Wall-clock seconds of one call on the host (`perf_counter`); `device` work is waited for if CUDA."""

    kind = "host perf_counter"

    def __init__(self, device: Any = None) -> None:
        self.cuda = getattr(device, "type", None) == "cuda"

    def __call__(self, fn: Callable[[], object]) -> float:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if self.cuda:
            import torch

            torch.cuda.synchronize()
        return time.perf_counter() - start


class CudaEventTimer:
    """Seconds between two CUDA events recorded on the current stream around one call (GPU time,
    including any gaps where the GPU waits for the host to launch work)."""

    kind = "cuda events"

    def __call__(self, fn: Callable[[], object]) -> float:
        import torch

        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3


def timer_for(device: Any, gpu_stage: bool) -> HostTimer | CudaEventTimer:
    """CUDA events for a GPU stage on a CUDA torch device, else the host clock."""
    if gpu_stage and getattr(device, "type", None) == "cuda":
        return CudaEventTimer()
    return HostTimer(device)


def time_calls(fn: Callable[[], object], repeats: int, warmup: int = 1,
               timer: Callable[[Callable[[], object]], float] | None = None) -> list[float]:
    """Seconds of `repeats` calls of fn after `warmup` untimed calls (host clock unless `timer` is given)."""
    timer = timer or HostTimer()
    for _ in range(warmup):
        fn()
    return [timer(fn) for _ in range(repeats)]


def interleaved_order(names: Sequence[str], round_index: int) -> list[str]:
    """The systems in round `round_index`: rotated by one each round, so each goes first equally often
    and slow drift of the machine (thermal, other load) hits all systems alike."""
    if not names:
        return []
    shift = round_index % len(names)
    return list(names[shift:]) + list(names[:shift])


def summarize(times: Sequence[float], units: float = 1.0) -> dict[str, float | int]:
    """Seconds of repeated runs -> runs, p50, p90, p99 (linear percentiles), mean, std, min, max (seconds)
    and throughput = units / p50 (units: images or prompts per call)."""
    arr = np.asarray(times, dtype=np.float64)
    if arr.size == 0:
        raise ValueError("summarize needs at least one time")
    p50, p90, p99 = np.percentile(arr, [50, 90, 99])
    return {"runs": int(arr.size), "p50_s": float(p50), "p90_s": float(p90), "p99_s": float(p99),
            "mean_s": float(arr.mean()), "std_s": float(arr.std()), "min_s": float(arr.min()),
            "max_s": float(arr.max()), "throughput_per_s": float(units / p50) if p50 > 0 else float("inf")}
