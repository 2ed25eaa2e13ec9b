"""torch -> ONNX for the encoder and decoder graphs, written atomically as one export folder."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..errors import InputError
from ..files import current_umask
from ..modeling.sam import Sam
from .graphs import DECODER_INPUTS, DECODER_OUTPUTS, ENCODER_INPUTS, ENCODER_OUTPUTS, DecoderGraph, EncoderGraph
from .manifest import ENCODER_INPUT_FORMAT, sha256_file, write_manifest
from .onnx_checks import check_graph_io, check_standard_ops, describe_io

DEFAULT_OPSET = 20
# A single protobuf file holds at most 2 GiB; bigger graphs (vit_h) keep weights in <file>.data.
EXTERNAL_DATA_BYTES = 1_800_000_000


def export_model(
    sam: Sam,
    output: str | Path,
    model_type: str = "custom",
    opset: int = DEFAULT_OPSET,
    overwrite: bool = False,
    log: Any = print,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Export `sam` to output/{encoder.onnx, decoder.onnx, manifest.json}; returns the folder.

    The folder appears whole or not at all: everything is written to a sibling temp folder first.
    `metadata` adds fields to the manifest.
    """
    output = Path(output)
    if output.exists() and any(output.iterdir()) and not overwrite:
        raise InputError(f"{output} already exists and is not empty; pass --overwrite or choose another --output")
    config = sam.config
    if config is None:
        raise InputError("the model has no config; build it with sam_model_registry or build_sam_from_config")
    sam = sam.eval().to("cpu")
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700; give the folder the usual mode
    try:
        graphs = {}
        for name, build in (("encoder", _export_encoder), ("decoder", _export_decoder)):
            log(f"exporting {name} ({model_type}, opset {opset}) ...")
            path = tmp / f"{name}.onnx"
            build(sam, path, opset)
            graphs[name] = _graph_entry(path)
        graphs["encoder"]["input_format"] = ENCODER_INPUT_FORMAT
        write_manifest(tmp, {
            "sam_trt_version": __version__,
            "torch_version": torch.__version__,
            "model_type": model_type,
            "config": config.to_dict(),
            "image_size": config.image_size,
            "encoder_size": config.encoder_size,
            "embedding_size": config.embedding_size,
            "low_res_size": config.low_res_size,
            "opset": opset,
            "precision": "fp32",
            "graphs": graphs,
            **(metadata or {}),
        })
        if output.exists():
            shutil.rmtree(output)
        os.replace(tmp, output)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log(f"wrote {output}")
    return output


def _export_encoder(sam: Sam, path: Path, opset: int) -> None:
    size = sam.image_encoder.img_size
    batch = torch.export.Dim("batch", min=1, max=64)
    example = (torch.zeros(2, 3, size, size, dtype=torch.uint8), torch.full((2, 2), size, dtype=torch.int32))
    _export(EncoderGraph(sam), example, path, opset, ENCODER_INPUTS, ENCODER_OUTPUTS,
            {"image": {0: batch}, "input_size": {0: batch}})
    check_graph_io(path, {"image": ("uint8", ["batch", 3, size, size]), "input_size": ("int32", ["batch", 2])},
                   {"image_embeddings": ("float32", None)})


def _export_decoder(sam: Sam, path: Path, opset: int) -> None:
    config = sam.config
    grid, low = config.embedding_size, config.low_res_size
    prompts = torch.export.Dim("num_prompts", min=1, max=4096)
    points = torch.export.Dim("num_points", min=1, max=256)
    example = (
        torch.zeros(1, config.prompt_embed_dim, grid, grid),
        torch.full((2, 3, 2), 10.0),
        torch.tensor([[1.0, 0.0, -1.0], [2.0, 3.0, 1.0]]),
        torch.zeros(2, 1, low, low),
        torch.tensor([0.0, 1.0]),
    )
    dynamic = {"image_embeddings": None, "point_coords": {0: prompts, 1: points},
               "point_labels": {0: prompts, 1: points}, "mask_input": {0: prompts}, "has_mask_input": {0: prompts}}
    _export(DecoderGraph(sam), example, path, opset, DECODER_INPUTS, DECODER_OUTPUTS, dynamic)
    check_graph_io(
        path,
        {"image_embeddings": ("float32", [1, config.prompt_embed_dim, grid, grid]),
         "point_coords": ("float32", ["num_prompts", "num_points", 2]),
         "point_labels": ("float32", ["num_prompts", "num_points"]),
         "mask_input": ("float32", ["num_prompts", 1, low, low]),
         "has_mask_input": ("float32", ["num_prompts"])},
        {"iou_predictions": ("float32", ["num_prompts", config.num_mask_tokens]),
         "low_res_masks": ("float32", ["num_prompts", config.num_mask_tokens, low, low])},
    )


def _export(
    module: torch.nn.Module,
    example: tuple[torch.Tensor, ...],
    path: Path,
    opset: int,
    input_names: tuple[str, ...],
    output_names: tuple[str, ...],
    dynamic_shapes: dict[str, Any],
) -> None:
    module = module.eval()
    weight_bytes = sum(p.numel() * p.element_size() for p in module.parameters())
    with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(open(os.devnull, "w")):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module, example, dynamo=True, opset_version=opset, input_names=list(input_names),
            output_names=list(output_names), dynamic_shapes=dynamic_shapes, optimize=True, verbose=False,
        )
    program.save(str(path), external_data=weight_bytes > EXTERNAL_DATA_BYTES)
    check_standard_ops(path)


def _graph_entry(path: Path) -> dict[str, Any]:
    files = sorted(p for p in path.parent.iterdir() if p.name == path.name or p.name.startswith(path.name + "."))
    return {"file": path.name, "sha256": {p.name: sha256_file(p) for p in files}, **describe_io(path)}
