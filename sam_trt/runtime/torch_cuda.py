"""GPU helpers of the torch backend: resize on the device, and CUDA graphs of the decoder per batch size."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ..transforms import ResizeLongestSide
from .chunking import pad_rows, padded_size


def resize_on_device(image: np.ndarray, image_size: int, device: torch.device) -> tuple[torch.Tensor, tuple[int, int]]:
    """HxWx3 uint8 -> (1x3xhxw uint8 tensor on `device`, (h, w)), max(h, w) == image_size.

    Uploads the uint8 frame (4x fewer bytes than float) and resizes with antialiased bilinear, torch's
    counterpart of the reference Pillow resize (values may differ by a grey level; masks agree, see
    tests/test_device_preprocess.py). Rounded back to uint8 like Pillow's output.
    """
    x = torch.from_numpy(np.ascontiguousarray(image)).to(device, non_blocking=True)
    x = ResizeLongestSide(image_size).apply_image_torch(x.permute(2, 0, 1)[None].float())
    return x.round_().clamp_(0, 255).to(torch.uint8), (x.shape[2], x.shape[3])


class DecoderGraphs:
    """Replays `decode(embedding, coords, labels, mask, has_mask)` from CUDA graphs, one per padded batch size.

    A batch B is padded (last prompt repeated) to the smallest of `sizes` >= B; each (size, N points, embedding
    shape) runs eagerly `warmup` times, is then captured on a side stream with static input tensors, and is
    replayed after copying the inputs in. Capture failures mark that shape eager for good (logged once).
    """

    def __init__(self, decode: Callable[..., tuple[torch.Tensor, torch.Tensor]],
                 sizes: Sequence[int] = (1, 2, 4, 8, 16), warmup: int = 2,
                 log: Callable[[str], None] | None = None) -> None:
        self.decode, self.sizes, self.warmup = decode, tuple(sorted(sizes)), warmup
        self.log = log or (lambda message: None)
        self.graphs: dict[tuple, Any] = {}  # key -> (graph, static inputs, static outputs), or None when refused
        self.runs: dict[tuple, int] = {}

    def __call__(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch = inputs[1].shape[0]
        size = padded_size(batch, self.sizes) if batch else None
        if size is None:
            return self.decode(*inputs)
        inputs = (inputs[0], *pad_rows(inputs[1:], size))
        key = (size, inputs[1].shape[1], tuple(inputs[0].shape), inputs[0].dtype)
        if key not in self.graphs:
            self.runs[key] = self.runs.get(key, 0) + 1
            if self.runs[key] <= self.warmup:
                iou, low_res = self.decode(*inputs)
                return iou[:batch], low_res[:batch]
            self.graphs[key] = self._capture(inputs, key)
        entry = self.graphs[key]
        if entry is None:
            iou, low_res = self.decode(*inputs)
        else:
            graph, static_in, static_out = entry
            for target, value in zip(static_in, inputs):
                target.copy_(value)
            graph.replay()
            iou, low_res = static_out
        return iou[:batch].clone(), low_res[:batch].clone()

    def _capture(self, inputs: Sequence[torch.Tensor], key: tuple) -> Any:
        static_in = [x.clone() for x in inputs]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        try:
            with torch.cuda.stream(side):  # warm-up on a side stream, as torch's CUDA graph notes require
                self.decode(*static_in)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = self.decode(*static_in)
        except RuntimeError as exc:
            self.log(f"CUDA graph capture refused for decoder shape {key[:2]} ({' '.join(str(exc).split())[:120]}); "
                     "running eagerly")
            return None
        return graph, static_in, static_out
