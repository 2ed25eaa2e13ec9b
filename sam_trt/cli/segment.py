"""`sam-trt segment`: segment one image from point/box prompts and write an overlay PNG."""

from __future__ import annotations

import argparse

import numpy as np

from ..errors import InputError
from ..files import read_image_rgb, write_image
from ..visualize import draw_prompts, overlay_masks
from .args import add_model_args, load_predictor, parse_box, parse_point, read_prompt_file


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("segment", help="segment an image from clicks or a box, write an overlay PNG")
    parser.add_argument("--image", default=None,
                        help="input image (PNG, JPEG, ...); default: the bundled sample scene with its prompts")
    parser.add_argument("--point", type=parse_point, action="append", default=[], metavar="X,Y[,LABEL]",
                        help="a click in pixels; label 1 foreground (default) or 0 background; repeatable")
    parser.add_argument("--box", type=parse_box, default=None, metavar="X0,Y0,X1,Y1", help="a box prompt")
    parser.add_argument("--prompts", default=None,
                        help='JSON file {"points": [[x, y, label], ...], "box": [x0, y0, x1, y1]}')
    parser.add_argument("--output", default="segment.png", help="overlay PNG to write (default: segment.png)")
    parser.add_argument("--mask-output", default=None, help="also write the binary mask as a PNG (0/255)")
    add_model_args(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..demo import SAMPLE_IMAGE, SAMPLE_PROMPTS

    if args.image is None:
        args.image = SAMPLE_IMAGE
        if not args.point and args.box is None and args.prompts is None:
            args.prompts = SAMPLE_PROMPTS
    if args.prompts is not None:
        points, box = read_prompt_file(args.prompts)
        args.point = args.point + points
        args.box = args.box if args.box is not None else box
    if not args.point and args.box is None:
        raise InputError("give at least one --point x,y, a --box x0,y0,x1,y1 or --prompts FILE")
    image = read_image_rgb(args.image)
    predictor = load_predictor(args)
    predictor.set_image(image)
    points = np.array([p[:2] for p in args.point]) if args.point else None
    labels = np.array([p[2] for p in args.point]) if args.point else None
    box = np.array(args.box) if args.box is not None else None
    # One click is ambiguous: take the best of the three multimask outputs; otherwise token 0.
    multimask = box is None and len(args.point) == 1
    masks, scores, _ = predictor.predict(point_coords=points, point_labels=labels, box=box,
                                         multimask_output=multimask)
    best = int(np.argmax(scores))
    picture = draw_prompts(overlay_masks(image, masks[best : best + 1]), points, labels, box)
    write_image(args.output, picture)
    if args.mask_output:
        write_image(args.mask_output, masks[best].astype(np.uint8) * 255)
    print(f"wrote {args.output} (mask area {int(masks[best].sum())} px, predicted IoU {scores[best]:.3f})")
    return 0
