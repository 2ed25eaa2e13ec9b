"""EfficientViT-SAM image encoder (variants l0, l1, l2, xl0, xl1): EfficientViT-L/XL backbone + SAM neck.

Input Bx3xSxS (SAM-normalised, zero-padded bottom-right; S = 512 for l*, 1024 for xl*; prompts stay in the
1024 frame). Output Bx256x64x64, the embedding SAM's prompt encoder and mask decoder expect.
State-dict keys equal the official `image_encoder.*` keys without the prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .common import LayerNorm2d
from .efficientvit_blocks import (
    LOCAL_BLOCKS,
    NORM_EPS,
    ConvNormAct,
    EfficientViTBlock,
    FusedMBConv,
    OpSequence,
    ResidualBlock,
)


@dataclass(frozen=True)
class EfficientViTVariant:
    """Shape of one EfficientViT-SAM encoder. Per-stage tuples have one entry per backbone stage."""

    widths: tuple[int, ...]
    depths: tuple[int, ...]  # repeated blocks per stage, after the stem conv / downsampling block
    blocks: tuple[str, ...]  # "res" | "fmb" | "mb" | "att" (EfficientViTBlock)
    expand_ratios: tuple[float, ...]  # of the repeated blocks; a stage's downsampling block uses 4x this
    lean_norm: tuple[bool, ...]  # the official `fewer_norm`: no BN (but a bias) in the hidden convs
    attention_scale: int  # LiteMLA aggregation kernel: 5 for L, 3 for XL
    neck_stages: tuple[int, ...]  # backbone stages fed to the neck, deepest first
    neck_depth: int
    neck_expand_ratio: float
    img_size: int  # encoder input side


_L_STAGES = dict(
    widths=(32, 64, 128, 256, 512),
    blocks=("res", "fmb", "fmb", "mb", "att"),
    expand_ratios=(1, 4, 4, 4, 6),
    lean_norm=(False, False, False, True, True),
    attention_scale=5,
    neck_stages=(4, 3, 2),
    neck_expand_ratio=1,
    img_size=512,
)
_XL_STAGES = dict(
    widths=(32, 64, 128, 256, 512, 1024),
    blocks=("res", "fmb", "fmb", "fmb", "att", "att"),
    expand_ratios=(1, 4, 4, 4, 4, 6),
    lean_norm=(False, False, False, False, True, True),
    attention_scale=3,
    neck_stages=(5, 4, 3),
    neck_expand_ratio=4,
    img_size=1024,
)

EFFICIENTVIT_VARIANTS: dict[str, EfficientViTVariant] = {
    "l0": EfficientViTVariant(depths=(1, 1, 1, 4, 4), neck_depth=4, **_L_STAGES),
    "l1": EfficientViTVariant(depths=(1, 1, 1, 6, 6), neck_depth=8, **_L_STAGES),
    "l2": EfficientViTVariant(depths=(1, 2, 2, 8, 8), neck_depth=12, **_L_STAGES),
    "xl0": EfficientViTVariant(depths=(0, 1, 1, 2, 3, 3), neck_depth=6, **_XL_STAGES),
    "xl1": EfficientViTVariant(depths=(1, 2, 2, 4, 6, 6), neck_depth=12, **_XL_STAGES),
}


def efficientvit_variant(variant: str) -> EfficientViTVariant:
    if variant not in EFFICIENTVIT_VARIANTS:
        raise ValueError(f"unknown EfficientViT-SAM variant {variant!r}; known: {', '.join(EFFICIENTVIT_VARIANTS)}")
    return EFFICIENTVIT_VARIANTS[variant]


def efficientvit_input_size(variant: str) -> int:
    """Encoder input side of a variant: 512 for l*, 1024 for xl*."""
    return efficientvit_variant(variant).img_size


class EfficientViTBackbone(nn.Module):
    """EfficientViT-L/XL: Bx3xSxS -> one feature map per stage, stage i at stride 2^(i+1).

    Stage 0 is a strided 3x3 conv then `depths[0]` residual blocks; every later stage is a strided
    downsampling block (MBConv, or FusedMBConv in fmb stages) then `depths[i]` residual or EfficientViT blocks.
    """

    def __init__(self, cfg: EfficientViTVariant, in_channels: int = 3) -> None:
        super().__init__()
        stages = []
        for i, (width, depth, block, expand, lean) in enumerate(
            zip(cfg.widths, cfg.depths, cfg.blocks, cfg.expand_ratios, cfg.lean_norm)
        ):
            if i == 0:
                ops: list[nn.Module] = [ConvNormAct(in_channels, width, 3, stride=2, act=True)]
            else:
                down = LOCAL_BLOCKS[block if block in ("mb", "fmb") else "mb"]
                ops = [ResidualBlock(down(in_channels, width, 2, expand * 4, lean), shortcut=False)]
            for _ in range(depth):
                if block == "att":
                    ops.append(EfficientViTBlock(width, expand, scales=(cfg.attention_scale,)))
                else:
                    ops.append(ResidualBlock(LOCAL_BLOCKS[block](width, width, 1, expand, lean)))
            stages.append(OpSequence(ops))
            in_channels = width
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


class SamNeck(nn.Module):
    """Fuses pyramid levels into the SAM embedding: [BxCixHixWi] -> Bx`out_channels`x`out_size`x`out_size`.

    Each level: 1x1 conv + BN to `width`, bicubic resize to out_size (align_corners=False); the levels are
    summed, refined by `depth` residual FusedMBConvs, and projected by a 1x1 conv with bias.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        depth: int,
        expand_ratio: float,
        width: int = 256,
        out_channels: int = 256,
        out_size: int = 64,
        level_sizes: Sequence[int] = (),
    ) -> None:
        super().__init__()
        self.out_size = out_size
        self.level_sizes = tuple(level_sizes)
        self.input_ops = nn.ModuleList(OpSequence([ConvNormAct(c, width, 1)]) for c in in_channels)
        self.middle = OpSequence(
            ResidualBlock(FusedMBConv(width, width, expand_ratio=expand_ratio)) for _ in range(depth)
        )
        # One output branch, kept in a list for the checkpoints' `output_ops.0.op_list.0` keys.
        self.output_ops = nn.ModuleList([OpSequence([ConvNormAct(width, out_channels, 1, bias=True, norm=False)])])
        self.reset_derived_buffers()

    def reset_derived_buffers(self) -> None:
        """The n x out_size bicubic upsampling matrix of each expected level size (not in checkpoints)."""
        with torch.device("cpu"):
            for n in self.level_sizes:
                if n != self.out_size:
                    self.register_buffer(f"upsample_{n}", bicubic_matrix(n, self.out_size), persistent=False)

    def resize(self, x: torch.Tensor) -> torch.Tensor:
        """BxCxnxn -> BxCxSxS (S = out_size), bicubic with align_corners=False as the reference."""
        n = x.shape[-1]
        # A same-size bicubic resize with align_corners=False is an exact identity (weights 0,1,0,0); the
        # official code runs it anyway (its size check never fires), we skip it: one Resize node fewer.
        if tuple(x.shape[-2:]) == (self.out_size, self.out_size):
            return x
        matrix = getattr(self, f"upsample_{n}", None)
        if matrix is not None and x.shape[-2] == n and matrix.shape[1] == self.out_size:
            # Separable bicubic as two MatMuls with a constant matrix, M^T X M: the same values as the Resize op
            # to float rounding, and 40x faster on ONNX Runtime's CPU (its cubic Resize took 25 % of l0's encoder).
            matrix = matrix.to(x.dtype)
            return matrix.t() @ x @ matrix
        return F.interpolate(x, size=(self.out_size, self.out_size), mode="bicubic", align_corners=False)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        levels = [self.resize(op(f)) for op, f in zip(self.input_ops, features)]
        fused = levels[-1]
        for level in reversed(levels[:-1]):  # l0 + (l1 + l2), the official summation order
            fused = level + fused
        return self.output_ops[0](self.middle(fused))


