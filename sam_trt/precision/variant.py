"""Write a precision variant of an export folder: convert both graphs, gate, and publish (or refuse).

The variant is an export folder like the FP32 one (same manifest format) with `precision` set, a `source`
block (the FP32 graphs' sha256) and the `gate` result, so every backend runs it unchanged.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, SamTrtError
from ..export.manifest import MANIFEST, read_manifest, sha256_file, write_manifest
from .calibration import DEFAULT_CALIB_IMAGES, calibration_images, decoder_feeds, encoder_feed
from .gate import GATE_SCENES, describe_failure, run_gate

PRECISIONS = ("fp32", "fp16", "int8", "fp8")
RECIPE = 1  # bump when a conversion changes, so that variants made before are rebuilt
GRAPHS = ("encoder", "decoder")


class GateError(SamTrtError):
    """A precision variant failed its accuracy gate (publish anyway with force=True)."""


@dataclass
class VariantResult:
    folder: Path
    precision: str
    gate: dict[str, Any]
    reused: bool = False


def variant_name(model_type: str, precision: str) -> str:
    return f"{model_type}-{precision}"


def collect_feeds(export_dir: Path, calib: str | Path | None, count: int, seed: int = 0,
                  progress: bool = True) -> tuple[list[dict], list[dict], int]:
    """Encoder and decoder calibration feeds from the FP32 export: (encoder feeds, decoder feeds, images)."""
    import onnxruntime as ort
    from tqdm import tqdm

    manifest = read_manifest(export_dir)
    config = manifest.config
    items = calibration_images(calib, count, size=(config.image_size, config.image_size))
    encoder = ort.InferenceSession(str(manifest.graph_path("encoder")), providers=["CPUExecutionProvider"])
    decoder = ort.InferenceSession(str(manifest.graph_path("decoder")), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    enc_feeds, dec_feeds = [], []
    for item in tqdm(items, desc="calibration data", unit="img", disable=not progress, leave=False):
        feed, original = encoder_feed(item.image, config.encoder_size)
        enc_feeds.append(feed)
        (embedding,) = encoder.run(None, feed)
        dec_feeds.extend(decoder_feeds(embedding, item, original, config.image_size, config.low_res_size, rng,
                                       decoder))
    return enc_feeds, dec_feeds, len(items)


def make_variant(
    export_dir: str | Path,
    precision: str,
    output: str | Path,
    calib: str | Path | None = None,
    calib_count: int = DEFAULT_CALIB_IMAGES,
    calib_method: str = "max",
    force: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    gate_count: int = GATE_SCENES,
) -> VariantResult:
    """FP32 export folder -> `output` (a new export folder in `precision`), gated against the FP32 graphs.

    An up-to-date variant (same FP32 sources, same precision, gate passed) is reused unless force. The gate runs
    on `gate_count` held-out generated scenes. A variant that
    fails its gate (or cannot be gated on CPU: FP8) is not written unless force; GateError says why.
    """
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    source = read_manifest(export_dir)
    if source.data.get("precision", "fp32") != "fp32":
        raise InputError(f"{export_dir} holds a {source.data['precision']} export; build variants from the FP32 "
                         "export (sam-trt export)")
    output = Path(output)
    sources = {g: sha256_file(source.graph_path(g)) for g in GRAPHS}
    settings = {"recipe": RECIPE} if precision == "fp32" else {
        "recipe": RECIPE, "calib": None if calib is None else str(Path(calib).resolve()), "calib_count": calib_count,
        "calib_method": calib_method}
    if not force and (output / MANIFEST).is_file():
        existing = json.loads((output / MANIFEST).read_text())
        if (existing.get("source", {}).get("sha256") == sources and existing.get("precision") == precision
                and existing.get("conversion", {}).get("settings") == settings):
            read_manifest(output)
            if not existing.get("gate", {}).get("passed"):
                raise GateError(f"{output} was published with --force although its gate says "
                                f"{existing.get('gate', {}).get('status')}; pass --force again to use or rebuild it")
            log(f"{output}: up to date ({precision}, gate {existing.get('gate', {}).get('status')})")
            return VariantResult(output, precision, existing.get("gate", {}), reused=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    try:
        start = time.perf_counter()
        conversion: dict[str, Any] = {"settings": settings}
        if precision == "fp32":
            for g in GRAPHS:
                shutil.copy2(source.graph_path(g), tmp / f"{g}.onnx")
        else:
            from . import convert

            enc_feeds, dec_feeds, images = collect_feeds(Path(export_dir), calib, calib_count, progress=progress)
            log(f"calibration: {images} images ({'generated scenes' if calib is None else calib}), "
                f"{len(dec_feeds)} decoder prompt batches")
            for g, feeds in (("encoder", enc_feeds), ("decoder", dec_feeds)):
                log(f"converting {g} to {precision} ...")
                src, dst = source.graph_path(g), tmp / f"{g}.onnx"
                conversion[g] = (convert.convert_fp16(src, dst, feeds) if precision == "fp16"
                                 else convert.quantize(src, dst, precision, feeds, method=calib_method))
            if {g: sha256_file(source.graph_path(g)) for g in GRAPHS} != sources:
                raise SamTrtError(f"converting changed the source graphs in {export_dir}; restore them (sam-trt "
                                  "export) and report this")
            conversion["calibration"] = {"images": images, "method": calib_method,
                                         "source": str(calib) if calib else "generated scenes",
                                         "decoder_batches": len(dec_feeds)}
        _write_variant_manifest(source, tmp, precision, sources, conversion)
        log(f"gating {precision} against fp32 on held-out scenes (onnxruntime CPU) ...")
        gate = ({"status": "reference", "passed": True} if precision == "fp32"
                else run_gate(tmp, export_dir, precision, count=gate_count))
        gate["seconds"] = round(time.perf_counter() - start, 1)
        data = json.loads((tmp / MANIFEST).read_text())
        data["gate"] = gate
        (tmp / MANIFEST).write_text(json.dumps(data, indent=2) + "\n")
        if not gate["passed"]:
            why = describe_failure(gate)
            if not force:
                raise GateError(f"{precision} variant of {export_dir} not published: gate {gate['status']}: {why}; "
                                "use --force to publish it anyway")
            log(f"warning: publishing {precision} despite gate {gate['status']} ({why}) because of --force")
        if output.exists():
            shutil.rmtree(output)
        tmp.rename(output)
        return VariantResult(output, precision, gate)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _write_variant_manifest(source: Any, folder: Path, precision: str, sources: dict[str, str],
                            conversion: dict[str, Any]) -> None:
    data = {k: v for k, v in source.data.items() if k not in ("format_version", "gate", "source", "conversion")}
    data["precision"] = precision
    graphs = json.loads(json.dumps(data["graphs"]))
    for g in GRAPHS:
        graphs[g]["file"] = f"{g}.onnx"
        graphs[g]["sha256"] = {f"{g}.onnx": sha256_file(folder / f"{g}.onnx")}
    data["graphs"] = graphs
    data["source"] = {"folder": str(source.folder), "precision": "fp32", "sha256": sources}
    data["conversion"] = conversion
    write_manifest(folder, data)
    read_manifest(folder)
