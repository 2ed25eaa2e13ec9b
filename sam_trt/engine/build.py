"""Build the TensorRT plans of an export folder (any precision) for this machine's GPU, with sidecars.

    engines/<gpu>-sm<cc>-<trt|trtrtx><version>/<model>-<precision>-<graph>.plan (+ .plan.json), timing.cache
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import BackendError
from ..export.manifest import read_manifest, sha256_file
from ..files import atomic_path
from .builder import build_plan
from .cache import Target, make_sidecar, reusable, running_target, sidecar_path
from .profiles import ProfileRanges, profile_shapes
from .tensorrt_import import import_tensorrt

GRAPHS = ("encoder", "decoder")
NO_GPU = ("no CUDA GPU found (cuda-python or torch.cuda); plans must be built on the GPU that runs them: "
          "run the same sam-trt build there (pip install 'sam-trt[trt]' plus TensorRT from NVIDIA's index, "
          "JetPack or an NGC container); --plan-only-check proves here that the plans build, with tensorrt-rtx")


@dataclass
class BuiltPlan:
    graph: str
    plan: Path | None  # None for a plan-only check (not kept)
    size: int
    seconds: float
    reused: bool
    sidecar: dict[str, Any]


def build_engines(
    export_dir: str | Path,
    output: str | Path,
    ranges: ProfileRanges | None = None,
    trt: ModuleType | None = None,
    optimization_level: int | None = None,
    workspace_bytes: int | None = None,
    force: bool = False,
    plan_only_check: bool = False,
    progress: bool = True,
    rebuild_command: str = "",
    log: Callable[[str], None] = print,
) -> list[BuiltPlan]:
    """One plan per graph of `export_dir` under output/<target folder>, each with its sidecar.

    Reuses a plan whose sidecar has the same cache key unless force. plan_only_check: build with tensorrt-rtx
    (CPU-only is fine), keep nothing, return the sizes. Raises BackendError when TensorRT or a GPU is missing.
    """
    manifest = read_manifest(export_dir)
    ranges = ranges or ProfileRanges()
    if plan_only_check:
        trt = trt or import_tensorrt("tensorrt_rtx")
        target = Target(trt.__name__.split(".")[0], str(trt.__version__))
    else:
        trt = trt or import_tensorrt()
        target = running_target(trt)
        if target.gpu_name is None:
            raise BackendError(NO_GPU)
    folder = Path(output) / target.folder_name()
    options = {"strongly_typed": True, "optimization_level": optimization_level, "workspace_bytes": workspace_bytes,
               "profile_ranges": {"encoder_batch": list(ranges.encoder_batch), "prompts": list(ranges.prompts),
                                  "points": list(ranges.points)}}
    precision = manifest.data.get("precision", "fp32")
    results = []
    for graph in GRAPHS:
        onnx_path = manifest.graph_path(graph)
        shapes = profile_shapes(manifest.config, graph, ranges)
        plan = folder / f"{manifest.model_type}-{precision}-{graph}.plan"
        sidecar = make_sidecar(
            plan=plan, plan_bytes=b"", onnx_path=onnx_path, onnx_sha256=sha256_file(onnx_path), precision=precision,
            graph=graph, target=target, profiles=shapes, build_options=options, gate=manifest.data.get("gate", {}),
            build_seconds=0.0, rebuild_command=rebuild_command, model_type=manifest.model_type)
        if not plan_only_check and not force and reusable(plan, sidecar):
            log(f"{plan}: up to date (cache key {sidecar['cache_key']})")
            results.append(BuiltPlan(graph, plan, plan.stat().st_size, 0.0, True, sidecar))
            continue
        log(f"building {graph} ({precision}) with {target.flavour} {target.version} for "
            f"{target.gpu_name or 'an ahead-of-time check (no GPU)'} ...")
        start = time.perf_counter()
        data = build_plan(onnx_path, shapes, trt=trt, workspace_bytes=workspace_bytes,
                          optimization_level=optimization_level,
                          timing_cache=None if plan_only_check else folder / "timing.cache", progress=progress)
        seconds = time.perf_counter() - start
        sidecar = make_sidecar(
            plan=plan, plan_bytes=data, onnx_path=onnx_path, onnx_sha256=sidecar["onnx_sha256"], precision=precision,
            graph=graph, target=target, profiles=shapes, build_options=options, gate=sidecar["gate"],
            build_seconds=seconds, rebuild_command=rebuild_command, model_type=manifest.model_type)
        if plan_only_check:
            log(f"  {graph}: {len(data) / 1e6:.1f} MB plan in {seconds:.1f} s (check only, not kept)")
            results.append(BuiltPlan(graph, None, len(data), seconds, False, sidecar))
            continue
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(plan) as tmp:
            tmp.write_bytes(data)
        import json

        with atomic_path(sidecar_path(plan)) as tmp:
            tmp.write_text(json.dumps(sidecar, indent=2) + "\n")
        log(f"  {plan} ({len(data) / 1e6:.1f} MB, {seconds:.1f} s)")
        results.append(BuiltPlan(graph, plan, len(data), seconds, False, sidecar))
    return results
