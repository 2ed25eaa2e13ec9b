"""`sam-trt bench`: latency per stage and accuracy (mIoU, fidelity) of backends side by side."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from ..errors import BackendError, InputError
from .args import add_model_args


def _size(text: str) -> tuple[int, int]:
    """'720x1280' -> (720, 1280)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r} must be HxW in pixels, e.g. 720x1280") from None
    if h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError(f"size {text!r} must be positive")
    return h, w


def _batches(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"batches {text!r} must be positive integers, e.g. 1,4,16,64")
    return values


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def _common(parser: argparse.ArgumentParser, output: str) -> None:
    add_model_args(parser)  # --model-type and --device; --checkpoint and --backend are widened below
    parser.add_argument("--model", "--checkpoint", dest="model", default="demo",
                        help="'demo' (the bundled model, default), a checkpoint (.pth/.safetensors) or an export "
                             "folder")
    parser.add_argument("--backend", default=None, metavar="LIST",
                        help="comma-separated backends, each name[:precision][@model]: torch, ort, trt; @model "
                             "gives that system its own export folder or checkpoint, e.g. ort,ort@exports/demo-fp16 "
                             "(default: torch,ort for the demo, torch for a checkpoint, ort for an export folder)")
    parser.add_argument("--random-weights", default=None, metavar="MODEL_TYPE",
                        help="instead of --model: seeded random weights in the official layout, e.g. vit_b "
                             "(speed only; nothing to download)")
    parser.add_argument("--seed", type=int, default=0, help="seed of random weights, the image and the clicks")
    parser.add_argument("--threads", type=_positive, default=None,
                        help="torch intra-op threads and onnxruntime threads per session (default: each library's)")
    parser.add_argument("--output", default=output, help=f"folder to write (default: {output})")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="latency and accuracy benchmarks of backends side by side")
    verbs = parser.add_subparsers(dest="bench", required=True, metavar="{latency,accuracy}")
    lat = verbs.add_parser("latency", conflict_handler="resolve",
                           help="latency per stage (preprocess, encoder, decoder per prompt batch, postprocess, "
                                "end to end)")
    _common(lat, "runs/bench_latency")
    lat.add_argument("--repeats", type=_positive, default=20, help="timed runs of every stage (default 20)")
    lat.add_argument("--encoder-repeats", type=_positive, default=None,
                     help="timed runs of the encoder and end-to-end stages (default: --repeats)")
    lat.add_argument("--warmup", type=_positive, default=2, help="untimed runs of every stage first (default 2)")
    lat.add_argument("--prime", type=int, default=2,
                     help="untimed calls right before each timed call of a stage under 0.5 s (default 2): wakes "
                          "the system's thread pool")
    lat.add_argument("--settle", type=float, default=0.05, metavar="SECONDS",
                     help="pause before those calls (default 0.05): the previous system's thread pool goes quiet")
    lat.add_argument("--batches", type=_batches, default=(1, 4, 16, 64), help="decoder prompt batches (1,4,16,64)")
    lat.add_argument("--image", default=None, help="image to time on (default: a generated scene of --image-size)")
    lat.add_argument("--image-size", type=_size, default=(720, 1280), help="generated image HxW (720x1280)")
    lat.add_argument("--baseline-official", action="store_true",
                     help="add the official segment-anything package on the same weights as a row")
    lat.set_defaults(run=run_latency)
    acc = verbs.add_parser("accuracy", conflict_handler="resolve",
                           help="GT-box / click mIoU per COCO area bucket, and fidelity against a reference")
    _common(acc, "runs/bench_accuracy")
    acc.add_argument("--dataset", default=None,
                     help="COCO annotations .json or a folder with annotations.json (default: a generated dataset)")
    acc.add_argument("--images", default=None, help="image folder (default: images/ beside the json, or its folder)")
    acc.add_argument("--max-images", type=_positive, default=None, help="evaluate the first N images only")
    acc.add_argument("--max-objects", type=_positive, default=None, help="at most N objects per image")
    acc.add_argument("--clicks", type=_positive, default=1, help="clicks of the iterative protocol (default 1)")
    acc.add_argument("--reference", default="auto",
                     help="fidelity reference: a backend (torch, torch:fp16, ort), 'none', or 'auto' (torch when "
                          "torch and another backend run)")
    acc.add_argument("--chunk", type=_positive, default=16, help="prompts per decoder call (default 16)")
    acc.add_argument("--synthetic-scenes", type=_positive, default=24, help="generated dataset: scenes (24)")
    acc.add_argument("--synthetic-size", type=_size, default=(512, 512), help="generated dataset: HxW (512x512)")
    acc.add_argument("--synthetic-style", choices=("train", "alt"), default="train", help="generated scene style")
    acc.add_argument("--cache-dir", default=None, help="where the generated dataset is kept (default ~/.cache/sam-trt)")
    acc.add_argument("--strict", action="store_true", help="exit 1 when a backend fails the fidelity gate")
    acc.set_defaults(run=run_accuracy)


def _source(args: argparse.Namespace) -> tuple[Any, list[Any]]:
    from ..bench.models import ModelSource, parse_backend_list

    specs = parse_backend_list(args.backend) if args.backend is not None else None
    source = ModelSource(args.model, args.model_type, args.random_weights, args.seed, args.device, args.threads)
    specs = specs or source.default_backends()
    if args.threads is not None and (any(s.name == "torch" for s in specs) or getattr(args, "baseline_official", 0)):
        import torch

        torch.set_num_threads(args.threads)
    return source, specs


