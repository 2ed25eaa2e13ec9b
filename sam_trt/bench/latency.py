"""`sam-trt bench latency`: every stage of every system, warmed up, repeated and interleaved."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from .memory import PeakMemory
from .subjects import Stage, decoder_stage, random_clicks
from .timing import interleaved_order, summarize


class Subject(Protocol):
    label: str
    info: dict[str, Any]

    def stages(self) -> list[Stage]: ...


SubjectFactory = Callable[[np.ndarray, dict[int, np.ndarray]], Subject]
PIPELINE = ("preprocess", "h2d", "encoder", "decoder_b1", "postprocess")  # one image + one prompt, summed


@dataclass
class LatencySettings:
    """batches: prompt batch sizes B for the decoder; repeats: timed runs of every stage; encoder_repeats:
    timed runs of the encoder and end-to-end stages (None = repeats); warmup: untimed runs of every stage
    first; image: a file, or None for a generated scene of image_size (H, W); seed: scene and clicks.
    settle_s and prime, for stages whose warm-up call took under prime_below_s: before each timed call the
    runner sleeps settle_s (the thread pool of the system that ran before, e.g. ONNX Runtime's, which spins
    after every run, goes quiet) and then makes `prime` untimed calls of the same stage on the same system
    (its own pool wakes up). Without this, on a small CPU one system's spinning threads are charged to the
    next system's latency (measured on 2 cores: torch calls of 10 ms took up to 800 ms after ORT calls)."""

    batches: tuple[int, ...] = (1, 4, 16, 64)
    repeats: int = 20
    encoder_repeats: int | None = None
    warmup: int = 2
    image_size: tuple[int, int] = (720, 1280)
    image: str | None = None
    seed: int = 0
    prime: int = 2
    prime_below_s: float = 0.5
    settle_s: float = 0.05

    def runs_for(self, stage: Stage) -> int:
        return self.encoder_repeats if stage.heavy and self.encoder_repeats is not None else self.repeats


def bench_image(settings: LatencySettings) -> tuple[np.ndarray, str]:
    """HxWx3 RGB image to time on: the file given, else a generated scene (seeded)."""
    if settings.image is not None:
        from ..files import read_image_rgb

        image = read_image_rgb(settings.image)
        return image, f"{Path(settings.image).name} ({image.shape[0]}x{image.shape[1]})"
    from ..data import generate_scene, rng_for

    h, w = settings.image_size
    return generate_scene(rng_for(settings.seed), size=(h, w)).image, f"generated scene {h}x{w} (seed {settings.seed})"


def _cuda_in_use() -> bool:
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_available())


