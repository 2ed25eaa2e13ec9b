"""python -m sam_trt.data coco OUT --num 100 [--seed 0 --size 256 256 --style train|alt --format png|jpg]
python -m sam_trt.data video OUT [--seed 0 --frames 24 --size 240 320 --style train|alt --no-mp4]"""

from __future__ import annotations

import argparse
import sys

from .scenes import STYLES
from .writers import write_coco, write_video


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sam_trt.data", description="Write generated scenes.")
    sub = ap.add_subparsers(dest="kind", required=True)
    coco = sub.add_parser("coco", help="a COCO instance dataset (images/ + annotations.json, RLE masks)")
    coco.add_argument("--num", type=int, default=100)
    coco.add_argument("--format", choices=("png", "jpg"), default="png")
    video = sub.add_parser("video", help="a clip: frames/ (+ video.mp4) + annotations.json with track ids")
    video.add_argument("--frames", type=int, default=24)
    video.add_argument("--no-mp4", action="store_true")
    for p, size in ((coco, (256, 256)), (video, (240, 320))):
        p.add_argument("out")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--size", type=int, nargs=2, default=size, metavar=("H", "W"))
        p.add_argument("--style", choices=STYLES, default="train")
    args = ap.parse_args(argv)
    if args.kind == "coco":
        path = write_coco(args.out, args.num, args.seed, tuple(args.size), args.style, args.format)
    else:
        path = write_video(args.out, args.seed, args.frames, tuple(args.size), args.style, mp4=not args.no_mp4)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
