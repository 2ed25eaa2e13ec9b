"""Peak memory of a phase of a run: host resident set size (Linux) and CUDA memory (torch allocator).

Host: the kernel's high-water mark of the process's resident set (VmHWM), reset at the start of a phase by
writing 5 to /proc/self/clear_refs, so the peak belongs to that phase; everything the process already holds
(earlier backends included) counts, so the increase over the RSS at the phase start is reported too. Where
the reset is not possible (not Linux, no permission) the figure is `resource.getrusage` ru_maxrss: the peak
of the whole process so far, labelled as such. tracemalloc is not used: it sees only Python-level
allocations, not the memory of torch, onnxruntime or TensorRT. Device: torch's peak allocated bytes after
`reset_peak_memory_stats` (memory of other libraries on the GPU, e.g. onnxruntime's CUDA arena, is not seen).
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
MIB = 1024 * 1024


def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def current_rss_mib() -> float | None:
    """Resident set size now (MiB), or None where /proc is not available."""
    kib = _status_kib("VmRSS")
    return None if kib is None else kib / 1024


def _maxrss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MIB if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


class PeakMemory:
    """Measures one phase: `start()` before it, `stop()` after it -> dict of MiB figures and the method."""

    def __init__(self, cuda: bool = False) -> None:
        self.cuda = cuda
        self.method = "VmHWM reset per phase"
        self.rss_start: float | None = None

    def start(self) -> None:
        self.rss_start = current_rss_mib()
        try:
            _CLEAR_REFS.write_text("5")
        except OSError:
            self.method = "ru_maxrss (whole process so far)"
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()

    def stop(self) -> dict[str, float | str | None]:
        hwm = _status_kib("VmHWM") if self.method.startswith("VmHWM") else None
        peak = hwm / 1024 if hwm is not None else _maxrss_mib()
        if hwm is None:
            self.method = "ru_maxrss (whole process so far)"
        out: dict[str, float | str | None] = {
            "host_peak_rss_mib": peak,
            "host_rss_at_start_mib": self.rss_start,
            "host_peak_increase_mib": None if self.rss_start is None else peak - self.rss_start,
            "host_method": self.method,
            "device_peak_allocated_mib": None,
        }
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            out["device_peak_allocated_mib"] = torch.cuda.max_memory_allocated() / MIB
            out["device_method"] = "torch.cuda.max_memory_allocated after reset_peak_memory_stats"
        return out
