"""Shared fixtures: small configs, official models with random weights, real photographs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from sam_trt.config import SamConfig
from sam_trt.modeling import build_sam_from_config

from .official_reference import build_official

# Official geometry (1024 input, 64x64 grid, 256x256 low-res, full decoder) with a tiny encoder.
TINY_1024 = SamConfig(encoder_embed_dim=32, encoder_depth=2, encoder_num_heads=2, encoder_global_attn_indexes=(1,))
# Another geometry: 256 input, 16x16 grid padded to 3x3 windows of 7, narrow decoder.
SMALL_256 = SamConfig(
    encoder_embed_dim=48, encoder_depth=3, encoder_num_heads=3, encoder_global_attn_indexes=(2,),
    image_size=256, window_size=7, prompt_embed_dim=64, decoder_mlp_dim=128, decoder_num_heads=4,
    iou_head_hidden_dim=64,
)
CONFIGS = {"tiny_1024": TINY_1024, "small_256": SMALL_256}


@pytest.fixture(scope="session", params=list(CONFIGS))
def model_pair(request):
    """(official Sam, our Sam) with identical random weights, for each test config."""
    config = CONFIGS[request.param]
    official = build_official(config, seed=0)
    ours = build_sam_from_config(config)
    ours.load_state_dict(official.state_dict(), strict=True)
    return official, ours


def photo(name: str = "astronaut", size: tuple[int, int] | None = None) -> np.ndarray:
    """A real photograph from scikit-image, optionally resized to (H, W): HxWx3 uint8 RGB."""
    from skimage import data

    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, -1)
    if size is not None:
        image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image[..., :3])


def mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-mask IoU of two ...xHxW boolean stacks (1.0 where both are empty)."""
    a = np.asarray(a).reshape(-1, *a.shape[-2:])
    b = np.asarray(b).reshape(-1, *b.shape[-2:])
    inter = (a & b).sum(axis=(1, 2))
    union = (a | b).sum(axis=(1, 2))
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


@pytest.fixture(autouse=True)
def _deterministic_threads():
    torch.manual_seed(0)
    yield


class EdgeModels:
    """Per edge model type, built once a session: the reference model with seeded random weights, its state
    dict saved as a checkpoint file, our Sam loaded from that file, and (on demand) our ONNX export."""

    def __init__(self, root) -> None:
        self.root = root
        self._models: dict[str, tuple] = {}
        self._exports: dict[str, object] = {}

    def checkpoint(self, model_type: str):
        return self.models(model_type)[2]

    def models(self, model_type: str) -> tuple:
        """(reference model, our Sam, checkpoint path)."""
        if model_type not in self._models:
            from sam_trt import sam_model_registry

            from .edge_reference import build_reference

            pytest.importorskip("mobile_sam" if model_type == "vit_t" else "efficientsam")
            reference = build_reference(model_type)
            path = self.root / f"{model_type}.pt"
            state = reference.state_dict()
            # EfficientViT-SAM's training checkpoints wrap the weights; the loader must unwrap them.
            torch.save({"state_dict": state} if model_type.startswith("efficientvit") else state, path)
            self._models[model_type] = (reference, sam_model_registry[model_type](checkpoint=path), path)
        return self._models[model_type]

    def export(self, model_type: str):
        """Folder of our FP32 ONNX export (encoder.onnx, decoder.onnx, manifest.json), made by `sam-trt export`
        from the checkpoint file with no --model-type (so the type is read off its keys)."""
        if model_type not in self._exports:
            from sam_trt.cli import main

            folder = self.root / f"export-{model_type}"
            assert main(["export", "--checkpoint", str(self.checkpoint(model_type)), "--output", str(folder)]) == 0
            self._exports[model_type] = folder
        return self._exports[model_type]


@pytest.fixture(scope="session")
def edge_models(tmp_path_factory) -> EdgeModels:
    return EdgeModels(tmp_path_factory.mktemp("edge"))
