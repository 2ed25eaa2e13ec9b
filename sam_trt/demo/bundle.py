"""Rebuild what ships beside the demo weights: the ONNX export, a sample scene with prompts, and the
quality figure the tests hold the bundled model to.

    python -m sam_trt.demo.bundle
"""

from __future__ import annotations

import json
import shutil

import numpy as np

from ..data import generate_scene, rng_for
from ..evaluation import prompted_ious
from ..export.exporter import export_model
from ..export.manifest import sha256_file
from ..files import write_image
from ..metrics import farthest_from_boundary, mask_to_box
from . import DEMO_EXPORT, DEMO_METADATA, DEMO_WEIGHTS, SAMPLE_IMAGE, SAMPLE_PROMPTS

# The fixed scenes the test suite re-measures (through every backend) against the recorded figure.
CHECK_SEED, CHECK_SCENES, CHECK_SIZE = 4242, 8, (256, 256)
SAMPLE_SEED, SAMPLE_SIZE = 7, (384, 512)


def check_scenes() -> list[tuple[np.ndarray, np.ndarray]]:
    scenes = [generate_scene(rng_for(CHECK_SEED, i), size=CHECK_SIZE) for i in range(CHECK_SCENES)]
    return [(s.image, s.masks) for s in scenes]


def main() -> None:
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

    ious = prompted_ious(SamPredictor(sam), check_scenes())
    metadata = json.loads(DEMO_METADATA.read_text())
    metadata["ci_check"] = {"seed": CHECK_SEED, "scenes": CHECK_SCENES, "size": list(CHECK_SIZE),
                            "objects": len(ious["box"]), "box_miou": float(ious["box"].mean()),
                            "click_miou": float(ious["click"].mean()), "backend": "torch"}
    DEMO_METADATA.write_text(json.dumps(metadata, indent=2) + "\n")
    print(json.dumps(metadata["ci_check"]))


if __name__ == "__main__":
    main()
