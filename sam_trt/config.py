"""Hyper-parameters of a SAM model. Every size the runtime needs derives from these fields."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class SamConfig:
    """Architecture of one SAM variant (defaults are the official `_build_sam` constants)."""

    encoder_embed_dim: int
    encoder_depth: int
    encoder_num_heads: int
    encoder_global_attn_indexes: tuple[int, ...]
    image_size: int = 1024
    patch_size: int = 16
    window_size: int = 14
    mlp_ratio: float = 4.0
    prompt_embed_dim: int = 256
    mask_in_chans: int = 16
    decoder_depth: int = 2
    decoder_mlp_dim: int = 2048
    decoder_num_heads: int = 8
    num_multimask_outputs: int = 3
    iou_head_depth: int = 3
    iou_head_hidden_dim: int = 256
    pixel_mean: tuple[float, float, float] = field(default=(123.675, 116.28, 103.53))
    pixel_std: tuple[float, float, float] = field(default=(58.395, 57.12, 57.375))

    @property
    def embedding_size(self) -> int:
        """Side of the image-embedding grid (64 for the official models)."""
        return self.image_size // self.patch_size

    @property
    def low_res_size(self) -> int:
        """Side of the low-resolution mask logits (256 for the official models)."""
        return 4 * self.embedding_size

    @property
    def num_mask_tokens(self) -> int:
        return self.num_multimask_outputs + 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SamConfig:
        data = dict(data)
        for key in ("encoder_global_attn_indexes", "pixel_mean", "pixel_std"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)


VIT_B = SamConfig(768, 12, 12, (2, 5, 8, 11))
VIT_L = SamConfig(1024, 24, 16, (5, 11, 17, 23))
VIT_H = SamConfig(1280, 32, 16, (7, 15, 23, 31))

MODEL_CONFIGS: dict[str, SamConfig] = {"vit_h": VIT_H, "vit_l": VIT_L, "vit_b": VIT_B}

# The bundled demo model (sam_trt/demo): SAM's modules, small, trained on the project's generated scenes.
DEMO_CONFIG = SamConfig(
    encoder_embed_dim=128,
    encoder_depth=6,
    encoder_num_heads=4,
    encoder_global_attn_indexes=(2, 5),
    image_size=256,
    window_size=8,
    prompt_embed_dim=128,
    decoder_mlp_dim=512,
    decoder_num_heads=4,
    iou_head_hidden_dim=128,
)

# Every named architecture: the official ones plus the demo (used to recognise checkpoints).
KNOWN_CONFIGS: dict[str, SamConfig] = {**MODEL_CONFIGS, "demo": DEMO_CONFIG}
