"""TinyViT-5M image encoder of MobileSAM and TinySAM (registry name `vit_t`).

A convolutional stem (1/4), one stage of MBConv blocks, then three stages of windowed attention with learned
relative-position biases, joined by PatchMerging convs (1/8, 1/16, and 1/16 again: the last one keeps its
stride at 1), then SAM's neck. Parameter names and shapes equal the official `image_encoder.*` keys, so
`mobile_sam.pt` and TinySAM checkpoints load strictly.

Only the batch dimension may vary at export time; H and W are fixed by the SxS input, so every window padding
is a static `Pad` in the graph.
"""

from __future__ import annotations

import torch
from torch import nn

from .common import LayerNorm2d
from .image_encoder import window_partition, window_unpartition

# TinyViT-5M as configured by MobileSAM's `build_sam_vit_t`. Stage 0 is convolutional: its heads and window
# entries are unused (kept so the table reads like the reference's arguments).
EMBED_DIMS = (64, 128, 160, 320)
DEPTHS = (2, 2, 6, 2)
NUM_HEADS = (2, 4, 5, 10)
WINDOW_SIZES = (7, 7, 14, 7)
DOWNSAMPLE_STRIDES = (2, 2, 1)  # PatchMerging after stages 0, 1, 2: total stride 16 (64x64 at 1024)
MLP_RATIO = 4.0
MBCONV_EXPAND_RATIO = 4.0
LOCAL_CONV_SIZE = 3
NUM_CLASSES = 1000  # the unused ImageNet head, kept for checkpoint compatibility


class TinyViT(nn.Module):
    """Bx3xSxS normalised, zero-padded image (S = img_size = 1024) -> Bx256x64x64 embedding (out_chans = 256)."""

    def __init__(self, img_size: int = 1024, out_chans: int = 256) -> None:
        super().__init__()
        self.img_size = img_size
        self.patch_embed = PatchEmbed(3, EMBED_DIMS[0])
        stages: list[nn.Module] = [
            ConvStage(EMBED_DIMS[0], DEPTHS[0], EMBED_DIMS[1], DOWNSAMPLE_STRIDES[0], MBCONV_EXPAND_RATIO)
        ]
        for i in range(1, len(EMBED_DIMS)):
            last = i == len(EMBED_DIMS) - 1
            stages.append(AttentionStage(
                dim=EMBED_DIMS[i],
                depth=DEPTHS[i],
                num_heads=NUM_HEADS[i],
                window_size=WINDOW_SIZES[i],
                out_dim=None if last else EMBED_DIMS[i + 1],
                downsample_stride=None if last else DOWNSAMPLE_STRIDES[i],
            ))
        self.layers = nn.ModuleList(stages)
        # TinyViT's ImageNet classifier. MobileSAM's forward never uses it, but the official checkpoints hold its
        # weights, so it stays (and is skipped in forward) for strict loading.
        self.norm_head = nn.LayerNorm(EMBED_DIMS[-1])
        self.head = nn.Linear(EMBED_DIMS[-1], NUM_CLASSES)
        self.neck = nn.Sequential(
            nn.Conv2d(EMBED_DIMS[-1], out_chans, kernel_size=1, bias=False),
            LayerNorm2d(out_chans),
            nn.Conv2d(out_chans, out_chans, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(out_chans),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: Bx3xSxS -> Bx(out_chans)x(S/16)x(S/16)."""
        x = self.patch_embed(x)
        for stage in self.layers:
            x = stage(x)
        return self.neck(x)


class Conv2dBN(nn.Module):
    """Bias-free Conv2d followed by BatchNorm2d (keys `c.*`, `bn.*`); the ONNX export folds the pair."""

    def __init__(
        self,
        in_chans: int,
        out_chans: int,
        kernel_size: int = 1,
        stride: int = 1,
        groups: int = 1,
        bn_weight_init: float = 1.0,
    ) -> None:
        super().__init__()
        self.c = nn.Conv2d(in_chans, out_chans, kernel_size, stride, kernel_size // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_chans)
        nn.init.constant_(self.bn.weight, bn_weight_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.c(x))


class PatchEmbed(nn.Module):
    """Two stride-2 3x3 convs: Bx3xHxW -> Bx(embed_dim)x(H/4)x(W/4)."""

    def __init__(self, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.seq = nn.Sequential(
            Conv2dBN(in_chans, embed_dim // 2, 3, stride=2),
            nn.GELU(),
            Conv2dBN(embed_dim // 2, embed_dim, 3, stride=2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq(x)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand -> 3x3 depthwise -> 1x1 project, residual add, GELU. BxCxHxW -> BxCxHxW."""

    def __init__(self, dim: int, expand_ratio: float) -> None:
        super().__init__()
        hidden = int(dim * expand_ratio)
        self.conv1 = Conv2dBN(dim, hidden)
        self.conv2 = Conv2dBN(hidden, hidden, 3, groups=hidden)
        self.conv3 = Conv2dBN(hidden, dim, bn_weight_init=0.0)  # each block starts as the identity
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.conv1(x))
        y = self.act(self.conv2(y))
        return self.act(x + self.conv3(y))


class PatchMerging(nn.Module):
    """1x1 conv -> strided 3x3 depthwise conv -> 1x1 conv: BxCxHxW -> Bx(out_dim)x(H/stride)x(W/stride)."""

    def __init__(self, dim: int, out_dim: int, stride: int) -> None:
        super().__init__()
        self.conv1 = Conv2dBN(dim, out_dim)
        self.conv2 = Conv2dBN(out_dim, out_dim, 3, stride=stride, groups=out_dim)
        self.conv3 = Conv2dBN(out_dim, out_dim)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.conv1(x))
        x = self.act(self.conv2(x))
        return self.conv3(x)


