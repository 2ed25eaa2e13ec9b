"""The one interface every backend implements; predictor, AMG, video and benchmarks use only this."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from ..config import SamConfig


class SamBackend(ABC):
    """Runs the two graphs of SAM.

    `encode` takes the resized (not padded, not normalised) image and returns the image embedding in
    the backend's own array type; `decode` takes that embedding and a batch of prompts in the decoder
    ONNX contract (DESIGN.md decision 6) and returns the outputs of all mask tokens.
    """

    name: str = "base"
    image_format: str = "RGB"
    mask_threshold: float = 0.0

    def __init__(self, config: SamConfig) -> None:
        self.config = config

    @property
    def image_size(self) -> int:
        """Side S of the square prompt and mask frame (the padded encoder input too, except EfficientViT-SAM L*)."""
        return self.config.image_size

    @property
    def encoder_size(self) -> int:
        """Side of the square, padded encoder input (S, or 512 for EfficientViT-SAM L*)."""
        return self.config.encoder_size

    def input_size_of(self, original_size: tuple[int, ...]) -> tuple[int, int]:
        """(h, w) of an image of `original_size` resized into the prompt frame (longest side S)."""
        from ..transforms import ResizeLongestSide

        return ResizeLongestSide.get_preprocess_shape(int(original_size[0]), int(original_size[1]), self.image_size)

    @property
    def embedding_size(self) -> int:
        return self.config.embedding_size

    @property
    def low_res_size(self) -> int:
        return self.config.low_res_size

    @property
    @abstractmethod
    def device(self) -> Any:
        """Where the backend computes (a torch.device for torch, a string otherwise)."""

    @property
    @abstractmethod
    def precision(self) -> str:
        """fp32, fp16, bf16, int8 or fp8."""

    @abstractmethod
    def encode(self, images: Any) -> Any:
        """Bx3xhxw resized image, uint8 (or float 0-255), max(h, w) == encoder_size -> Bx256xgxg embedding."""

    @abstractmethod
    def decode(
        self,
        embeddings: Any,
        point_coords: np.ndarray,
        point_labels: np.ndarray,
        mask_input: np.ndarray,
        has_mask_input: np.ndarray,
    ) -> tuple[Any, Any]:
        """One image's embedding (1x256xgxg) and B prompts -> (iou BxT, low-res logits BxTxsxs).

        point_coords BxNx2 float32 in the resized-image frame (box corners included, labels 2/3),
        point_labels BxN float32 in {-1, 0, 1, 2, 3}, mask_input Bx1xsxs float32, has_mask_input B.
        T = num_multimask_outputs + 1 (token 0 is the single-mask output).
        """

    def preprocess(self, image: np.ndarray) -> tuple[Any, tuple[int, int]]:
        """HxWx3 uint8 in `image_format` -> (encoder input 1x3xhxw, input_size (h, w)).

        The encoder input is resized so max(h, w) == encoder_size; input_size is the image's size in the prompt
        frame (max == S), which masks are cropped to. The two differ only for EfficientViT-SAM L* (512 vs 1024).
        The reference path: Pillow bilinear on the host (bit-exact with the official package). Backends
        that resize on their device override this; the result only has to be accepted by their `encode`.
        """
        from ..transforms import ResizeLongestSide

        resized = ResizeLongestSide(self.encoder_size).apply_image(image)
        return np.ascontiguousarray(resized.transpose(2, 0, 1))[None], self.input_size_of(image.shape[:2])

    def describe(self) -> dict[str, str]:
        return {"backend": self.name, "device": str(self.device), "precision": self.precision}


def to_numpy(x: Any) -> np.ndarray:
    """numpy array, (possibly CUDA) torch tensor or array-like (e.g. a TrtEmbedding) -> numpy array on the host."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)
