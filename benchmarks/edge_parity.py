"""Parity of every edge variant with its reference code through SamPredictor, on torch and on the ONNX export
(CI checks vit_t, l0 and xl0; this covers all six): seeded random weights, one photo, five prompt cases.

    python benchmarks/edge_parity.py [--models vit_t,efficientvit_l0,...] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import gc
import tempfile
from pathlib import Path

import numpy as np
import torch
from timing import machine, sample_photo, write_results

from sam_trt import SamPredictor, sam_model_registry
from sam_trt.bench.official import build_edge_reference, edge_reference_predictor, randomize_
from sam_trt.export.exporter import export_model
from sam_trt.runtime.base import to_numpy
from sam_trt.runtime.ort_backend import OrtBackend

ALL = ("vit_t", "efficientvit_l0", "efficientvit_l1", "efficientvit_l2", "efficientvit_xl0", "efficientvit_xl1")


def prompt_cases(h: int, w: int) -> dict[str, dict]:
    box = np.array([0.2 * w, 0.25 * h, 0.7 * w, 0.8 * h])
    return {"click": dict(point_coords=np.array([[0.5 * w, 0.5 * h]]), point_labels=np.array([1])),
            "clicks_neg": dict(point_coords=np.array([[0.3 * w, 0.3 * h], [0.6 * w, 0.4 * h]]),
                               point_labels=np.array([1, 0]), multimask_output=False),
            "box": dict(box=box, multimask_output=False),
            "box_point": dict(box=box, point_coords=np.array([[0.45 * w, 0.5 * h]]), point_labels=np.array([0]))}


def compare(reference, predictor, image: np.ndarray) -> dict[str, float]:
    """Embedding relative error, worst predicted-IoU difference, mean / min per-mask IoU over the cases (each
    case also run again with its best low-res logits as mask_input)."""
    emb = float(np.linalg.norm(to_numpy(predictor.features) - to_numpy(reference.features))
                / np.linalg.norm(to_numpy(reference.features)))
    ious, score_err = [], 0.0
    for kwargs in prompt_cases(*image.shape[:2]).values():
        for round_ in range(2):
            m1, s1, l1 = reference.predict(**kwargs)
            m2, s2, _ = predictor.predict(**kwargs)
            score_err = max(score_err, float(np.abs(s1 - s2).max()))
            inter, union = (m1 & m2).sum(axis=(1, 2)), (m1 | m2).sum(axis=(1, 2))
            ious += list(np.where(union > 0, inter / np.maximum(union, 1), 1.0))
            if round_ == 0:
                kwargs = {**kwargs, "mask_input": l1[int(np.argmax(s1))][None]}
    return {"embedding_rel_error": emb, "iou_pred_max_abs_error": score_err, "mask_iou_mean": float(np.mean(ious)),
            "mask_iou_min": float(np.min(ious))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(ALL))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    image = sample_photo()
    work = Path(tempfile.mkdtemp(prefix="edge-parity-"))
    rows = {}
    for model_type in args.models.split(","):
        torch.manual_seed(0)
        reference = build_edge_reference(model_type)
        randomize_(reference)
        reference.train()
        reference.eval()  # MobileSAM refreshes its cached attention biases here
        ours = sam_model_registry[model_type]()
        ours.load_state_dict(reference.state_dict(), strict=True)
        export = export_model(ours, work / model_type, model_type=model_type, log=lambda _: None)
        ref_predictor = edge_reference_predictor(model_type, reference)
        with torch.inference_mode():
            ref_predictor.set_image(image)
        rows[model_type] = {}
        for name, predictor in (("torch", SamPredictor(ours)), ("ort", SamPredictor(OrtBackend(export)))):
            with torch.inference_mode():
                predictor.set_image(image)
                rows[model_type][name] = compare(ref_predictor, predictor, image)
        print(model_type, rows[model_type], flush=True)
        del reference, ours, ref_predictor
        gc.collect()
    m = machine()
    lines = ["# Edge variants vs their reference code through SamPredictor (seeded random weights)", "",
             f"Command: `python benchmarks/edge_parity.py --models {args.models}`; 720x1280 photo, 4 prompt cases "
             f"x (plain + mask_input round). Machine: {m['cpu']}, torch {m['torch']}, onnxruntime "
             f"{m.get('onnxruntime')}. Limits in tests: embedding <= 1e-4, IoU prediction <= 1e-3, mask IoU mean "
             ">= 0.999.", "", "| model | backend | embedding rel. error | max IoU-pred error | mask IoU mean | min |",
             "|---|---|---|---|---|---|"]
    for model_type, by_backend in rows.items():
        for name, r in by_backend.items():
            lines.append(f"| {model_type} | {name} | {r['embedding_rel_error']:.1e} | "
                         f"{r['iou_pred_max_abs_error']:.1e} | {r['mask_iou_mean']:.5f} | {r['mask_iou_min']:.4f} |")
    write_results(args.out, "edge_parity", {"machine": m, "models": rows}, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
