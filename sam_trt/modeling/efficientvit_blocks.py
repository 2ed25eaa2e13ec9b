"""Building blocks of the EfficientViT-SAM image encoder (EfficientViT-L/XL backbone and SAM neck).

Module attribute names follow the official checkpoints (`conv`, `norm`, `main`, `op_list`, `context_module`,
`qkv`, `aggreg`, `proj`, ...), so `efficientvit_sam_*.pt` weights load strictly. Numerics follow the official
model as built by `create_efficientvit_sam_model`: BatchNorm eps 1e-6, GELU with the tanh approximation.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

# The official builder sets every norm's eps to 1e-6 (`set_norm_eps(model, 1e-6)`), not PyTorch's 1e-5.
NORM_EPS = 1e-6


def gelu() -> nn.Module:
    """The activation of every EfficientViT-SAM conv block: GELU, tanh approximation."""
    return nn.GELU(approximate="tanh")


class ConvNormAct(nn.Module):
    """Conv2d with 'same' padding -> optional BatchNorm -> optional GELU (keys `conv.*`, `norm.*`).

    BxCinxHxW -> BxCoutx(H/stride)x(W/stride).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        bias: bool = False,
        norm: bool = True,
        act: bool = False,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2, groups=groups, bias=bias
        )
        self.norm = nn.BatchNorm2d(out_channels, eps=NORM_EPS) if norm else nn.Identity()
        self.act = gelu() if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


