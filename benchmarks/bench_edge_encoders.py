"""Edge encoders on ONNX Runtime (CPU): set_image and predict of vit_t, EfficientViT-SAM l0-xl1 and vit_b, FP32 and
INT8 exports, against each variant's own reference torch code on the same weights, in one alternating run.

    python benchmarks/bench_edge_encoders.py [--models vit_t,efficientvit_l0,...,vit_b] [--int8 vit_t,efficientvit_l0]
                                             [--repeats 3] [--out benchmarks/results]

Weights are the reference builders' default random initialisation (no checkpoint can be downloaded here), the same
state dict in both systems. GFLOPs: the encoder's matmul + conv FLOPs (sam_trt.modeling.complexity). FLOP floor:
those GFLOPs divided by the FP32 GFLOP/s ONNX Runtime reaches on one large MatMul on this machine.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path

import numpy as np
from timing import bar_chart, machine, same_weight_models, sample_photo, time_predictors, write_results

from sam_trt import SamPredictor, sam_model_registry
from sam_trt.bench.official import build_edge_reference, edge_reference_predictor
from sam_trt.export.exporter import export_model
from sam_trt.modeling.complexity import model_cost
from sam_trt.precision import make_variant
from sam_trt.runtime.ort_backend import OrtBackend

ALL = ("vit_t", "efficientvit_l0", "efficientvit_l1", "efficientvit_l2", "efficientvit_xl0", "efficientvit_xl1",
       "vit_b")


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    """FP32 GFLOP/s of ONNX Runtime (default threads) on one n x n x n MatMul: the machine's practical peak."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "mm",
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [n, n]) for x in "ab"],
                              [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {x: np.random.default_rng(0).standard_normal((n, n), np.float32) for x in "ab"}
    session.run(None, feed)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return 2 * n**3 / min(times) / 1e9


def models_for(model_type: str):
    """(reference predictor, our Sam) with the same weights."""
    if model_type == "vit_b":
        from segment_anything import SamPredictor as OfficialPredictor

        official, ours = same_weight_models("vit_b")
        return OfficialPredictor(official), ours
    reference = build_edge_reference(model_type)
    ours = sam_model_registry[model_type]()
    ours.load_state_dict(reference.state_dict(), strict=True)
    return edge_reference_predictor(model_type, reference), ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(ALL))
    parser.add_argument("--int8", default="vit_t,efficientvit_l0", help="model types that also get an INT8 row")
    parser.add_argument("--repeats", type=int, default=3, help="timed set_image calls per system")
    parser.add_argument("--predict-repeats", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    import torch

    torch.set_grad_enabled(False)
    peak = matmul_gflops()
    image = sample_photo()
    work = Path(tempfile.mkdtemp(prefix="bench-edge-"))
    rows = {}
    for model_type in args.models.split(","):
        print(f"== {model_type}", flush=True)
        reference, ours = models_for(model_type)
        start = time.perf_counter()
        export = export_model(ours, work / model_type, model_type=model_type, log=lambda _: None)
        export_s = time.perf_counter() - start
        systems = {"reference torch": reference, "sam-trt ort fp32": SamPredictor(OrtBackend(export))}
        gate = None
        if model_type in args.int8.split(","):
            variant = make_variant(export, "int8", work / f"{model_type}-int8", calib_count=8, gate_count=4,
                                   force=True, progress=False, log=lambda _: None)
            gate = {k: v for k, v in variant.gate.items() if k in ("status", "checks")}
            systems["sam-trt ort int8"] = SamPredictor(OrtBackend(variant.folder))
        stats = time_predictors(systems, image, args.repeats, args.predict_repeats)
        cost = model_cost(model_type)
        rows[model_type] = {"gflops": cost.encoder_gflops, "params_m": cost.params / 1e6, "export_s": export_s,
                            "floor_s": cost.encoder_gflops / peak, "stats": stats, "int8_gate": gate}
        print({s: round(v["set_image"]["median_s"], 3) for s, v in stats.items()}, flush=True)
        del reference, ours, systems
        gc.collect()

    results = {"benchmark": "edge encoders on ORT CPU vs their reference torch code", "image": "720x1280",
               "machine": machine(), "ort_matmul_gflops": peak, "models": rows}
    m = results["machine"]
    lines = ["# Edge encoders on ONNX Runtime, CPU: set_image and predict vs each variant's reference torch code", "",
             f"Command: `python benchmarks/bench_edge_encoders.py --models {args.models} --int8 {args.int8} "
             f"--repeats {args.repeats}`", f"Machine: {m['cpu']}, {m['cpu_count']} cores, torch {m['torch']}, "
             f"onnxruntime {m.get('onnxruntime')}; ORT reaches {peak:.0f} GFLOP/s on a 2048^3 MatMul (the floor "
             "column is GFLOPs / that).", "",
             "| model | encoder GFLOPs | params M | reference set_image s | ort fp32 s | speed-up | ort int8 s | "
             "FLOP floor s | fp32 / floor | reference predict ms | ort predict ms |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, row in rows.items():
        s = row["stats"]
        ref, fp32 = s["reference torch"]["set_image"]["median_s"], s["sam-trt ort fp32"]["set_image"]["median_s"]
        int8 = s.get("sam-trt ort int8", {}).get("set_image", {}).get("median_s")
        lines.append(f"| {name} | {row['gflops']:.1f} | {row['params_m']:.1f} | {ref:.3f} | {fp32:.3f} | "
                     f"{ref / fp32:.2f}x | {'-' if int8 is None else f'{int8:.3f}'} | {row['floor_s']:.3f} | "
                     f"{fp32 / row['floor_s']:.1f}x | {1e3 * s['reference torch']['predict']['median_s']:.1f} | "
                     f"{1e3 * s['sam-trt ort fp32']['predict']['median_s']:.1f} |")
    gates = {k: v["int8_gate"] for k, v in rows.items() if v["int8_gate"]}
    if gates:
        lines += ["", "INT8 gate on these random weights (4 scenes; the published gate uses 12):", ""]
        lines += [f"- {k}: {g['status']}, mask IoU mean {g['checks']['mask_iou_mean']['value']:.3f}"
                  for k, g in gates.items()]
    write_results(args.out, "edge_encoders_cpu", results, "\n".join(lines) + "\n")
    bar_chart(args.out / "edge_encoders_cpu.png", "set_image on a 2-core CPU: reference torch vs sam-trt ORT",
              {name: {sys: row["stats"][sys]["set_image"]["median_s"] for sys in row["stats"]}
               for name, row in rows.items()})
    print("\n".join(lines))


if __name__ == "__main__":
    main()
