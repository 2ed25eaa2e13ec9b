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
    # Edge encoders (wave 2). The prompt/mask frame stays `image_size`; only the encoder differs.
    encoder_type: str = "vit"  # "vit" (SAM's ViTDet), "tiny_vit" (MobileSAM/TinySAM), "efficientvit" (EfficientViT-SAM)
    encoder_variant: str = ""  # tiny_vit: "5m"; efficientvit: "l0" "l1" "l2" "xl0" "xl1"
    encoder_input_size: int = 0  # side of the encoder's square input; 0 = image_size (EfficientViT-SAM L*: 512)
    decoder_norm_eps: float = 1e-5  # the decoder transformer's LayerNorms (EfficientViT-SAM sets 1e-6)

    @property
    def encoder_size(self) -> int:
        """Side of the square image the encoder sees (resize longest side to it, then zero-pad)."""
        return self.encoder_input_size or self.image_size

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



def edge_config(encoder_type: str, variant: str, encoder_input_size: int = 0, decoder_norm_eps: float = 1e-5
                ) -> SamConfig:
    """An edge variant: its own image encoder in front of SAM's prompt encoder and mask decoder (vit_h sizes).

    The ViT fields do not apply (0 / empty); the prompt and mask frame is SAM's 1024 px with a 64x64 grid.
    """
    return SamConfig(0, 0, 0, (), encoder_type=encoder_type, encoder_variant=variant,
                     encoder_input_size=encoder_input_size, decoder_norm_eps=decoder_norm_eps)


# MobileSAM (TinyViT-5M); TinySAM checkpoints have the same layout. EfficientViT-SAM sets every norm's eps to
# 1e-6 (decoder LayerNorms included); its L* encoders take a 512 px input, XL* 1024 px.
EDGE_CONFIGS: dict[str, SamConfig] = {
    "vit_t": edge_config("tiny_vit", "5m"),
    **{f"efficientvit_{v}": edge_config("efficientvit", v, 512 if v.startswith("l") else 0, 1e-6)
       for v in ("l0", "l1", "l2", "xl0", "xl1")},
}

# Every named architecture: the official ones, the edge variants and the demo (used to recognise checkpoints).
KNOWN_CONFIGS: dict[str, SamConfig] = {**MODEL_CONFIGS, **EDGE_CONFIGS, "demo": DEMO_CONFIG}
