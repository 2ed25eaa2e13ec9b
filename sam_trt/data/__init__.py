"""Synthetic scenes for training and testing the bundled demo model (needs pycocotools only for writing)."""

from .scenes import STYLES, Scene, Video, generate_scene, generate_video, rng_for
from .writers import encode_rle, mask_bbox, write_coco, write_video

__all__ = ["STYLES", "Scene", "Video", "encode_rle", "generate_scene", "generate_video", "mask_bbox", "rng_for",
           "write_coco", "write_video"]
