"""Writing a benchmark's output folder whole (results.json, report.md, plots) and the markdown tables."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..files import current_umask


def check_output(path: str | Path, overwrite: bool) -> Path:
    """The output folder, refused early when it exists (and is not empty) without --overwrite."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"--output {path} is a file; give a folder")
    if path.exists() and any(path.iterdir()) and not overwrite:
        raise InputError(f"{path} already exists; pass --overwrite or choose another --output")
    return path


def write_output_folder(path: str | Path, files: dict[str, Callable[[Path], object]], overwrite: bool) -> Path:
    """Write each file with its writer(path) into a sibling temporary folder, then rename it onto `path`
    (replacing an existing folder only with overwrite): the folder appears whole or not at all."""
    path = check_output(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    os.chmod(tmp, 0o777 & ~current_umask())
    trash = None
    try:
        for name, writer in files.items():
            writer(tmp / name)
        if path.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{path.name}-old-", dir=path.parent))
            os.replace(path, trash / "old")
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
    return path


def clean_json(value: Any) -> Any:
    """JSON-safe copy: numpy scalars and arrays to Python, NaN and infinities to None, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return clean_json(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def json_writer(data: dict[str, Any]) -> Callable[[Path], None]:
    return lambda p: p.write_text(json.dumps(clean_json(data), indent=1) + "\n")


def text_writer(text: str) -> Callable[[Path], None]:
    return lambda p: p.write_text(text)


def ms(seconds: float | None) -> str:
    """Milliseconds with 3-4 significant digits."""
    if seconds is None:
        return "–"
    v = seconds * 1e3
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}" if v >= 1 else f"{v:.3f}"


def pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def machine_line(m: dict[str, Any]) -> str:
    parts = [f"{m.get('cpu')}, {m.get('cpu_count')} logical cores", f"Python {m.get('python')}"]
    if "torch" in m:
        parts.append(f"torch {m['torch']} ({m.get('torch_threads')} threads)")
    if "onnxruntime" in m:
        parts.append(f"onnxruntime {m['onnxruntime']}")
    if "gpu" in m:
        parts.append(f"GPU {m['gpu']} (CUDA {m.get('cuda')})")
    return ", ".join(parts)


def header_lines(title: str, results: dict[str, Any]) -> list[str]:
    model = results["model"]
    return [
        f"# {title}", "",
        f"Command: `{results['command']}`  ",
        f"Model: {model['source']} ({model['model_type']}, input {model['image_size']}x{model['image_size']})  ",
        f"Machine: {machine_line(results['machine'])}  ",
        f"Load average at start: {_load(results['machine'].get('load_average'))}; sam-trt "
        f"{results['machine']['versions'].get('sam-trt', '?')}; {results['machine']['time_utc']}", "",
    ]


def _load(values: list[float] | None) -> str:
    return "n/a" if not values else " / ".join(f"{v:.2f}" for v in values)


def systems_table(systems: dict[str, dict[str, Any]]) -> list[str]:
    rows = [[label, s.get("system", "sam-trt"), str(s.get("backend")), str(s.get("device")), str(s.get("precision"))]
            for label, s in systems.items()]
    return table(["system", "kind", "backend", "device", "precision"], rows)


STAGE_NOTES = {
    "preprocess": "host: resize to the model's input (Pillow bilinear) and lay out 1x3xhxw",
    "h2d": "upload the resized uint8 image to the GPU",
    "encoder": "normalise + pad + image encoder (ORT pads on the host inside its call)",
    "decoder": "prompt encoder + mask decoder for B one-click prompts, all 4 tokens",
    "postprocess": "one prompt: 3 masks upscaled to the original size, thresholded, copied to host",
    "end_to_end": "set_image + one predict (one click, multimask) through the public API",
}


def latency_markdown(results: dict[str, Any]) -> str:
    """report.md of a latency run."""
    settings, stages, systems = results["settings"], results["stages"], results["systems"]
    labels = list(systems)
    ref = results["reference"]
    lines = header_lines("sam-trt bench latency", results)
    lines += [f"Image: {results['image']}; prompts: B seeded random clicks each (+ SAM's padding point).  ",
              f"Runs: {settings['warmup']} warm-up run(s) of every stage, then {settings['repeats']} timed runs per "
              f"stage ({settings['encoder_repeats'] or settings['repeats']} for encoder and end-to-end), in rounds "
              "that alternate the systems (rotated each round), so drift hits all alike. Each timed call of a stage "
              f"under {settings['prime_below_s']} s follows a {1e3 * settings['settle_s']:.0f} ms pause and "
              f"{settings['prime']} untimed call(s) of the same stage on the same system, so the thread pools of "
              "the system before it have gone quiet and its own are awake.", ""]
    lines += systems_table(systems) + [""]
    lines += ["## p50 latency per stage (ms)", ""]
    header = ["stage", "per call"] + labels + ([f"speed-up vs {ref}: " + ", ".join(l for l in labels if l != ref)]
                                               if len(labels) > 1 else [])
    rows = []
    for name in results["stage_order"]:
        per = stages[name]
        any_stat = next(iter(per.values()))
        row = [name, f"{any_stat['units']} {any_stat['unit']}{'s' if any_stat['units'] > 1 else ''}"]
        row += [ms(per[label]["p50_s"]) if label in per else "–" for label in labels]
        if len(labels) > 1:
            speed = results["speedup_vs_reference"].get(name, {})
            row.append(", ".join(f"{speed[l]:.2f}x" if l in speed else "–" for l in labels if l != ref))
        rows.append(row)
    sums = results["pipeline_sum_p50_s"]
    rows.append(["sum of stages (1 image, 1 prompt)", ""] + [ms(sums.get(label)) for label in labels]
                + ([""] if len(labels) > 1 else []))
    lines += table(header, rows) + [""]
    lines += ["## Throughput at p50", ""]
    rows = [[name, next(iter(stages[name].values()))["unit"] + "s/s"]
            + [f"{stages[name][l]['throughput_per_s']:.1f}" if l in stages[name] else "–" for l in labels]
            for name in results["stage_order"]]
    lines += table(["stage", "unit"] + labels, rows) + [""]
    lines += ["## Distribution (ms)", ""]
    rows = []
    for name in results["stage_order"]:
        for label, s in stages[name].items():
            rows.append([name, label, str(s["runs"]), ms(s["p50_s"]), ms(s["p90_s"]), ms(s["p99_s"]), ms(s["mean_s"]),
                         ms(s["min_s"]), ms(s["max_s"]), s["timer"]])
    lines += table(["stage", "system", "runs", "p50", "p90", "p99", "mean", "min", "max", "timer"], rows)
    lines += ["", "p99 of fewer than 100 runs is close to the maximum.", "", "## Memory", ""]
    rows = []
    for label, s in systems.items():
        m = s["memory"]
        dev = m.get("device_peak_allocated_mib")
        rows.append([label, f"{s['setup_s']:.2f}", f"{m['host_peak_rss_mib']:.0f}",
                     "–" if m["host_peak_increase_mib"] is None else f"{m['host_peak_increase_mib']:.0f}",
                     "–" if dev is None else f"{dev:.0f}"])
    lines += table(["system", "setup s", "peak RSS MiB", "increase MiB", "device peak MiB"], rows)
    method = next(iter(systems.values()))["memory"]["host_method"]
    lines += ["", f"Setup: loading the backend, the first encode and decode. Peak RSS: the process's resident-set "
              f"high-water mark during that system's setup and warm-up ({method}); the increase is over the RSS at "
              "its start (systems set up earlier stay loaded). Device: torch's peak allocated memory (CUDA only).",
              "", "## Stages", ""]
    lines += [f"- `{k}`: {v}" for k, v in STAGE_NOTES.items()]
    lines += ["- GPU stages on a CUDA torch device are timed with CUDA events; everything else with the host "
              "clock (synchronised on CUDA).", ""]
    before, after = results["load_average_during"]["before"], results["load_average_during"]["after"]
    lines += [f"Load average before / after the timed rounds: {_load(before)} → {_load(after)}.", ""]
    return "\n".join(lines)


def accuracy_markdown(results: dict[str, Any]) -> str:
    """report.md of an accuracy run (mIoU in %, fidelity IoU in 0..1)."""
    acc, fid, systems = results["accuracy"], results["fidelity"], results["systems"]
    d, clicks = results["dataset"], results["settings"]["clicks"]
    lines = header_lines("sam-trt bench accuracy", results)
    lines += [f"Dataset: {d['annotations']} — {d['images']} images, {d['objects']} objects "
              f"({d['crowd_skipped']} crowd annotations skipped, {d['empty_masks_skipped']} empty masks skipped).  ",
              "Protocols: box = GT box, single mask (token 0); box multi = GT box, multimask, highest predicted IoU "
              "(EfficientViT-SAM / NanoSAM); 1-click = the point farthest from the boundary, multimask, highest "
              "predicted IoU (SAM paper); k clicks: each next click at the point of the error region farthest from "
              "its boundary (positive on a miss, negative on a false positive), previous low-res logits as "
              "mask_input, token 0. IoU against the full-resolution GT mask; COCO areas: small < 32², large > 96².",
              ""]
    lines += systems_table(systems) + ["", "## mIoU against ground truth (%)", ""]
    header = ["system", "objects", "box", "box S", "box M", "box L", "box multi", "1-click", "click S", "click M",
              "click L", "pred-IoU abs err"]
    rows = []
    for label, a in acc.items():
        rows.append([label + (" (reference)" if label == results["reference"] else ""), str(a["objects"]),
                     *(pct(a["box"][b]["mean"]) for b in ("all", "small", "medium", "large")),
                     pct(a["box_multi"]["all"]["mean"]),
                     *(pct(a["click"][b]["mean"]) for b in ("all", "small", "medium", "large")),
                     f"{a['click_score_abs_error']:.3f}"])
    lines += table(header, rows)
    first = next(iter(acc.values()))
    lines += ["", "Objects per bucket (S / M / L): " + " / ".join(str(first["box"][b]["count"])
                                                                  for b in ("small", "medium", "large")), ""]
    if clicks > 1:
        lines += ["## Iterative refinement: mIoU (%) after k clicks", ""]
        lines += table(["system", *(str(k + 1) for k in range(clicks))],
                       [[label, *(pct(v) for v in a["clicks_miou"])] for label, a in acc.items()]) + [""]
    if fid:
        lines += [f"## Fidelity against {results['reference']}", "",
                  "Every token (4 per prompt) of the GT-box and one-click prompts of every object, each system with "
                  "its own embedding; masks compared at the original size.", ""]
        rows = []
        for label, f in fid.items():
            iou, cos, err = f["mask_iou"], f["embedding_cosine"], f["pred_iou_abs_error"]
            drop = f["miou_drop_points"]
            rows.append([label, str(iou["count"]), f"{iou['mean']:.5f}", f"{iou['min']:.4f}", f"{iou['p1']:.4f}",
                         f"{iou['p5']:.4f}", pct(f["masks_identical_fraction"]), f"{1 - cos['mean']:.1e}",
                         f"{1 - cos['min']:.1e}", f"{f['embedding_max_rel_error']:.2e}", f"{err['mean']:.2e}",
                         f"{err['max']:.2e}", f"{drop['box']:+.2f} / {drop['click']:+.2f}",
                         "pass" if f["gate"]["passed"] else "FAIL"])
        lines += table(["system", "masks", "IoU mean", "min", "p1", "p5", "identical %", "emb 1-cos mean", "max",
                        "emb max rel err", "pred-IoU err mean", "max", "mIoU drop box / click (pts)", "gate"], rows)
        gate = next(iter(fid.values()))["gate"]["checks"]
        lines += ["", "Gate: " + ", ".join(f"{k} {c['op']} {c['limit']}" for k, c in gate.items()), ""]
    lines += ["## Time during this run", "",
              "Host clock around each call of the accuracy loop (not the interleaved stage timing of "
              "`sam-trt bench latency`).", ""]
    rows = [[label, ms(a["timing"]["set_image"]["p50_s"]), ms(a["timing"]["prompt_s_per_prompt"])]
            for label, a in acc.items()]
    lines += table(["system", "set_image p50 ms", "per prompt ms (decode + upscale)"], rows) + [""]
    return "\n".join(lines)
