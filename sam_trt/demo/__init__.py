"""The bundled demo model: a small SAM trained on the project's synthetic scenes (not for photographs).

Files beside this module: weights/demo.safetensors (+ demo.json: training and measured quality),
export/ (its ONNX export, so ONNX Runtime runs it without torch), sample.png + sample.json (a generated
scene and prompts for `sam-trt segment`), sample_clip.mp4 + sample_clip.json (a generated clip and its
objects' frame-0 boxes for `sam-trt video`). `python -m sam_trt.demo.bundle` rebuilds export/ and the
samples from the weights.
"""

from pathlib import Path

from ..config import DEMO_CONFIG

HERE = Path(__file__).parent
WEIGHTS_DIR = HERE / "weights"
DEMO_WEIGHTS = WEIGHTS_DIR / "demo.safetensors"
DEMO_METADATA = WEIGHTS_DIR / "demo.json"
DEMO_EXPORT = HERE / "export"
SAMPLE_IMAGE = HERE / "sample.png"
SAMPLE_PROMPTS = HERE / "sample.json"
SAMPLE_CLIP = HERE / "sample_clip.mp4"
SAMPLE_CLIP_PROMPTS = HERE / "sample_clip.json"

__all__ = ["DEMO_CONFIG", "DEMO_EXPORT", "DEMO_METADATA", "DEMO_WEIGHTS", "SAMPLE_CLIP", "SAMPLE_CLIP_PROMPTS",
           "SAMPLE_IMAGE", "SAMPLE_PROMPTS", "WEIGHTS_DIR"]
