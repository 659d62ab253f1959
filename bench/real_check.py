"""Real-illustration check: how the models hold up on real anime art they never saw.

Debian's ``renpy-demo`` and ``renpy-thequestion`` packages ship character sprites with
transparency (Sylvie in two outfits, Eileen, Lucy; several expressions) and three concert
scenes, under a free license (see their copyright files). Each sprite is composited on white,
on the packages' own busy backgrounds, on visual-novel screens (a busy background at 16:9, the
sprite standing a third from the left) and turned into line art; its alpha channel is the exact
character-vs-background truth. The check prints foreground IoU per variant and writes
prediction overlays (the concert scenes too, which have no truth) for a person to look at, and
``overview.png``, a few of each kind in one picture.

These images are for checking only: never train or tune on them.

    python bench/real_check.py --out outputs/real_check            # downloads the packages with apt-get
    python bench/real_check.py --renpy DIR --out outputs/real_check  # DIR: where the .debs were unpacked
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from animeparse.augment import to_lineart
from animeparse.branches import ENSEMBLE, USES
from animeparse.drawing import overlay
from animeparse.inference import DEFAULT_MODEL_A, DEFAULT_MODEL_B, load_branches, predict

PACKAGES = ("renpy-demo", "renpy-thequestion")
SPRITES = ("sylvie", "eileen", "lucy")
ALPHA_THRESHOLD = 128
"""Alpha above this counts as character; sprite edges are antialiased."""
VARIANTS = ("white", "busy", "screen", "lineart")
"""The pictures made of each sprite, as scored: ``busy`` and ``screen`` once per background."""


def unpack_packages(dest: Path) -> Path:
    """``apt-get download`` both packages and unpack them (no install) under ``dest``."""
    for name in PACKAGES:
        subprocess.run(["apt-get", "download", name], cwd=dest, check=True, capture_output=True)
    for deb in dest.glob("*.deb"):
        subprocess.run(["dpkg", "-x", str(deb), str(dest / "root")], check=True)
    return dest / "root"


def find_images(root: Path) -> tuple[list[Path], list[Path], list[Path]]:
    images = sorted(root.rglob("game/images/*"))
    sprites = [p for p in images if p.suffix == ".png" and p.name.split()[0] in SPRITES]
    backgrounds = [p for p in images if p.name.startswith("bg ") and p.suffix in (".jpg", ".png")]
    concerts = [p for p in images if p.name.startswith("concert")]
    if not sprites:
        raise SystemExit(f"no character sprites found under {root}; is it the unpacked renpy packages?")
    return sprites, backgrounds, concerts


def placement(sprite: Image.Image, size: tuple[int, int] | None, left: int | None) -> tuple[tuple[int, int], tuple[int, int]]:
    """The canvas ``size`` (width, height; default a square of the sprite's longer side) and where
    the sprite's top left goes: ``left`` from the left edge (default centered), its feet at the bottom."""
    width, height = size or (max(sprite.size),) * 2
    return (width, height), ((width - sprite.width) // 2 if left is None else left, height - sprite.height)


def on_canvas(sprite: Image.Image, background: Image.Image | None, size: tuple[int, int] | None = None,
              left: int | None = None) -> Image.Image:
    """The sprite on a canvas (white, or ``background`` scaled to cover it, its top left kept),
    placed by :func:`placement`."""
    (width, height), at = placement(sprite, size, left)
    if background is None:
        canvas = Image.new("RGB", (width, height), "white")
    else:
        scale = max(width / background.width, height / background.height)
        bg = background.convert("RGB").resize((round(background.width * scale), round(background.height * scale)))
        canvas = bg.crop((0, 0, width, height))
    canvas.paste(sprite, at, sprite)
    return canvas


def truth_mask(sprite: Image.Image, size: tuple[int, int] | None = None, left: int | None = None) -> np.ndarray:
    """Where the sprite is opaque on the canvas of :func:`on_canvas` with the same placement."""
    (width, height), at = placement(sprite, size, left)
    alpha = Image.new("L", (width, height), 0)
    alpha.paste(sprite.getchannel("A"), at)
    return np.asarray(alpha) > ALPHA_THRESHOLD


def screen_placement(sprite: Image.Image) -> tuple[tuple[int, int], int]:
    """A visual-novel screen: the canvas size, 16:9 at the sprite's height, and the sprite's left
    edge, standing a third from the left (wider than 2:1 would not be framed as it is)."""
    size = (round(sprite.height * 16 / 9), sprite.height)
    return size, size[0] // 3 - sprite.width // 2


def variants(sprite: Image.Image, backgrounds: list[Image.Image]) -> dict[str, tuple[Image.Image, np.ndarray]]:
    """Each picture made of the sprite (named by its variant, and background number) with its truth."""
    white, square = on_canvas(sprite, None), truth_mask(sprite)
    size, left = screen_placement(sprite)
    wide = truth_mask(sprite, size, left)
    out = {"white": (white, square), "lineart": (to_lineart(white), square)}
    for i, bg in enumerate(backgrounds):
        out[f"busy{i}"] = (on_canvas(sprite, bg), square)
        out[f"screen{i}"] = (on_canvas(sprite, bg, size, left), wide)
    return out


def iou(pred: np.ndarray, truth: np.ndarray) -> float:
    union = np.logical_or(pred, truth).sum()
    return float(np.logical_and(pred, truth).sum() / union) if union else 1.0


def save_overlay(prediction, path: Path, size: int = 320) -> None:
    labels = prediction.labels(ENSEMBLE, prediction.schema)
    shown = overlay(prediction.image, labels, prediction.schema, range(1, prediction.schema.num_classes), 0.6)
    pair = np.concatenate([prediction.image, shown], axis=1)
    img = Image.fromarray(pair)
    img.thumbnail((2 * size, size))
    img.save(path)


def renpy_check(root: Path, branches, out: Path, n_backgrounds: int = 3, zoom: bool = False) -> dict[tuple[str, str], float]:
    """Foreground IoU of each of :data:`VARIANTS` and model use (A, B, A+B), averaged over the
    sprites under ``root`` (the unpacked packages); overlays and overview.png go to ``out``.
    ``zoom``: parse with a closer look at the faces, as the app does by default."""
    sprites, bg_paths, concerts = find_images(root)
    backgrounds = [Image.open(p) for p in bg_paths[:n_backgrounds]]
    out.mkdir(parents=True, exist_ok=True)
    scores: dict[tuple[str, str], list[float]] = defaultdict(list)
    for path in sprites:
        sprite = Image.open(path).convert("RGBA")
        for variant, (image, truth) in variants(sprite, backgrounds).items():
            prediction = predict(branches, image, ENSEMBLE, name=path.stem, zoom=zoom)
            for use in USES:
                scores[(variant.rstrip("0123456789"), use)].append(
                    iou(prediction.labels(use, prediction.schema) > 0, truth)
                )
            save_overlay(prediction, out / f"{path.stem.replace(' ', '_')}_{variant}.png")
    for path in concerts:
        image = Image.open(path).convert("RGB")
        image.thumbnail((1024, 1024))
        save_overlay(predict(branches, image, ENSEMBLE, name=path.stem, zoom=zoom), out / f"{path.stem}.png", size=480)
    overview(sorted(out.glob("*.png")), out / "overview.png")
    return {key: float(np.mean(v)) for key, v in scores.items()}


def print_renpy(scores: dict[tuple[str, str], float]) -> None:
    print("Ren'Py sprites, foreground IoU (character vs background)")
    print(f"{'variant':10s}" + "".join(f"{u:>8s}" for u in USES))
    for variant in VARIANTS:
        print(f"{variant:10s}" + "".join(f"{scores[(variant, u)]:8.3f}" for u in USES))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--renpy", type=Path, help="folder where the renpy .debs were unpacked (default: download them)")
    parser.add_argument("--model-a", default=DEFAULT_MODEL_A, help="branch A: Hub id or local folder")
    parser.add_argument("--model-b", default=DEFAULT_MODEL_B, help="branch B: Hub id or local folder")
    parser.add_argument("--backgrounds", type=int, default=3, help="busy backgrounds per sprite")
    parser.add_argument("--no-flip", dest="flip", action="store_false",
                        help="one forward pass per model (default: each averaged over the picture and its mirror image)")
    parser.add_argument("--no-zoom-faces", dest="zoom_faces", action="store_false",
                        help="no second, closer look at the faces (default: as the app, the faces parsed again, enlarged)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the overlays")
    args = parser.parse_args()
    if args.backgrounds < 0:
        parser.error("--backgrounds must be >= 0")

    branches = load_branches({"A": args.model_a, "B": args.model_b}, flip=args.flip)
    with tempfile.TemporaryDirectory() as tmp:
        scores = renpy_check(args.renpy or unpack_packages(Path(tmp)), branches, args.out, args.backgrounds, args.zoom_faces)
    print_renpy(scores)
    print(f"overlays in {args.out}, a sample of them in {args.out / 'overview.png'}")


def overview(overlays: list[Path], path: Path, per_kind: int = 3, width: int = 1440) -> None:
    """One picture of a few overlays of each kind (white, busy, screen, line art, concert), a
    character each, stacked."""
    kinds = ("_white", "_busy0", "_screen0", "_lineart", "concert")
    rows = []
    for kind in kinds:
        first_of_each = {}  # character (first word of the name) -> its first overlay of this kind
        for p in overlays:
            if kind in p.stem:
                first_of_each.setdefault(p.stem.split("_")[0], p)
        tiles = [Image.open(p) for p in list(first_of_each.values())[:per_kind]]
        if tiles:
            row = np.concatenate([np.asarray(t.resize((round(t.width * 240 / t.height), 240))) for t in tiles], axis=1)
            rows.append(row[:, :width])
    canvas = np.full((sum(r.shape[0] for r in rows), width, 3), 255, np.uint8)
    y = 0
    for r in rows:
        canvas[y : y + r.shape[0], : r.shape[1]] = r
        y += r.shape[0]
    Image.fromarray(canvas).save(path)


if __name__ == "__main__":
    main()
