"""Model builders, the registry and strict checkpoint loading."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from ..checkpoint import check_matches_config, read_state_dict, summarize_key_mismatch
from ..config import EDGE_CONFIGS, KNOWN_CONFIGS, SamConfig
from ..errors import CheckpointError
from .image_encoder import ImageEncoderViT
from .mask_decoder import MaskDecoder
from .prompt_encoder import PromptEncoder
from .sam import Sam
from .transformer import TwoWayTransformer


def build_sam_from_config(
    config: SamConfig, checkpoint: str | Path | None = None, model_type: str = "custom"
) -> Sam:
    """Build a `Sam` on the CPU in fp32 eval mode, loading `checkpoint` strictly when given.

    The checkpoint is read and checked before the model exists, so a wrong file fails at once; the
    model is then built on the meta device and takes the checkpoint's tensors (no random init).
    """
    if checkpoint is None:
        return _construct(config).eval()
    state = read_state_dict(checkpoint)
    check_matches_config(state, config, model_type, str(checkpoint))
    with torch.device("meta"):
        sam = _construct(config)
    mismatch = summarize_key_mismatch(sam, state)
    if mismatch:
        raise CheckpointError(f"{checkpoint} does not fit model type {model_type}: {mismatch}")
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    sam.load_state_dict(state, strict=True, assign=True)
    sam.reset_derived_buffers()
    left = [name for name, b in sam.named_buffers() if b.is_meta]
    if left:  # a module with a derived buffer but no reset_derived_buffers: a bug in sam-trt, not the file
        raise RuntimeError(f"buffers left uninitialised after loading {checkpoint}: {', '.join(left[:3])}")
    return sam.eval()


def build_image_encoder(config: SamConfig) -> torch.nn.Module:
    """The config's image encoder: Bx3xSxS normalised padded image (S = config.encoder_size) -> Bx256xgxg."""
    if config.encoder_type == "tiny_vit":
        from .tiny_vit import TinyViT

        return TinyViT(img_size=config.encoder_size, out_chans=config.prompt_embed_dim)
    if config.encoder_type == "efficientvit":
        from .efficientvit import EfficientViTSamEncoder

        return EfficientViTSamEncoder(config.encoder_variant)
    if config.encoder_type != "vit":
        raise ValueError(f"unknown encoder_type {config.encoder_type!r} (vit, tiny_vit or efficientvit)")
    return ImageEncoderViT(
        img_size=config.image_size,
        patch_size=config.patch_size,
        embed_dim=config.encoder_embed_dim,
        depth=config.encoder_depth,
        num_heads=config.encoder_num_heads,
        mlp_ratio=config.mlp_ratio,
        out_chans=config.prompt_embed_dim,
        window_size=config.window_size,
        global_attn_indexes=config.encoder_global_attn_indexes,
    )


def _construct(config: SamConfig) -> Sam:
    grid = config.embedding_size
    return Sam(
        image_encoder=build_image_encoder(config),
        prompt_encoder=PromptEncoder(
            embed_dim=config.prompt_embed_dim,
            image_embedding_size=(grid, grid),
            input_image_size=(config.image_size, config.image_size),
            mask_in_chans=config.mask_in_chans,
        ),
        mask_decoder=MaskDecoder(
            transformer_dim=config.prompt_embed_dim,
            transformer=TwoWayTransformer(
                depth=config.decoder_depth,
                embedding_dim=config.prompt_embed_dim,
                num_heads=config.decoder_num_heads,
                mlp_dim=config.decoder_mlp_dim,
                norm_eps=config.decoder_norm_eps,
            ),
            num_multimask_outputs=config.num_multimask_outputs,
            iou_head_depth=config.iou_head_depth,
            iou_head_hidden_dim=config.iou_head_hidden_dim,
        ),
        pixel_mean=config.pixel_mean,
        pixel_std=config.pixel_std,
        config=config,
    )


def _registry_builder(name: str) -> Callable[..., Sam]:
    def build(checkpoint: str | Path | None = None) -> Sam:
        return build_sam_from_config(KNOWN_CONFIGS[name], checkpoint, model_type=name)

    build.__name__ = f"build_sam_{name}"
    build.__doc__ = f"Build the {name} SAM, optionally loading `checkpoint`."
    return build


def build_sam_demo(checkpoint: str | Path | None = None) -> Sam:
    """The bundled demo model (small, trained on generated scenes); its weights ship with sam-trt."""
    from ..demo import DEMO_CONFIG, DEMO_WEIGHTS

    return build_sam_from_config(DEMO_CONFIG, checkpoint or DEMO_WEIGHTS, model_type="demo")


build_sam_vit_h = _registry_builder("vit_h")
build_sam_vit_l = _registry_builder("vit_l")
build_sam_vit_b = _registry_builder("vit_b")
build_sam_vit_t = _registry_builder("vit_t")  # MobileSAM; TinySAM checkpoints load into it too
build_sam = build_sam_vit_h

sam_model_registry: dict[str, Callable[..., Sam]] = {
    "default": build_sam_vit_h,
    "vit_h": build_sam_vit_h,
    "vit_l": build_sam_vit_l,
    "vit_b": build_sam_vit_b,
    "vit_t": build_sam_vit_t,
    **{name: _registry_builder(name) for name in EDGE_CONFIGS if name != "vit_t"},
    "demo": build_sam_demo,
}

__all__ = ["build_image_encoder", "build_sam", "build_sam_demo", "build_sam_from_config", "build_sam_vit_b",
           "build_sam_vit_h", "build_sam_vit_l", "build_sam_vit_t", "sam_model_registry"]
