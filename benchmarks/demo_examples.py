"""A picture of the demo model at work: held-out generated scenes, GT-box prompts, predicted masks.

    python benchmarks/demo_examples.py [--style train|alt] [--scenes 6] [--out benchmarks/results]

Each row: the scene with ground-truth outlines, then the masks predicted from each object's GT box.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from sam_trt import SamPredictor
from sam_trt.data import generate_scene, rng_for
from sam_trt.files import write_image
from sam_trt.metrics import mask_iou, mask_to_box
from sam_trt.runtime.loader import load_backend
from sam_trt.visualize import overlay_masks

HELD_OUT_SEED = 777_001  # not a training stream


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style", default="train", choices=["train", "alt"])
    parser.add_argument("--scenes", type=int, default=6)
    parser.add_argument("--backend", default="ort")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    predictor = SamPredictor(load_backend("demo", backend=args.backend))
    rows, ious = [], []
    for i in range(args.scenes):
        scene = generate_scene(rng_for(HELD_OUT_SEED, i), size=(256, 256), style=args.style)
        predictor.set_image(scene.image)
        predicted = []
        for gt in scene.masks:
            masks, _, _ = predictor.predict(box=mask_to_box(gt), multimask_output=False)
            predicted.append(masks[0])
            ious.append(float(mask_iou(masks[0], gt)))
        gt_panel = overlay_masks(scene.image, scene.masks, alpha=0.0)
        pred_panel = overlay_masks(scene.image, np.array(predicted).reshape(-1, 256, 256), alpha=0.55)
        rows.append(np.concatenate([gt_panel, np.full((256, 4, 3), 255, np.uint8), pred_panel], axis=1))
    grid = np.concatenate([np.pad(r, ((0, 4), (0, 0), (0, 0)), constant_values=255) for r in rows], axis=0)
    title = f"demo model, {args.style}-style held-out scenes: GT outlines | masks from GT boxes " \
            f"(box mIoU {np.mean(ious):.3f}, {len(ious)} objects)"
    header = np.full((24, grid.shape[1], 3), 255, np.uint8)
    cv2.putText(header, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    path = args.out / f"demo_examples_{args.style}.png"
    write_image(path, np.concatenate([header, grid], axis=0))
    print(f"wrote {path}: box mIoU {np.mean(ious):.3f} over {len(ious)} objects")


if __name__ == "__main__":
    main()
