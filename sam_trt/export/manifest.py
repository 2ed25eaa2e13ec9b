"""manifest.json of an export folder: what the graphs are, how to feed them, and their checksums."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import SamConfig
from ..errors import BackendError

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
ENCODER_INPUT_FORMAT = ("uint8 RGB Bx3xSxS, resized with ResizeLongestSide and zero-padded bottom/right, "
                        "plus input_size Bx2 int32 (h, w) of the resized image; normalisation is inside")


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class ExportManifest:
    """The parsed manifest of an export folder."""

    folder: Path
    data: dict[str, Any]

    @property
    def config(self) -> SamConfig:
        return SamConfig.from_dict(self.data["config"])

    @property
    def model_type(self) -> str:
        return self.data["model_type"]

    def graph_path(self, graph: str) -> Path:
        return self.folder / self.data["graphs"][graph]["file"]

    def graph(self, graph: str) -> dict[str, Any]:
        return self.data["graphs"][graph]

    def verify_checksums(self) -> None:
        """Recompute sha256 of every file the manifest lists (slow for big models: opt-in)."""
        for graph in self.data["graphs"].values():
            for name, expected in graph["sha256"].items():
                if sha256_file(self.folder / name) != expected:
                    raise BackendError(f"{self.folder / name} does not match its checksum in {MANIFEST}; "
                                       "the export is damaged: re-run sam-trt export")


def read_manifest(folder: str | Path) -> ExportManifest:
    """Read and check an export folder's manifest and the presence of every file it lists."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise BackendError(f"{folder} is not a sam-trt export folder (no {MANIFEST}); "
                           "create one with: sam-trt export --checkpoint ... --model-type ... --output DIR")
    try:
        data = json.loads(path.read_text())
        version = int(data["format_version"])
    except (ValueError, KeyError, TypeError):
        raise BackendError(f"{path} is not a valid sam-trt manifest; re-run sam-trt export") from None
    if version != FORMAT_VERSION:
        raise BackendError(f"{folder} was exported by sam-trt {data.get('sam_trt_version', '?')} in manifest format "
                           f"{version}; this sam-trt reads format {FORMAT_VERSION}: re-run sam-trt export")
    manifest = ExportManifest(folder, data)
    for graph in data["graphs"].values():
        for name in graph["sha256"]:
            if not (folder / name).is_file():
                raise BackendError(f"{folder / name} is missing (listed in {MANIFEST}); copy the whole export folder, "
                                   "including any .onnx.data files, or re-run sam-trt export")
    return manifest


def write_manifest(folder: Path, data: dict[str, Any]) -> None:
    (folder / MANIFEST).write_text(json.dumps({"format_version": FORMAT_VERSION, **data}, indent=2) + "\n")
