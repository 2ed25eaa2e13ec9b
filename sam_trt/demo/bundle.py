"""Rebuild what ships beside the demo weights: the ONNX export, a sample scene with prompts, a sample clip
with its objects' frame-0 boxes, and the quality figure the tests hold the bundled model to.

    python -m sam_trt.demo.bundle            # everything (needs torch)
    python -m sam_trt.demo.bundle --clip     # only the sample clip and its prompts
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..data import generate_scene, rng_for
from ..data.writers import write_video
from ..evaluation import prompted_ious
from ..export.exporter import export_model
from ..export.manifest import sha256_file
from ..files import write_image
from ..metrics import farthest_from_boundary, mask_to_box
from . import DEMO_EXPORT, DEMO_METADATA, DEMO_WEIGHTS, SAMPLE_CLIP, SAMPLE_CLIP_PROMPTS, SAMPLE_IMAGE, SAMPLE_PROMPTS

# The fixed scenes the test suite re-measures (through every backend) against the recorded figure.
CHECK_SEED, CHECK_SCENES, CHECK_SIZE = 4242, 8, (256, 256)
SAMPLE_SEED, SAMPLE_SIZE = 7, (384, 512)
CLIP_SEED, CLIP_FRAMES, CLIP_SIZE, CLIP_FPS = 11, 60, (240, 320), 12.0


def check_scenes() -> list[tuple[np.ndarray, np.ndarray]]:
    scenes = [generate_scene(rng_for(CHECK_SEED, i), size=CHECK_SIZE) for i in range(CHECK_SCENES)]
    return [(s.image, s.masks) for s in scenes]


def write_sample_clip() -> None:
    """sample_clip.mp4 (training-style generated clip, mp4v) and sample_clip.json: one object per track visible
    on frame 0, its box (from the ground-truth mask) as a frame-0 keyframe, in the `sam-trt video --prompts`
    format."""
    with tempfile.TemporaryDirectory() as tmp:
        annotations = json.loads(write_video(tmp, seed=CLIP_SEED, num_frames=CLIP_FRAMES, size=CLIP_SIZE,
                                             fps=CLIP_FPS).read_text())
        shutil.copyfile(Path(tmp) / "video.mp4", SAMPLE_CLIP)
    objects = [{"id": o["track_id"], "keyframes": [{"frame": 0, "box": [x, y, x + w, y + h]}]}
               for o in annotations["frames"][0]["objects"] for x, y, w, h in [o["bbox"]]]
    SAMPLE_CLIP_PROMPTS.write_text(json.dumps({"clip": SAMPLE_CLIP.name, "seed": CLIP_SEED, "objects": objects},
                                              indent=2) + "\n")


def main() -> None:
    if "--clip" in sys.argv[1:]:
        write_sample_clip()
        return
    from ..modeling import sam_model_registry
    from ..predictor import SamPredictor

    sam = sam_model_registry["demo"]()
    if DEMO_EXPORT.exists():
        shutil.rmtree(DEMO_EXPORT)
    export_model(sam, DEMO_EXPORT, model_type="demo", metadata={"weights_sha256": sha256_file(DEMO_WEIGHTS)})

    scene = generate_scene(rng_for(SAMPLE_SEED), size=SAMPLE_SIZE)
    write_image(SAMPLE_IMAGE, scene.image)
    largest = int(np.argmax(scene.masks.reshape(len(scene.masks), -1).sum(1)))
    x, y = farthest_from_boundary(scene.masks[largest])
    SAMPLE_PROMPTS.write_text(json.dumps({
        "image": SAMPLE_IMAGE.name,
        "points": [[x + 0.5, y + 0.5, 1]],
        "box": mask_to_box(scene.masks[largest]).tolist(),
    }, indent=2) + "\n")

    write_sample_clip()
    ious = prompted_ious(SamPredictor(sam), check_scenes())
    metadata = json.loads(DEMO_METADATA.read_text())
    metadata["ci_check"] = {"seed": CHECK_SEED, "scenes": CHECK_SCENES, "size": list(CHECK_SIZE),
                            "objects": len(ious["box"]), "box_miou": float(ious["box"].mean()),
                            "click_miou": float(ious["click"].mean()), "backend": "torch"}
    DEMO_METADATA.write_text(json.dumps(metadata, indent=2) + "\n")
    print(json.dumps(metadata["ci_check"]))


if __name__ == "__main__":
    main()
