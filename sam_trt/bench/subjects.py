"""The systems a latency run times, each as a list of stages (callables on prepared inputs).

Stages, in pipeline order (S = the model's input side, s = low-res side, B = prompts per decoder call):
  preprocess   host: resize the HxWx3 image so max(h, w) = S (Pillow bilinear) and lay it out 1x3xhxw
  h2d          torch on CUDA only: upload the resized uint8 image to the device
  encoder      backend.encode: normalise + pad to SxS (ORT pads on the host inside its call) + image encoder
  decoder_bB   backend.decode of B one-click prompts (+ the padding point): prompt encoder + mask decoder,
               all 4 tokens, outputs left where the backend leaves them (host for ORT, device for torch)
  postprocess  one prompt: select the 3 multimask outputs, upscale the logits to the original HxW,
               threshold, copy to host numpy (what `predict` does after decode)
  end_to_end   `set_image` + one `predict` (one click, multimask) through the public API
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..postprocess import select_masks, upscale_masks
from ..predictor import SamPredictor
from ..prompts import pack_prompts
from ..runtime.base import SamBackend, to_numpy
from ..transforms import ResizeLongestSide
from .timing import HostTimer, timer_for

GPU_STAGES = ("h2d", "encoder", "decoder")
HEAVY_STAGES = ("encoder", "end_to_end")  # these take --encoder-repeats


@dataclass
class Stage:
    """One timed step: `fn` does `units` items (images or prompts) per call, timed by `timer`."""

    name: str
    fn: Callable[[], object]
    units: int
    unit: str
    timer: Callable[[Callable[[], object]], float]

    @property
    def heavy(self) -> bool:
        return self.name in HEAVY_STAGES


def decoder_stage(batch: int) -> str:
    return f"decoder_b{batch}"


def random_clicks(image_hw: tuple[int, int], batches: tuple[int, ...], seed: int = 0) -> dict[int, np.ndarray]:
    """Seeded Bx1x2 click positions (x, y) inside the image, one set per prompt batch size."""
    rng = np.random.default_rng(seed)
    h, w = image_hw
    return {b: np.stack([rng.uniform(0, w, (b, 1)), rng.uniform(0, h, (b, 1))], axis=-1) for b in batches}


class BackendSubject:
    """A sam-trt backend: the stages above on one image and seeded clicks."""

    def __init__(self, label: str, backend: SamBackend, image: np.ndarray, clicks: dict[int, np.ndarray]) -> None:
        self.label, self.backend, self.image = label, backend, image
        self.predictor = SamPredictor(backend)
        self.original_size = image.shape[:2]
        self.info = {**backend.describe(), "system": "sam-trt"}
        self.cuda = getattr(backend.device, "type", None) == "cuda"
        transform = self.predictor.transform
        resize = ResizeLongestSide(backend.encoder_size)
        self._preprocess = lambda: np.ascontiguousarray(resize.apply_image(image).transpose(2, 0, 1))[None]
        self.resized = self._preprocess()
        self.input_size = backend.input_size_of(self.original_size)
        self.encoder_input: Any = self.resized
        if self.cuda:
            import torch

            self.encoder_input = torch.as_tensor(self.resized, device=backend.device)
        self.embedding = backend.encode(self.encoder_input)
        self.prompts = {}
        for batch, xy in clicks.items():
            coords = transform.apply_coords(xy, self.original_size)
            self.prompts[batch] = pack_prompts(coords, np.ones(xy.shape[:2]), None, None, backend.low_res_size)
        one = pack_prompts(transform.apply_coords(clicks[min(clicks)][:1], self.original_size), np.ones((1, 1)),
                           None, None, backend.low_res_size)
        self.single = self._decode(one)
        self.click = clicks[min(clicks)][0]

    def _decode(self, p: Any) -> tuple[Any, Any]:
        return self.backend.decode(self.embedding, p.point_coords, p.point_labels, p.mask_input, p.has_mask_input)

    def _postprocess(self) -> tuple[np.ndarray, np.ndarray]:
        iou, low_res = select_masks(*self.single, multimask_output=True)
        masks = upscale_masks(low_res, self.backend.image_size, self.input_size, self.original_size)
        return to_numpy(masks > self.backend.mask_threshold), to_numpy(iou)

    def _end_to_end(self) -> object:
        self.predictor.set_image(self.image)
        return self.predictor.predict(point_coords=self.click, point_labels=np.array([1]), multimask_output=True)

    def stages(self) -> list[Stage]:
        device = self.backend.device
        host = HostTimer(device)
        out = [Stage("preprocess", self._preprocess, 1, "image", host)]
        if self.cuda:
            import torch

            out.append(Stage("h2d", lambda: torch.as_tensor(self.resized, device=device), 1, "image",
                             timer_for(device, True)))
        out.append(Stage("encoder", lambda: self.backend.encode(self.encoder_input), 1, "image",
                         timer_for(device, True)))
        for batch, p in self.prompts.items():
            out.append(Stage(decoder_stage(batch), lambda p=p: self._decode(p), batch, "prompt",
                             timer_for(device, True)))
        out.append(Stage("postprocess", self._postprocess, 1, "prompt", host))
        out.append(Stage("end_to_end", self._end_to_end, 1, "image", host))
        return out


class OfficialSubject:
    """The official `segment-anything` package on the same weights, through the same steps as its
    `SamPredictor` takes (its preprocess includes the upload to the model's device)."""

    def __init__(self, label: str, sam: Any, image: np.ndarray, clicks: dict[int, np.ndarray]) -> None:
        import torch
        from segment_anything import SamPredictor as OfficialPredictor

        self.label, self.sam, self.image = label, sam, image
        self.device = sam.device
        self.predictor = OfficialPredictor(sam)
        self.original_size = image.shape[:2]
        self.info = {"backend": "official segment-anything", "device": str(self.device), "precision": "fp32",
                     "system": "official"}
        transform = self.predictor.transform
        self._preprocess = lambda: torch.as_tensor(transform.apply_image(image), device=self.device).permute(
            2, 0, 1).contiguous()[None, :, :, :]
        self.resized = self._preprocess()
        self.input_size = tuple(self.resized.shape[-2:])
        with torch.no_grad():
            self.embedding = self._encode()
        self.prompts = {}
        for batch, xy in clicks.items():
            coords = torch.as_tensor(transform.apply_coords(xy, self.original_size), dtype=torch.float,
                                     device=self.device)
            self.prompts[batch] = (coords, torch.ones(xy.shape[:2], dtype=torch.int, device=self.device))
        first = min(clicks)
        self.single = self._decode(*[t[:1] for t in self.prompts[first]])
        self.click = clicks[first][0]

    def _encode(self) -> Any:
        import torch

        with torch.no_grad():
            return self.sam.image_encoder(self.sam.preprocess(self.resized))

    def _decode(self, coords: Any, labels: Any) -> tuple[Any, Any]:
        import torch

        with torch.no_grad():
            sparse, dense = self.sam.prompt_encoder(points=(coords, labels), boxes=None, masks=None)
            low_res, iou = self.sam.mask_decoder(image_embeddings=self.embedding,
                                                 image_pe=self.sam.prompt_encoder.get_dense_pe(),
                                                 sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                                 multimask_output=True)
        return low_res, iou

    def _postprocess(self) -> tuple[np.ndarray, np.ndarray]:
        import torch

        low_res, iou = self.single
        with torch.no_grad():
            masks = self.sam.postprocess_masks(low_res, self.input_size, self.original_size) > self.sam.mask_threshold
        return masks[0].detach().cpu().numpy(), iou[0].detach().cpu().numpy()

    def _end_to_end(self) -> object:
        self.predictor.set_image(self.image)
        return self.predictor.predict(point_coords=self.click, point_labels=np.array([1]), multimask_output=True)

    def stages(self) -> list[Stage]:
        host = HostTimer(self.device)
        gpu = timer_for(self.device, True)
        out = [Stage("preprocess", self._preprocess, 1, "image", host),
               Stage("encoder", self._encode, 1, "image", gpu)]
        for batch, (coords, labels) in self.prompts.items():
            out.append(Stage(decoder_stage(batch), lambda c=coords, lab=labels: self._decode(c, lab), batch,
                             "prompt", gpu))
        out.append(Stage("postprocess", self._postprocess, 1, "prompt", host))
        out.append(Stage("end_to_end", self._end_to_end, 1, "image", host))
        return out
