"""Latency and accuracy benchmarks (`sam-trt bench latency|accuracy`), usable from Python too.

One component a module: timing (clocks, percentiles), memory (peak RSS / device memory), machine
(versions), models (sources and backend lists), subjects (the stages timed per system), official (the
official package as a baseline), latency (the interleaved runner), dataset (COCO and the synthetic default),
accuracy (mIoU per area bucket), fidelity (`compare`: the accuracy gate against a reference), report and
plots (the output folder).
"""

from .fidelity import GATE, Prompt, compare, gt_prompts, passes
from .timing import summarize, time_calls

__all__ = ["GATE", "Prompt", "compare", "gt_prompts", "passes", "summarize", "time_calls"]
