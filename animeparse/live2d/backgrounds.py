"""Real photographs and artwork to put behind characters, from Debian's free wallpaper packages.

Flat wallpapers teach a model little about characters over busy places; these packages hold
nature photographs (foliage, flowers, water, stone, wood, a forest path, boats, cups), painted
landscapes and abstract artwork. They are fetched with ``apt-get download`` (no root needed) and
unpacked with ``dpkg -x`` into a cache outside the repository, then stored downscaled (decoding a
5,000-pixel JPEG for every picture would cost more than drawing the characters). Each package's
copyright file is kept beside its pictures. The dataset builder draws them behind Live2D
characters; training can swap them in behind any labeled picture (``augment.swap_background``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

from PIL import Image

from animeparse.live2d.characters import Live2DError, default_cache

PACKAGES = {
    "ukui-wallpapers": "CC-BY-SA-3.0 (Ubuntu Kylin community)",
    "mate-backgrounds": "GPL-2+ (MATE desktop contributors)",
    "plasma-workspace-wallpapers": "GPL-2+ (KDE Visual Design Group)",
}
"""Debian packages used, with the license their copyright files state (checked file by file)."""

TERMS = "; ".join(f"{package}, {license}" for package, license in PACKAGES.items())
"""The packages and their licenses in one line, for dataset and model cards."""

MAX_SIDE = 1024
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
MIN_SIDE = 400
"""Pictures smaller than this (icons, thumbnails) are skipped."""


def photo_folder(cache: Path | None = None) -> Path:
    return (cache or default_cache()) / "photos"


def fetch(cache: Path | None = None) -> Path:
    """Download and unpack each of :data:`PACKAGES` not fetched yet; return the folder of
    downscaled pictures (one subfolder per package, each with its copyright file)."""
    out = photo_folder(cache)
    missing = [package for package in PACKAGES if not (out / package / ".complete").is_file()]
    if not missing:
        return out
    apt, dpkg = shutil.which("apt-get"), shutil.which("dpkg")
    if apt is None or dpkg is None:
        raise Live2DError("fetching background photographs needs Debian's apt-get and dpkg; "
                          "pass a folder of your own pictures instead")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([apt, "download", *missing], cwd=tmp, capture_output=True, text=True)
        if done.returncode != 0:
            raise Live2DError(f"apt-get download {' '.join(missing)} failed:\n{done.stderr.strip()[-2000:]}")
        for deb in Path(tmp).glob("*.deb"):
            package = deb.name.split("_")[0]
            root = Path(tmp) / package
            subprocess.run([dpkg, "-x", str(deb), str(root)], check=True)
            dest = out / package
            shutil.rmtree(dest, ignore_errors=True)  # a half-stored package from an interrupted fetch
            dest.mkdir(parents=True)
            for copyright in root.rglob("copyright"):
                shutil.copy(copyright, dest / "copyright")
            for i, src in enumerate(wallpaper_files(root)):
                _store(src, dest / f"{i:03d}_{_picture_name(src)}.jpg")
            (dest / ".complete").write_text(f"{package}: {PACKAGES[package]}\n")
    return out


SIZE_NAME = re.compile(r"\d+x\d+")
"""A picture named by its size: KDE ships each wallpaper as ``NAME/contents/images/WxH.ext``."""


def wallpaper_files(root: Path) -> list[Path]:
    """The pictures of an unpacked package, each once: of the size variants of one wallpaper (a
    folder of ``WxH`` files) only the largest, and no preview screenshots."""
    pictures = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.stem != "screenshot")
    largest: dict[Path, Path] = {}
    chosen = []
    for p in pictures:
        if not SIZE_NAME.fullmatch(p.stem):
            chosen.append(p)
        elif p.parent not in largest or _pixels(p) > _pixels(largest[p.parent]):
            largest[p.parent] = p
    return sorted(chosen + list(largest.values()))


def _picture_name(path: Path) -> str:
    """A KDE size variant is named by its wallpaper (``NAME/contents/images/WxH.ext``)."""
    return path.parents[2].name if SIZE_NAME.fullmatch(path.stem) else path.stem


def _pixels(path: Path) -> int:
    width, height = map(int, path.stem.split("x"))
    return width * height


@lru_cache(maxsize=4)
def list_photos(folder: str) -> tuple[Path, ...]:
    """The pictures in a folder of backgrounds (any depth), sorted."""
    return tuple(sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES))


def _store(src: Path, dest: Path) -> None:
    try:
        with Image.open(src) as img:
            if min(img.size) < MIN_SIDE:
                return
            img = img.convert("RGB")
            img.thumbnail((MAX_SIDE, MAX_SIDE), Image.LANCZOS)
            img.save(dest, quality=92)
    except OSError:  # a package may carry files PIL cannot read (SVG renamed, truncated): skip them
        return