class ConvStage(nn.Module):
    """MBConv blocks then PatchMerging: BxCxHxW -> Bx(out_dim)x(H/stride)x(W/stride)."""

    def __init__(self, dim: int, depth: int, out_dim: int, downsample_stride: int, expand_ratio: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(MBConv(dim, expand_ratio) for _ in range(depth))
        self.downsample = PatchMerging(dim, out_dim, downsample_stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.downsample(x)


class AttentionStage(nn.Module):
    """TinyViT blocks, then PatchMerging unless last: BxCxHxW -> Bx(out_dim or C)x(H/stride)x(W/stride)."""

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window_size: int,
        out_dim: int | None,
        downsample_stride: int | None,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(TinyViTBlock(dim, num_heads, window_size) for _ in range(depth))
        self.downsample: PatchMerging | None = None
        if out_dim is not None and downsample_stride is not None:
            self.downsample = PatchMerging(dim, out_dim, downsample_stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)  # the blocks work channels-last
        for block in self.blocks:
            x = block(x)
        x = x.permute(0, 3, 1, 2)
        return x if self.downsample is None else self.downsample(x)


class TinyViTBlock(nn.Module):
    """Windowed attention, residual; 3x3 depthwise conv; pre-norm MLP, residual. BxHxWxC -> BxHxWxC.

    H and W are zero-padded up to multiples of the window (the padding takes part in attention, as in the
    reference) and cropped back afterwards.
    """

    def __init__(self, dim: int, num_heads: int, window_size: int) -> None:
        super().__init__()
        self.window_size = window_size
        self.attn = WindowAttention(dim, num_heads, window_size)
        self.mlp = PreNormMLP(dim, int(dim * MLP_RATIO))  # registered before local_conv: the reference key order
        self.local_conv = Conv2dBN(dim, dim, LOCAL_CONV_SIZE, groups=dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w, c = x.shape[1], x.shape[2], x.shape[3]
        ws = self.window_size
        windows, padded_hw = window_partition(x, ws)
        windows = self.attn(windows.reshape(-1, ws * ws, c)).reshape(-1, ws, ws, c)
        x = x + window_unpartition(windows, ws, padded_hw, (h, w))
        x = self.local_conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return x + self.mlp(x)


class WindowAttention(nn.Module):
    """Pre-norm multi-head self-attention over one window with a learned bias per head and (|dy|, |dx|) offset.

    x: B'xNxC (N = window_size^2 tokens) -> B'xNxC.
    """

    def __init__(self, dim: int, num_heads: int, window_size: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, window_size * window_size))
        self.window_size = window_size
        self.reset_derived_buffers()

    def reset_derived_buffers(self) -> None:
        """(Re)create the offset index on the CPU (not in checkpoints; a model built on the meta device needs it).

        Indexed in forward (never cached), so biases loaded after .eval() take effect.
        """
        with torch.device("cpu"):
            index = relative_offset_index(self.window_size)
        self.register_buffer("attention_bias_idxs", index, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[1]
        x = self.norm(x)
        # The fused projection is laid out per head as [q | k | v] (head-major, not the q/k/v-major of ViT).
        qkv = self.qkv(x).reshape(-1, n, self.num_heads, 3 * self.head_dim).transpose(1, 2)
        q, k, v = qkv.split(self.head_dim, dim=-1)  # each B' x heads x N x head_dim
        bias = self.attention_biases[:, self.attention_bias_idxs]  # heads x N x N
        # Plain MatMul/Softmax: F.scaled_dot_product_attention with this float mask fails the dynamo ONNX export
        # (a stride mismatch in its fake-tensor re-run, torch 2.14).
        attn = (q @ k.transpose(-2, -1)) * self.scale + bias
        x = attn.softmax(dim=-1) @ v
        return self.proj(x.transpose(1, 2).reshape(-1, n, self.num_heads * self.head_dim))


def relative_offset_index(window_size: int) -> torch.Tensor:
    """NxN (N = window_size^2) index of |dy| * window_size + |dx| for each pair of tokens in a window.

    This is the order in which the reference numbers the offsets (first seen while scanning from token (0, 0)).
    """
    coords = torch.arange(window_size)
    rows, cols = coords.repeat_interleave(window_size), coords.repeat(window_size)
    dy = (rows[:, None] - rows[None, :]).abs()
    dx = (cols[:, None] - cols[None, :]).abs()
    return dy * window_size + dx


class PreNormMLP(nn.Module):
    """LayerNorm -> Linear -> GELU -> Linear (keys `norm`, `fc1`, `fc2`). ...xC -> ...xC."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(self.norm(x))))