def bicubic_matrix(size_in: int, size_out: int) -> torch.Tensor:
    """size_in x size_out matrix M with X @ M = F.interpolate(X, bicubic, align_corners=False) along the last dim.

    Row i is the interpolation of a unit impulse at i, so M is torch's own kernel (a = -0.75, clamped borders).
    """
    impulses = torch.eye(size_in).reshape(size_in, 1, 1, size_in)
    return F.interpolate(impulses, size=(1, size_out), mode="bicubic", align_corners=False).reshape(size_in, size_out)


class EfficientViTSamEncoder(nn.Module):
    """Bx3xSxS normalised, zero-padded image (S = img_size: 512 for L*, 1024 for XL*) -> Bx256x64x64 embedding.

    Other sides run too (the neck resizes every level to 64x64), but the weights were trained at img_size.
    """

    def __init__(self, variant: str) -> None:
        super().__init__()
        cfg = efficientvit_variant(variant)
        self.variant = variant
        self.img_size = cfg.img_size
        self.neck_stages = cfg.neck_stages
        self.backbone = EfficientViTBackbone(cfg)
        # Stage k of the backbone has stride 2^(k+1): the level sizes at the trained input size.
        self.neck = SamNeck([cfg.widths[i] for i in cfg.neck_stages], cfg.neck_depth, cfg.neck_expand_ratio,
                            level_sizes=[cfg.img_size >> (i + 1) for i in cfg.neck_stages])
        self.norm = LayerNorm2d(256, eps=NORM_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.backbone(x)
        return self.norm(self.neck([features[i] for i in self.neck_stages]))