def _preload(specs: list[Any], official: bool = False) -> None:
    """Import the libraries first, so their own memory is not charged to the first system measured."""
    if official or any(s.name == "torch" for s in specs):
        import torch  # noqa: F401
    if any(s.name == "ort" for s in specs):
        import onnxruntime  # noqa: F401


def _finish(results: dict[str, Any], args: argparse.Namespace, source: Any) -> None:
    from ..bench.machine import machine_info

    from_shell = sys.argv[1:3] == ["bench", args.bench]
    results["command"] = ("sam-trt " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if from_shell
                          else f"sam-trt bench {args.bench} (called from Python; see arguments)")
    results["arguments"] = {k: v for k, v in vars(args).items() if k != "run"}
    results["model"] = source.describe()
    results["machine"] = machine_info()


def run_latency(args: argparse.Namespace) -> int:
    from ..bench import plots
    from ..bench.latency import LatencySettings, run_latency
    from ..bench.report import check_output, json_writer, latency_markdown, text_writer, write_output_folder
    from ..bench.subjects import BackendSubject, OfficialSubject

    check_output(args.output, args.overwrite)
    source, specs = _source(args)
    try:
        _preload(specs, args.baseline_official)
        source.prepare(specs, official=args.baseline_official)
        factories = {s.label: (lambda image, clicks, s=s: BackendSubject(s.label, source.load(s), image, clicks))
                     for s in specs}
        if args.baseline_official:
            from ..bench.official import import_official

            import_official()
            factories["official"] = lambda image, clicks: OfficialSubject("official", source.official_model(),
                                                                          image, clicks)
        settings = LatencySettings(batches=args.batches, repeats=args.repeats, encoder_repeats=args.encoder_repeats,
                                   warmup=args.warmup, image_size=args.image_size, image=args.image, seed=args.seed,
                                   prime=max(args.prime, 0), settle_s=max(args.settle, 0.0))
        results = run_latency(factories, settings, progress=False if args.no_progress else None)
        _finish(results, args, source)
    finally:
        source.close()
    report = latency_markdown(results)
    write_output_folder(args.output, {
        "results.json": json_writer(results), "report.md": text_writer(report),
        "latency_stages.png": lambda p: plots.latency_stages(p, results),
        "decoder_batches.png": lambda p: plots.decoder_batches(p, results),
    }, args.overwrite)
    print(report.split("## Throughput")[0].rstrip())
    print(f"\nwrote {args.output}/ (results.json, report.md, latency_stages.png, decoder_batches.png)")
    return 0


def run_accuracy(args: argparse.Namespace) -> int:
    from ..bench import plots
    from ..bench.accuracy import AccuracySettings, run_accuracy
    from ..bench.dataset import CocoDataset, synthetic_dataset
    from ..bench.models import parse_backend_list
    from ..bench.report import accuracy_markdown, check_output, json_writer, text_writer, write_output_folder
    from ..predictor import SamPredictor

    check_output(args.output, args.overwrite)
    source, specs = _source(args)
    reference = _reference(args.reference, specs, parse_backend_list)
    if reference is not None and reference not in specs:
        specs = [*specs, reference]
    if args.dataset is None and args.images is not None:
        raise InputError("--images needs --dataset (the generated dataset has its own images)")
    path = args.dataset if args.dataset is not None else synthetic_dataset(
        args.synthetic_scenes, args.synthetic_size, style=args.synthetic_style, cache_dir=args.cache_dir)
    dataset = CocoDataset(path, args.images, args.max_images, args.max_objects)
    try:
        _preload(specs)
        source.prepare(specs)
        predictors = {s.label: SamPredictor(source.load(s)) for s in specs}
        results = run_accuracy(dataset, predictors, None if reference is None else reference.label,
                               AccuracySettings(clicks=args.clicks, chunk=args.chunk),
                               progress=False if args.no_progress else None)
        _finish(results, args, source)
    finally:
        source.close()
    values = results.pop("_fidelity_values")
    report = accuracy_markdown(results)
    files = {"results.json": json_writer(results), "report.md": text_writer(report),
             "iou_histograms.png": lambda p: plots.iou_histograms(p, results),
             "latency_vs_accuracy.png": lambda p: plots.latency_vs_accuracy(p, results)}
    if values:
        files["fidelity_iou.png"] = lambda p: plots.fidelity_histogram(p, values, results["reference"])
    if args.clicks > 1:
        files["clicks.png"] = lambda p: plots.clicks_curve(p, results)
    write_output_folder(args.output, files, args.overwrite)
    print(report.split("## Time during")[0].rstrip())
    print(f"\nwrote {args.output}/ ({', '.join(files)})")
    failed = [label for label, f in results["fidelity"].items() if not f["gate"]["passed"]]
    return 1 if args.strict and failed else 0


def _reference(text: str, specs: list[Any], parse: Any) -> Any:
    if text == "none":
        return None
    if text == "auto":
        torch = next((s for s in specs if s.name == "torch" and s.precision in (None, "fp32")), None)
        return torch if torch is not None and len(specs) > 1 else None
    found = parse(text)
    if len(found) != 1:
        raise BackendError(f"--reference takes one backend, got {text!r}")
    return found[0]
