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

    if config.encoder_type != "vit":
        raise BackendError(f"--baseline-official compares SAM's ViT models; the {config.encoder_type} edge encoders' "
                           "own reference code is the baseline of benchmarks/bench_edge_encoders.py")
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


# The edge variants' own reference packages (the bench extra): MobileSAM (vit_t) and EfficientViT-SAM.
EDGE_REFERENCES = {"vit_t": "mobile_sam (pip install mobilesam-mirror timm)",
                   "efficientvit": "efficientsam (pip install efficientsam)"}


def build_edge_reference(model_type: str, state_dict: dict[str, Any] | None = None) -> Any:
    """The reference model of an edge type (vit_t, efficientvit_*) in eval mode, default-initialised or with
    `state_dict` loaded strictly. MobileSAM caches its attention biases in eval(): it is called after loading."""
    import warnings

    family = "vit_t" if model_type == "vit_t" else "efficientvit"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # timm's deprecation warnings from the reference imports
            if family == "vit_t":
                from mobile_sam import sam_model_registry as mobile_sam_registry

                model = mobile_sam_registry["vit_t"]()
            else:
                from efficientsam.sam_model_zoo import create_efficientvit_sam_model

                model = create_efficientvit_sam_model(model_type.replace("_", "-sam-"), pretrained=False)
    except ImportError:
        raise BackendError(f"the {model_type} reference needs {EDGE_REFERENCES[family]}") from None
    if state_dict is not None:
        model.load_state_dict(state_dict, strict=True)
    model.train()
    return model.eval()


def edge_reference_predictor(model_type: str, model: Any) -> Any:
    """The reference package's own predictor class for an edge `model`."""
    if model_type == "vit_t":
        from mobile_sam import SamPredictor

        return SamPredictor(model)
    from efficientsam.models.efficientvit.sam import EfficientViTSamPredictor

    return EfficientViTSamPredictor(model)


def randomize_(model: Any) -> None:
    """Give every parameter (zero-initialised ones included) non-trivial values, scaled to keep activations sane;
    BatchNorm statistics and TinyViT's attention biases get O(1) values too, so that a folded-BN or stale-bias bug
    cannot hide behind their zero/one initialisation. In place; for parity checks on random weights."""
    import torch

    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("attention_biases"):
                p.normal_(0.0, 1.0)
            elif p.ndim >= 2:
                fan_in = p[0].numel() if "rel_pos" not in name else p.shape[-1]
                p.normal_(0.0, fan_in**-0.5)
            elif name.endswith("weight"):  # norm scales
                p.uniform_(0.5, 1.5)
            else:
                p.normal_(0.0, 0.1)
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.normal_(0.0, 0.2)
                module.running_var.uniform_(0.5, 1.5)
