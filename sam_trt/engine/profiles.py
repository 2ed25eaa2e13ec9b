"""Optimization profiles: min/opt/max shapes of every dynamic input, from the model's sizes."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import SamConfig

Shape = tuple[int, ...]


@dataclass(frozen=True)
class ProfileRanges:
    """(min, opt, max) of the dynamic dims: encoder batch, decoder prompts B and points N."""

    encoder_batch: tuple[int, int, int] = (1, 1, 1)
    prompts: tuple[int, int, int] = (1, 4, 16)
    points: tuple[int, int, int] = (1, 3, 10)


def profile_shapes(config: SamConfig, graph: str, ranges: ProfileRanges) -> dict[str, tuple[Shape, Shape, Shape]]:
    """{input name: (min, opt, max) shape} for the encoder or decoder graph."""
    s, low = config.encoder_size, config.low_res_size
    if graph == "encoder":
        return {
            "image": tuple((b, 3, s, s) for b in ranges.encoder_batch),
            "input_size": tuple((b, 2) for b in ranges.encoder_batch),
        }
    if graph == "decoder":
        pairs = list(zip(ranges.prompts, ranges.points))
        return {
            "point_coords": tuple((b, n, 2) for b, n in pairs),
            "point_labels": tuple((b, n) for b, n in pairs),
            "mask_input": tuple((b, 1, low, low) for b, _ in pairs),
            "has_mask_input": tuple((b,) for b, _ in pairs),
        }
    raise ValueError(f"unknown graph {graph!r}")
