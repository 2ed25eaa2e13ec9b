"""Training of the bundled demo model on generated scenes (`python -m sam_trt.train`)."""

from .evaluate import eval_scenes, evaluate
from .trainer import Trainer, TrainOptions

__all__ = ["Trainer", "TrainOptions", "eval_scenes", "evaluate"]
