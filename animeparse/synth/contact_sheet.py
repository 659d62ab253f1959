"""A contact sheet of rendered pictures beside their color-coded labels, with a class legend.

    python -m animeparse.synth.contact_sheet --num 24 --seed 0 --out docs/synth_contact_sheet.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from animeparse.labels import SCHEMA_16, Schema
from animeparse.synth.batch import RenderPool
from animeparse.synth.scene import MAX_SIZE, MIN_SIZE, STYLES, Sample

CAPTION = 16  # pixels of caption under each tile
GAP = 4


def tile(sample: Sample, side: int, schema: Schema = SCHEMA_16) -> Image.Image:
    """The picture and its labels side by side, ``side`` pixels tall, with a caption."""
    caption = f"{sample.seed}: {sample.difficulty}, {sample.style}, {sample.num_characters} char."
    return panel(sample.image, [np.asarray(sample.label)], caption, side, schema)


def panel(image: Image.Image, label_maps: list[np.ndarray], caption: str, side: int, schema: Schema = SCHEMA_16) -> Image.Image:
    """A picture and color-coded label maps in a row, each ``side`` pixels square, with a caption."""
    out = Image.new("RGB", ((1 + len(label_maps)) * side, side + CAPTION), (255, 255, 255))
    out.paste(image.resize((side, side), Image.LANCZOS), (0, 0))
    # Labels are scaled with nearest neighbour: an averaged class color would mean nothing.
    for k, labels in enumerate(label_maps, start=1):
        out.paste(Image.fromarray(schema.colorize(labels)).resize((side, side), Image.NEAREST), (k * side, 0))
    ImageDraw.Draw(out).text((3, side + 2), caption, fill=(40, 40, 40), font=ImageFont.load_default(size=CAPTION - 4))
    return out


def legend(schema: Schema, width: int) -> Image.Image:
    font = ImageFont.load_default(size=14)
    per_row = max(1, width // 150)
    rows = -(-schema.num_classes // per_row)
    out = Image.new("RGB", (width, rows * 22 + 6), (255, 255, 255))
    d = ImageDraw.Draw(out)
    for i, (name, color) in enumerate(zip(schema.names, schema.palette)):
        x, y = 6 + (i % per_row) * (width // per_row), 4 + (i // per_row) * 22
        d.rectangle([x, y, x + 16, y + 16], fill=color, outline=(0, 0, 0))
        d.text((x + 22, y + 1), f"{i} {name}", fill=(0, 0, 0), font=font)
    return out


def contact_sheet(samples: list[Sample], columns: int, side: int, schema: Schema = SCHEMA_16) -> Image.Image:
    return grid([tile(s, side, schema) for s in samples], columns, schema)


def grid(tiles: list[Image.Image], columns: int, schema: Schema = SCHEMA_16) -> Image.Image:
    """Equal-sized tiles in rows of ``columns``, with the schema's legend below."""
    w, h = tiles[0].size
    rows = -(-len(tiles) // columns)
    width = columns * (w + GAP) + GAP
    key = legend(schema, width)
    sheet = Image.new("RGB", (width, rows * (h + GAP) + GAP + key.height), (255, 255, 255))
    for i, t in enumerate(tiles):
        sheet.paste(t, (GAP + (i % columns) * (w + GAP), GAP + (i // columns) * (h + GAP)))
    sheet.paste(key, (0, rows * (h + GAP) + GAP))
    return sheet


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--num", type=int, default=24, help="pictures on the sheet (default 24)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first picture; the others follow (default 0)")
    p.add_argument("--size", type=int, default=512, help=f"render size in pixels, {MIN_SIZE} to {MAX_SIZE} (default 512)")
    p.add_argument("--tile", type=int, default=200, help="height of each picture on the sheet in pixels (default 200)")
    p.add_argument("--columns", type=int, default=4, help="picture/label pairs per row (default 4)")
    p.add_argument("--style", choices=STYLES, help="render every picture in this style (default: each seed's own)")
    p.add_argument("--workers", type=int, default=2, help="rendering processes (default 2)")
    p.add_argument("--out", type=Path, required=True, help="PNG file to write")
    args = p.parse_args(argv)
    for name, low in (("num", 1), ("tile", 32), ("columns", 1), ("workers", 1)):
        if getattr(args, name) < low:
            p.error(f"--{name} {getattr(args, name)}: must be at least {low}")
    if args.seed < 0:
        p.error(f"--seed {args.seed}: must be 0 or more")
    if not MIN_SIZE <= args.size <= MAX_SIZE:
        p.error(f"--size {args.size}: must be from {MIN_SIZE} to {MAX_SIZE}")
    if args.out.suffix.lower() != ".png":
        p.error(f"--out {args.out}: must be a .png file")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    controls = {"style": args.style} if args.style else {}
    with RenderPool(args.workers) as pool:
        samples = list(pool.samples(range(args.seed, args.seed + args.num), args.size, **controls))
    sheet = contact_sheet(samples, args.columns, args.tile)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height}, {args.out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
