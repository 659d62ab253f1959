"""Sheets to look at: every drawable of a model highlighted (to write or check its mapping
table), and rendered pictures beside their label maps. The art may not be redistributed: keep
the sheets local.

    python -m animeparse.live2d.sheet drawables shizuku --out sheets/    # one page per 36 drawables
    python -m animeparse.live2d.sheet renders --num 24 --out sheets/     # pictures and labels
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from animeparse.labels import SCHEMA_16
from animeparse.live2d.characters import Character, available_models, install
from animeparse.live2d.raster import draw_meshes, mip_chain
from animeparse.live2d.scene import render

TILE = 150
PER_PAGE = 36


def drawable_pages(model: str, cache: Path, size: int = 900) -> list[Image.Image]:
    """Tiles of each drawable (first pose it shows in: neutral, then motion frames and pose-group
    alternatives): the crop around it, and the same crop with its visible pixels in red and its
    hidden ones in blue, titled with its id, part and class."""
    char = Character(model, cache)
    rig = char.rig
    w, h = rig.canvas
    s = size / max(w, h)
    to_pic = np.array([[s, 0, (size - w * s) / 2], [0, s, (size - h * s) / 2]], np.float32)
    textures = [mip_chain(t) for t in rig.textures]
    tiles: dict[str, Image.Image] = {}
    poses = [(None, 0, 0)] + [(m, f, g) for m in range(len(rig.motions)) for f in (0, 40) for g in (0, 1)]
    for motion, frame, group in poses:
        rig.reset()
        rig.show_pose([group] * len(rig.pose_groups))
        if motion is not None:
            rig.apply_motion_frame(motion, frame)
        meshes = rig.meshes()
        new = [m for m in meshes if m.id not in tiles]
        if not new:
            continue
        index = {m.id: i for i, m in enumerate(meshes)}
        layer = draw_meshes(meshes, textures, to_pic, (size, size), lambda m: index[m.id])
        base = np.clip((layer.color + (1 - layer.alpha[..., None])) * 255, 0, 255)
        for m in new:
            solo = draw_meshes([replace(m, clip=())], textures, to_pic, (size, size), lambda _: 0)  # unmasked extent
            ys, xs = np.nonzero(solo.alpha > 0.3)
            if len(xs) == 0:
                continue
            cx, cy = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2
            half = max(xs.max() - xs.min(), ys.max() - ys.min(), size * 0.12) * 0.7
            box = (int(cx - half), int(cy - half), int(cx + half), int(cy + half))
            marked = base.copy()
            shown = layer.label == index[m.id]
            hidden = (solo.alpha > 0.5) & ~shown
            marked[shown] = marked[shown] * 0.3 + np.array([255, 0, 0]) * 0.7
            marked[hidden] = marked[hidden] * 0.3 + np.array([0, 0, 255]) * 0.7
            t = Image.new("RGB", (2 * TILE, TILE + 20), "white")
            for k, pic in enumerate((base, marked)):
                t.paste(Image.fromarray(pic.astype(np.uint8)).crop(box).resize((TILE, TILE)), (k * TILE, 20))
            word = char.table.entry(m.id, m.part)
            ImageDraw.Draw(t).text((2, 2), f"{m.id}  {m.part}  -> {word}", fill=(0, 0, 0))
            tiles[m.id] = t
    never = [d for d, _ in rig.drawable_ids() if d not in tiles]
    if never:
        print(f"{model}: never visible in these poses: {', '.join(never)}")
    return _pages(list(tiles.values()), cols=6)


def _pages(tiles: list[Image.Image], cols: int) -> list[Image.Image]:
    pages = []
    for start in range(0, len(tiles), PER_PAGE):
        chunk = tiles[start:start + PER_PAGE]
        tw, th = chunk[0].size
        rows = (len(chunk) + cols - 1) // cols
        page = Image.new("RGB", (cols * tw, rows * th), "white")
        for i, t in enumerate(chunk):
            page.paste(t, ((i % cols) * tw, (i // cols) * th))
        pages.append(page)
    return pages


def render_pages(models: list[str], num: int, size: int, cache: Path, photos: str | None) -> list[Image.Image]:
    """Rendered pictures beside their colored label maps (white: ignore)."""
    tiles = []
    for seed in range(num):
        sample = render(seed, size, tuple(models), str(cache), photos)
        label = SCHEMA_16.colorize(np.asarray(sample.label))
        pair = Image.fromarray(np.concatenate([np.asarray(sample.image), label], axis=1))
        ImageDraw.Draw(pair).text((3, 3), f"{seed} {sample.style} {sample.tags['character']}", fill=(255, 0, 0))
        tiles.append(pair)
    return _pages(tiles, cols=3)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m animeparse.live2d.sheet", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    d = sub.add_parser("drawables", help="every drawable of one model, highlighted")
    d.add_argument("model", choices=available_models())
    r = sub.add_parser("renders", help="rendered pictures beside their label maps")
    r.add_argument("--models", nargs="+", default=available_models(), choices=available_models())
    r.add_argument("--num", type=int, default=24, help="pictures (default 24)")
    r.add_argument("--size", type=int, default=320, help="picture side (default 320)")
    r.add_argument("--photos", help="folder of background photographs")
    for q in (d, r):
        q.add_argument("--out", type=Path, required=True, help="folder for the PNG pages")
        q.add_argument("--cache", type=Path, default=None, help="Live2D package cache (default: see characters.py)")
    args = p.parse_args(argv)
    if args.what == "drawables":
        name, pages = args.model, drawable_pages(args.model, install([args.model], args.cache))
    else:
        name, pages = "renders", render_pages(args.models, args.num, args.size, install(args.models, args.cache), args.photos)
    args.out.mkdir(parents=True, exist_ok=True)
    for i, page in enumerate(pages):
        page.save(args.out / f"{name}_{i}.png")
    print(f"wrote {len(pages)} page(s) to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
