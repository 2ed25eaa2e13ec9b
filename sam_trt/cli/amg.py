"""`sam-trt amg`: segment everything in images (the official scripts/amg.py, on any backend)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import InputError
from .args import add_model_args, load_predictor

# Flags of the official script's "AMG Settings" group -> (type, help); unset means the generator default.
AMG_FLAGS = {
    "points_per_side": (int, "points sampled along one side of the image (total: its square)"),
    "points_per_batch": (int, "points the decoder runs at once"),
    "pred_iou_thresh": (float, "keep masks whose predicted IoU is above this (0 disables)"),
    "stability_score_thresh": (float, "keep masks whose stability score is at least this (0 disables)"),
    "stability_score_offset": (float, "logit offset of the stability score"),
    "box_nms_thresh": (float, "box IoU above which duplicate masks of a crop are removed"),
    "crop_n_layers": (int, "if > 0, run again on crops of the image: layer i has (2^i)^2 crops"),
    "crop_nms_thresh": (float, "box IoU above which duplicates between crops are removed"),
    "crop_overlap_ratio": (float, "overlap of first-layer crops, as a fraction of the short side"),
    "crop_n_points_downscale_factor": (int, "layer i samples points_per_side / factor^i points a side"),
    "min_mask_region_area": (int, "fill holes and remove islands smaller than this (pixels)"),
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "amg", help="segment everything: masks for all objects of images (the official scripts/amg.py)",
        description="Generate masks for every object of an image or a folder of images. Output per image: a "
                    "folder of {i}.png masks + metadata.csv (official layout), or with --convert-to-rle one "
                    "SA-1B style JSON {\"image\": ..., \"annotations\": [...]} with COCO RLE masks.")
    parser.add_argument("--input", required=True, help="an image, or a folder of images")
    parser.add_argument("--output", required=True, help="folder for the results (created if needed)")
    parser.add_argument("--convert-to-rle", action="store_true",
                        help="write one JSON per image with COCO RLE masks instead of PNG folders")
    parser.add_argument("--recursive", action="store_true", help="also read the images of sub-folders")
    parser.add_argument("--extensions", default=None, metavar="EXT[,EXT...]",
                        help="only read files with these extensions, e.g. jpg,png (default: every file)")
    parser.add_argument("--overwrite", action="store_true", help="replace the results of earlier runs")
    parser.add_argument("--overlay", action="store_true",
                        help="also write <name>.overlay.png beside each result: every mask coloured over the image")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_model_args(parser)
    group = parser.add_argument_group("AMG Settings", "unset: the generator's default (for --checkpoint demo: the "
                                      "demo settings, sam_trt.amg.DEMO_AMG_SETTINGS)")
    for name, (kind, text) in AMG_FLAGS.items():
        group.add_argument("--" + name.replace("_", "-"), type=kind, default=None, help=text)
    parser.set_defaults(run=run)


def list_inputs(source: Path, recursive: bool, extensions: str | None, exclude: Path) -> list[Path]:
    """The files to read: `source` itself, or the files of the folder (sorted), under the filters."""
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise InputError(f"input not found: {source} (give an image file or a folder of images)")
    wanted = None if extensions is None else {"." + e.strip().lower().lstrip(".") for e in extensions.split(",")}
    files = []
    for root, dirs, names in os.walk(source):
        root_path = Path(root)
        dirs[:] = sorted(d for d in dirs if recursive and not _inside(root_path / d, exclude))
        files += [root_path / n for n in sorted(names) if wanted is None or Path(n).suffix.lower() in wanted]
    if not files:
        which = "" if wanted is None else f" with extension {', '.join(sorted(wanted))}"
        raise InputError(f"no files{which} in {source}" + ("" if recursive else " (use --recursive for sub-folders)"))
    return files


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve() == folder or folder in path.resolve().parents


def output_paths(files: list[Path], source: Path, output: Path, rle: bool) -> list[Path]:
    """Per input: output/<relative folder>/<name without extension>[.json]; two inputs may not share one."""
    base = source if source.is_dir() else source.parent
    paths = [output / f.relative_to(base).parent / (f.stem + (".json" if rle else "")) for f in files]
    seen: dict[Path, Path] = {}
    for f, p in zip(files, paths):
        if p in seen:
            raise InputError(f"{seen[p]} and {f} would both write {p}; rename one or filter with --extensions")
        seen[p] = f
    return paths


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..amg import DEMO_AMG_SETTINGS, SamAutomaticMaskGenerator
    from ..amg.writers import records_overlay, write_mask_folder, write_sa1b_json
    from ..files import read_image_rgb, write_image

    source, output = Path(args.input), Path(args.output)
    files = list_inputs(source, args.recursive, args.extensions, output.resolve())
    targets = output_paths(files, source, output, args.convert_to_rle)
    existing = [t for t in targets if t.exists()]
    if existing and not args.overwrite:
        raise InputError(f"{existing[0]} already exists ({len(existing)} of {len(targets)} outputs do); "
                         "pass --overwrite to replace them, or choose another --output")
    settings = {name: getattr(args, name) for name in AMG_FLAGS if getattr(args, name) is not None}
    if args.checkpoint == "demo":  # the ViT-H defaults keep almost no mask of the small demo model
        settings = {**DEMO_AMG_SETTINGS, **settings}
        print("demo model: " + ", ".join(f"{k}={v}" for k, v in settings.items() if k in DEMO_AMG_SETTINGS))
    predictor = load_predictor(args)
    generator = SamAutomaticMaskGenerator(predictor.backend, output_mode="coco_rle" if args.convert_to_rle
                                          else "binary_mask", **settings)
    output.mkdir(parents=True, exist_ok=True)
    done = masks = 0
    skipped: list[Path] = []
    bar = tqdm(list(zip(files, targets)), unit="image", disable=args.no_progress)
    for path, target in bar:
        try:
            image = read_image_rgb(path, fix="skipping it")
        except InputError as exc:  # unreadable or over the pixel limit: the other images still run
            skipped.append(path)
            tqdm.write(str(exc))
            continue
        records = generator.generate(image)
        if args.convert_to_rle:
            info = {"width": image.shape[1], "height": image.shape[0], "file_name": path.name}
            write_sa1b_json(target, records, info, overwrite=args.overwrite)
        else:
            write_mask_folder(target, records, overwrite=args.overwrite)
        if args.overlay:
            name = target.name[: -len(".json")] if args.convert_to_rle else target.name
            write_image(target.with_name(name + ".overlay.png"), records_overlay(image, records))
        done += 1
        masks += len(records)
    bar.close()
    note = f"; skipped {len(skipped)} unreadable file(s)" if skipped else ""
    print(f"wrote {masks} masks of {done} image(s) to {output}{note}")
    if not done:
        print(f"sam-trt amg: error: none of the {len(files)} input file(s) could be read as an image")
        return 1
    return 0