def run_latency(factories: dict[str, SubjectFactory], settings: LatencySettings, progress: bool | None = None,
                log: Callable[[str], object] = print) -> dict[str, Any]:
    """Set up each system in turn (its setup + warm-up is its memory phase), then time all stages in rounds:
    in round r every stage still short of its runs is timed once per system, systems rotated by r.

    factories: label -> callable(image, clicks) building the system. Returns the results dict (seconds).
    """
    image, image_label = bench_image(settings)
    clicks = random_clicks(image.shape[:2], tuple(settings.batches), settings.seed)
    subjects: dict[str, Subject] = {}
    stages: dict[str, dict[str, Stage]] = {}
    systems: dict[str, dict[str, Any]] = {}
    primes: dict[str, dict[str, int]] = {}
    for label, make in factories.items():
        memory = PeakMemory(cuda=_cuda_in_use())
        memory.start()
        start = time.perf_counter()
        subject = make(image, clicks)
        setup_s = time.perf_counter() - start
        subject_stages = subject.stages()
        warm_s: dict[str, float] = {}
        for _ in range(max(settings.warmup, 1)):
            for stage in subject_stages:
                warm_s[stage.name] = stage.timer(stage.fn)
        primes[label] = {name: settings.prime if t < settings.prime_below_s else 0 for name, t in warm_s.items()}
        subjects[label] = subject
        stages[label] = {s.name: s for s in subject_stages}
        mem = memory.stop()
        if mem["device_peak_allocated_mib"] is not None and "cuda" not in str(subject.info.get("device")):
            mem["device_peak_allocated_mib"], mem["device_method"] = None, "not on a CUDA torch device"
        elif mem["device_peak_allocated_mib"] is not None and subject.info.get("backend") not in ("torch", None) \
                and subject.info.get("system") != "official":
            mem["device_peak_allocated_mib"], mem["device_method"] = None, "not seen: the backend's own allocator"
        systems[label] = {**subject.info, "setup_s": setup_s, "memory": mem,
                          "timers": {s.name: getattr(s.timer, "kind", "host") for s in subject_stages}}
        log(f"{label}: set up in {setup_s:.2f} s, warmed up ({max(settings.warmup, 1)} run(s) of every stage)")

    order: list[str] = []
    for per_system in stages.values():
        order += [name for name in per_system if name not in order]
    order = _pipeline_order(order, settings.batches)
    labels = list(subjects)
    times: dict[str, dict[str, list[float]]] = {label: {name: [] for name in stages[label]} for label in labels}
    rounds = max(settings.repeats, settings.encoder_repeats or 0)
    load_before = _loadavg()
    quiet = None if progress is None else not progress
    for r in tqdm(range(rounds), desc="latency rounds", unit="round", disable=quiet):
        for name in order:
            for label in interleaved_order(labels, r):
                stage = stages[label].get(name)
                if stage is not None and r < settings.runs_for(stage):
                    if primes[label][name] and settings.settle_s > 0:
                        time.sleep(settings.settle_s)
                    for _ in range(primes[label][name]):
                        stage.fn()
                    times[label][name].append(stage.timer(stage.fn))

    results_stages: dict[str, dict[str, Any]] = {}
    for name in order:
        results_stages[name] = {}
        for label in labels:
            stage = stages[label].get(name)
            if stage is None or not times[label][name]:
                continue
            results_stages[name][label] = {**summarize(times[label][name], stage.units), "units": stage.units,
                                           "unit": stage.unit, "timer": getattr(stage.timer, "kind", "host"),
                                           "prime_calls": primes[label][name],
                                           "times_s": times[label][name]}
    reference = next((lab for lab in labels if systems[lab]["system"] == "official"), labels[0])
    return {
        "image": image_label,
        "image_shape": list(image.shape[:2]),
        "settings": {**asdict(settings), "batches": list(settings.batches), "rounds": rounds},
        "systems": systems,
        "stage_order": order,
        "stages": results_stages,
        "reference": reference,
        "speedup_vs_reference": _speedups(results_stages, reference),
        "pipeline_sum_p50_s": {label: _pipeline_sum(results_stages, label) for label in labels},
        "load_average_during": {"before": load_before, "after": _loadavg()},
    }


def _pipeline_order(names: list[str], batches: tuple[int, ...]) -> list[str]:
    canonical = ["preprocess", "h2d", "encoder", *(decoder_stage(b) for b in batches), "postprocess", "end_to_end"]
    return [n for n in canonical if n in names] + [n for n in names if n not in canonical]


def _speedups(stages: dict[str, dict[str, Any]], reference: str) -> dict[str, dict[str, float]]:
    out = {}
    for name, per in stages.items():
        if reference in per:
            out[name] = {label: per[reference]["p50_s"] / s["p50_s"] for label, s in per.items() if s["p50_s"] > 0}
    return out


def _pipeline_sum(stages: dict[str, dict[str, Any]], label: str) -> float | None:
    """p50 of preprocess + h2d + encoder + decoder (B=1) + postprocess: one image, one prompt, stage by stage."""
    parts = [stages[n][label]["p50_s"] for n in PIPELINE if n in stages and label in stages[n]]
    return float(sum(parts)) if parts else None


def _loadavg() -> list[float] | None:
    import os

    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None