class ResBlock(nn.Module):
    """Two 3x3 convs (the first strided): BxCinxHxW -> BxCoutx(H/stride)x(W/stride).

    `lean_norm` (the official `fewer_norm`) drops the BatchNorm of the first conv and gives it a bias.
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int = 1, expand_ratio: float = 1, lean_norm: bool = False
    ) -> None:
        super().__init__()
        mid = round(in_channels * expand_ratio)
        self.conv1 = ConvNormAct(in_channels, mid, 3, stride, bias=lean_norm, norm=not lean_norm, act=True)
        self.conv2 = ConvNormAct(mid, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


class FusedMBConv(nn.Module):
    """Fused inverted bottleneck: 3x3 conv expanding to `expand_ratio`x, then 1x1 projection.

    BxCinxHxW -> BxCoutx(H/stride)x(W/stride).
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int = 1, expand_ratio: float = 6, lean_norm: bool = False
    ) -> None:
        super().__init__()
        mid = round(in_channels * expand_ratio)
        self.spatial_conv = ConvNormAct(in_channels, mid, 3, stride, bias=lean_norm, norm=not lean_norm, act=True)
        self.point_conv = ConvNormAct(mid, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.point_conv(self.spatial_conv(x))


class MBConv(nn.Module):
    """Inverted bottleneck: 1x1 expansion, 3x3 depthwise (strided), 1x1 projection.

    BxCinxHxW -> BxCoutx(H/stride)x(W/stride). `lean_norm` drops the BatchNorm of the first two convs (which
    then carry biases); the projection keeps its BatchNorm either way.
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int = 1, expand_ratio: float = 6, lean_norm: bool = False
    ) -> None:
        super().__init__()
        mid = round(in_channels * expand_ratio)
        hidden = dict(bias=lean_norm, norm=not lean_norm, act=True)
        self.inverted_conv = ConvNormAct(in_channels, mid, 1, **hidden)
        self.depth_conv = ConvNormAct(mid, mid, 3, stride, groups=mid, **hidden)
        self.point_conv = ConvNormAct(mid, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.point_conv(self.depth_conv(self.inverted_conv(x)))


LOCAL_BLOCKS: dict[str, type[nn.Module]] = {"res": ResBlock, "fmb": FusedMBConv, "mb": MBConv}


class ResidualBlock(nn.Module):
    """`main(x) + x`, or `main(x)` alone when `shortcut` is False.

    Downsampling blocks have no shortcut but keep this wrapper so that their checkpoint keys read `...main.*`.
    """

    def __init__(self, main: nn.Module, shortcut: bool = True) -> None:
        super().__init__()
        self.main = main
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + x if self.shortcut else self.main(x)


class OpSequence(nn.Module):
    """Modules applied in order, held under `op_list` (the checkpoints' layout for stages and neck branches)."""

    def __init__(self, ops: Iterable[nn.Module]) -> None:
        super().__init__()
        self.op_list = nn.ModuleList(ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for op in self.op_list:
            x = op(x)
        return x


class LinearAttentionNormalize(nn.Module):
    """Divides the attention numerator rows by the denominator row: Bxhx(d+1)xN -> BxhxdxN.

    The FP16-sensitive step of LiteMLA, kept as its own module (ONNX scope `...normalize`): the denominator
    sums ReLU(k).ReLU(q) over all N tokens and can overflow FP16, and eps = 1e-15 underflows to 0 in FP16.
    Pin it (with the matmuls feeding it) to FP32 in a mixed-precision build.
    """

    def __init__(self, eps: float = 1e-15) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, out: torch.Tensor) -> torch.Tensor:
        # The denominator is a sum of ReLU products (>= 0), so max(d, eps) equals the reference's d + eps to
        # within eps. Written as a clamp because torch's ONNX optimizer drops "+ 1e-15" as an identity Add, which
        # would turn the reference's 0 / eps = 0 into 0 / 0 = NaN for a token whose ReLU(q) is all zero.
        return out[:, :, :-1] / out[:, :, -1:].clamp(min=self.eps)


class ReLULinearAttention(nn.Module):
    """ReLU linear attention per head over stacked q,k,v: Bx(h*3d)xHxW -> Bx(h*d)xHxW.

    Each head's 3d channels are q (d), k (d), v (d). out_n = sum_m v_m (k_m . q_n) / (sum_m k_m . q_n + eps)
    with k, q after ReLU, computed as (v' k^T) q where v' is v with a row of ones appended (that row yields the
    denominator). The official code switches to the quadratic form when H*W <= d; both are the same sum, so this
    one form serves every size.
    """

    def __init__(self, head_dim: int, eps: float = 1e-15) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.normalize = LinearAttentionNormalize(eps)

    def forward(self, qkv: torch.Tensor) -> torch.Tensor:
        height, width = qkv.shape[-2:]
        d = self.head_dim
        dtype = qkv.dtype
        # As the official code: a half-precision model still attends in FP32 (no-op in an FP32 graph).
        # Bx(h*3d)xHxW -> Bxhx3dxN without naming the batch size (keeps it symbolic in export).
        qkv = qkv.float().flatten(2).unflatten(1, (-1, 3 * d))
        q, k, v = qkv[:, :, :d], qkv[:, :, d : 2 * d], qkv[:, :, 2 * d :]
        q, k = F.relu(q), F.relu(k)
        v = F.pad(v, (0, 0, 0, 1), mode="constant", value=1.0)  # Bxhx(d+1)xN
        out = torch.matmul(torch.matmul(v, k.transpose(-1, -2)), q)  # Bxhx(d+1)xN
        out = self.normalize(out)  # BxhxdxN
        return out.flatten(1, 2).unflatten(2, (height, width)).to(dtype)


class LiteMLA(nn.Module):
    """Lightweight multi-scale linear attention: BxCxHxW -> BxCxHxW.

    q,k,v come from a 1x1 conv (`qkv`) plus, per scale, a depthwise kxk and grouped 1x1 conv over them
    (`aggreg`); every branch is attended with `head_dim`-wide heads, then `proj` (1x1 conv + BN) fuses them.
    """

    def __init__(self, channels: int, head_dim: int = 32, scales: tuple[int, ...] = (5,), eps: float = 1e-15) -> None:
        super().__init__()
        heads = channels // head_dim
        inner = heads * head_dim
        self.qkv = ConvNormAct(channels, 3 * inner, 1, norm=False)
        self.aggreg = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(3 * inner, 3 * inner, k, padding=k // 2, groups=3 * inner, bias=False),
                nn.Conv2d(3 * inner, 3 * inner, 1, groups=3 * heads, bias=False),
            )
            for k in scales
        )
        self.attention = ReLULinearAttention(head_dim, eps)
        self.proj = ConvNormAct(inner * (1 + len(scales)), channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        qkv = self.qkv(x)
        qkv = torch.cat([qkv, *(aggregate(qkv) for aggregate in self.aggreg)], dim=1)
        return self.proj(self.attention(qkv))


class EfficientViTBlock(nn.Module):
    """LiteMLA (global context) then MBConv (local), both residual: BxCxHxW -> BxCxHxW."""

    def __init__(self, channels: int, expand_ratio: float, head_dim: int = 32, scales: tuple[int, ...] = (5,)) -> None:
        super().__init__()
        self.context_module = ResidualBlock(LiteMLA(channels, head_dim, scales))
        self.local_module = ResidualBlock(MBConv(channels, channels, expand_ratio=expand_ratio, lean_norm=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.local_module(self.context_module(x))
