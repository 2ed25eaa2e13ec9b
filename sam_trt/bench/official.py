"""The official `segment-anything` package as a baseline: its `Sam` built for any SamConfig and given the
same weights as sam-trt's model (the state-dict layouts are identical)."""

from __future__ import annotations

from functools import partial
from typing import Any

from ..config import SamConfig
from ..errors import BackendError


def import_official() -> Any:
    """The `segment_anything` module, or a one-line error naming the install."""
    try:
        import segment_anything
    except ImportError:
        raise BackendError("--baseline-official needs the official package: pip install segment-anything "
                           "(or pip install 'sam-trt[bench]')") from None
    return segment_anything


def build_official_sam(config: SamConfig, state_dict: dict[str, Any], device: Any = "cpu") -> Any:
    """Official `Sam` with `config`'s architecture and `state_dict` loaded strictly, in eval mode on `device`.

    The official builders hard-code vit_h/l/b; building the modules directly also covers the demo model and
    any other configuration sam-trt loads.
    """
    import torch

    import_official()
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    grid = config.embedding_size
    with torch.device("meta"):  # no random init: the weights come from state_dict
        sam = Sam(
            image_encoder=ImageEncoderViT(
                depth=config.encoder_depth, embed_dim=config.encoder_embed_dim, img_size=config.image_size,
                mlp_ratio=config.mlp_ratio, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
                num_heads=config.encoder_num_heads, patch_size=config.patch_size, qkv_bias=True, use_rel_pos=True,
                global_attn_indexes=config.encoder_global_attn_indexes, window_size=config.window_size,
                out_chans=config.prompt_embed_dim,
            ),
            prompt_encoder=PromptEncoder(
                embed_dim=config.prompt_embed_dim, image_embedding_size=(grid, grid),
                input_image_size=(config.image_size, config.image_size), mask_in_chans=config.mask_in_chans,
            ),
            mask_decoder=MaskDecoder(
                num_multimask_outputs=config.num_multimask_outputs,
                transformer=TwoWayTransformer(depth=config.decoder_depth, embedding_dim=config.prompt_embed_dim,
                                              mlp_dim=config.decoder_mlp_dim, num_heads=config.decoder_num_heads),
                transformer_dim=config.prompt_embed_dim, iou_head_depth=config.iou_head_depth,
                iou_head_hidden_dim=config.iou_head_hidden_dim,
            ),
            pixel_mean=list(config.pixel_mean),
            pixel_std=list(config.pixel_std),
        )
    state = {k: v.detach().to("cpu", copy=True) for k, v in state_dict.items()}
    sam.load_state_dict(state, strict=True, assign=True)
    # The non-persistent pixel statistics were created on the meta device: give them real values.
    sam.register_buffer("pixel_mean", torch.tensor(config.pixel_mean).view(-1, 1, 1), persistent=False)
    sam.register_buffer("pixel_std", torch.tensor(config.pixel_std).view(-1, 1, 1), persistent=False)
    return sam.eval().to(device)
