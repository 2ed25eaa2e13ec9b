"""What a benchmark runs: the model source (demo, checkpoint, export folder, random weights) and the list of
backends ("torch,ort", "torch:fp16"), loaded through `load_backend` with the same weights for all of them."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import KNOWN_CONFIGS, SamConfig
from ..errors import BackendError
from ..runtime.base import SamBackend
from ..runtime.loader import CHECKPOINT_SUFFIXES, DEMO, load_backend

BENCH_BACKENDS = ("torch", "ort", "trt")
PRECISIONS = ("fp32", "fp16", "bf16", "int8", "fp8")


@dataclass(frozen=True)
class BackendSpec:
    """One system to measure: a backend name, optionally the precision asked of it, and optionally its own
    model (`source`: e.g. a precision variant's export folder) instead of the run's --model."""

    name: str
    precision: str | None = None
    source: str | None = None

    @property
    def label(self) -> str:
        label = self.name if self.precision is None else f"{self.name}:{self.precision}"
        return label if self.source is None else f"{label}@{Path(self.source).name}"


def parse_backend_list(text: str) -> list[BackendSpec]:
    """'torch,ort', 'torch,torch:fp16' or 'ort,ort@exports/demo-fp16' (name[:precision][@model]) -> specs;
    unknown names or precisions are a one-line BackendError."""
    specs = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        head, _, source = item.partition("@")
        name, _, precision = head.partition(":")
        if name not in BENCH_BACKENDS:
            raise BackendError(f"unknown backend {name!r}; choose from {', '.join(BENCH_BACKENDS)} "
                               "(comma-separated, optionally name:precision, e.g. torch,ort or torch:fp16)")
        if precision and precision not in PRECISIONS:
            raise BackendError(f"unknown precision {precision!r} in {item!r}; choose from {', '.join(PRECISIONS)}")
        if "@" in item and not source:
            raise BackendError(f"{item!r}: give a model after @, e.g. ort@exports/demo-fp16")
        spec = BackendSpec(name, precision or None, source or None)
        if spec in specs:
            raise BackendError(f"backend {spec.label} is listed twice")
        specs.append(spec)
    if not specs:
        raise BackendError("no backend given; e.g. --backend torch,ort")
    return specs


class ModelSource:
    """The weights every backend of a run shares.

    model: "demo", a checkpoint (.pth/.pt/.safetensors) or an export folder; random_weights: a model type
    (e.g. vit_b) to build with seeded random weights in the official layout instead (speed only: no download
    needed). A checkpoint or random model that an ONNX Runtime backend asks for is exported once to a
    temporary folder (removed by `close`).
    """

    def __init__(self, model: str = DEMO, model_type: str | None = None, random_weights: str | None = None,
                 seed: int = 0, device: str | None = None, threads: int | None = None,
                 log: Callable[[str], object] = print) -> None:
        self.model, self.model_type, self.seed, self.log = str(model), model_type, seed, log
        self.random_weights, self.threads = random_weights, threads
        self._device = device
        self._sam: Any = None
        self._export: Path | None = None
        self._tmp: Path | None = None
        if random_weights is not None:
            if model != DEMO:
                raise BackendError("give either --model or --random-weights, not both")
            if random_weights not in KNOWN_CONFIGS or random_weights == "demo":
                raise BackendError(f"--random-weights needs a model type: one of "
                                   f"{', '.join(k for k in KNOWN_CONFIGS if k != 'demo')}")
            self.kind, self.model_type = "random", random_weights
        elif self.model == DEMO:
            self.kind = "demo"
        else:
            path = Path(self.model)
            if path.is_dir():
                self.kind = "export"
            elif path.is_file() and path.suffix in CHECKPOINT_SUFFIXES:
                self.kind = "checkpoint"
            elif not path.exists():
                raise BackendError(f"model not found: {path} (give 'demo', a checkpoint file or an export folder)")
            else:
                raise BackendError(f"{path} is neither an export folder nor a checkpoint "
                                   f"({', '.join(CHECKPOINT_SUFFIXES)})")

    @property
    def label(self) -> str:
        if self.kind == "random":
            return f"random {self.model_type} weights (seed {self.seed})"
        return self.model

    @property
    def device(self) -> str:
        """torch device for torch backends: --device, else cuda when available."""
        if self._device is None:
            import torch

            self._device = "cuda" if torch.cuda.is_available() else "cpu"
        return self._device

    def default_backends(self) -> list[BackendSpec]:
        """demo: torch and ort side by side; a checkpoint or random weights: torch; an export folder: ort."""
        if self.kind == "demo":
            return [BackendSpec("torch"), BackendSpec("ort")]
        return [BackendSpec("ort" if self.kind == "export" else "torch")]

    def torch_model(self) -> Any:
        """sam-trt's torch `Sam` for this source (built once, on the CPU until a backend moves it)."""
        if self._sam is None:
            from ..modeling import build_sam_from_config, sam_model_registry
            from ..runtime.loader import build_from_checkpoint

            if self.kind == "demo":
                self._sam = sam_model_registry[DEMO]()
            elif self.kind == "checkpoint":
                self._sam, self.model_type = build_from_checkpoint(Path(self.model), self.model_type)
            elif self.kind == "random":
                import torch

                torch.manual_seed(self.seed)
                self._sam = build_sam_from_config(KNOWN_CONFIGS[self.model_type])
            else:
                raise BackendError(f"{self.model} is an export folder (ONNX): the torch backend and the official "
                                   "baseline need the checkpoint it came from; use --backend ort")
        return self._sam

    def prepare(self, specs: list[BackendSpec], official: bool = False) -> None:
        """Do the one-off work before anything is timed: export to ONNX when an ort backend needs it."""
        if official and self.kind == "export":
            self.torch_model()  # raises the one-line error
        own_model = all(s.source is not None for s in specs if s.name == "ort")
        if not own_model and self.kind in ("checkpoint", "random") and self._export is None:
            from ..export.exporter import export_model

            self._tmp = Path(tempfile.mkdtemp(prefix="sam-trt-bench-"))
            self.log(f"exporting {self.label} to ONNX for the ort backend (one-off, not timed) ...")
            self._export = export_model(self.torch_model(), self._tmp / "export", self.model_type or "custom",
                                        log=lambda _: None)

    def load(self, spec: BackendSpec) -> SamBackend:
        """The backend `spec` over this source's weights (or over spec.source when it names its own)."""
        if spec.source is not None:
            return self._load_own(spec)
        if spec.name == "torch":
            options: dict[str, Any] = {"device": self.device}
            if spec.precision is not None:
                options["precision"] = spec.precision
            return load_backend(self.torch_model(), backend="torch", **options)
        if spec.name == "ort":
            if self.kind in ("checkpoint", "random"):
                self.prepare([spec])
                folder: Any = self._export
            else:
                folder = DEMO if self.kind == "demo" else self.model
            options = {} if self.threads is None else {"threads": self.threads}
            backend = load_backend(folder, backend="ort", **options)
            if spec.precision is not None and spec.precision != backend.precision:
                raise BackendError(f"the ort backend runs the export's precision ({backend.precision}); "
                                   f"{spec.label} needs an export in {spec.precision}")
            return backend
        return load_backend(DEMO if self.kind == "demo" else self.model, backend=spec.name)

    def _load_own(self, spec: BackendSpec) -> SamBackend:
        options: dict[str, Any] = {}
        if spec.name == "torch":
            options["device"] = self.device
            if spec.precision is not None:
                options["precision"] = spec.precision
        elif spec.name == "ort" and self.threads is not None:
            options["threads"] = self.threads
        backend = load_backend(spec.source, backend=spec.name, **options)
        if spec.precision is not None and spec.precision != backend.precision:
            raise BackendError(f"{spec.source} runs in {backend.precision} on {spec.name}, not {spec.precision}")
        return backend

    def config(self) -> SamConfig:
        if self.kind == "export":
            from ..export.manifest import read_manifest

            return read_manifest(self.model).config
        return self.torch_model().config

    def official_model(self) -> Any:
        """The official package's `Sam` with the same weights, on the torch device."""
        from .official import build_official_sam

        sam = self.torch_model()
        return build_official_sam(sam.config, sam.state_dict(), self.device)

    def describe(self) -> dict[str, Any]:
        config = self.config()
        model_type = self.model_type
        if model_type is None and self.kind == "export":
            from ..export.manifest import read_manifest

            model_type = read_manifest(self.model).model_type
        extra = {}
        if self.kind == "demo":  # the demo weights are retrained now and then: say which ones were measured
            from ..demo import DEMO_WEIGHTS
            from ..export.manifest import sha256_file

            extra["weights_sha256"] = sha256_file(DEMO_WEIGHTS)
        return {**extra, "source": self.label, "kind": self.kind, "model_type": model_type or self.kind,
                "image_size": config.image_size, "config": config.to_dict(),
                "seed": self.seed if self.kind == "random" else None}

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
            self._export = None
