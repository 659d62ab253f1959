"""Real photographs and artwork to put behind characters, from Debian's free packages.

Flat wallpapers teach a model little about characters over busy places. The ``debian``
collection, wallpaper packages, holds nature photographs (foliage, flowers, water, stone, wood,
a forest path, boats, cups), painted landscapes and abstract artwork; the ``games`` collection
holds the drawn scenery of free games (painted landscapes, cartoon forests, caves, night cities,
a concert stage), nearer to what stands behind an anime character than a photograph is. They
are fetched with ``apt-get download`` (no root needed) and unpacked with ``dpkg -x`` into a cache
outside the repository, then stored downscaled (decoding a 5,000-pixel JPEG for every picture
would cost more than drawing the characters). Each package's copyright file is kept beside its
pictures. The dataset builder draws them behind Live2D characters; training can swap them in
behind any labeled picture (``augment.swap_background``).
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from animeparse.live2d.characters import Live2DError, default_cache


@dataclass(frozen=True)
class Package:
    """A Debian package of pictures: the license its copyright file states, and where in the
    unpacked package its backgrounds are (a game ships sprites, icons and menus beside them)."""

    license: str
    pictures: str = "**/*"
    skip: tuple[str, ...] = ()
    """Patterns (fnmatch, on the path inside the package) of pictures left out: ones with a
    character in them, which behind a labeled character would be taught as background."""
    see_through: bool = False
    """Keep pictures with see-through pixels too (flattened to RGB, what lies under the alpha),
    as the first fetch did: for the ``debian-v1`` collection only."""


COLLECTIONS: dict[str, dict[str, Package]] = {
    # wallpapers: nature photographs, painted landscapes, abstract artwork
    "debian": {
        "ukui-wallpapers": Package("CC-BY-SA-3.0 (Ubuntu Kylin community)"),
        "mate-backgrounds": Package("GPL-2+ (MATE desktop contributors)"),
        "plasma-workspace-wallpapers": Package("GPL-2+ (KDE Visual Design Group)"),
    },
    # drawn scenery, as behind characters in games and visual novels: painted landscapes,
    # cartoon forests, caves, cities, a concert stage
    "games": {
        "wesnoth-1.16-data": Package("GPL-2 (The Battle for Wesnoth Project)",
                                     "usr/share/games/wesnoth/1.16/data/core/images/story/*"),
        "supertux-data": Package("GPL-3+ (SuperTux Devel Team)", "usr/share/games/supertux2/images/background/*/*",
                                 skip=("*/misc/*",)),
        "hedgewars-data": Package("GPL-2 (Hedgewars Project)", "usr/share/games/hedgewars/Data/Themes/*/Sky.png"),
    },
    # the wallpapers as first fetched, before plasma joined and see-through pictures were skipped:
    # the backgrounds of live2d_parts, whose test split is the real benchmark (README)
    "debian-v1": {
        "ukui-wallpapers": Package("CC-BY-SA-3.0 (Ubuntu Kylin community)", see_through=True),
        "mate-backgrounds": Package("GPL-2+ (MATE desktop contributors)", see_through=True),
    },
}
"""Named sets of Debian packages to draw backgrounds from (copyright files checked file by file)."""

def terms(collection: str = "debian") -> str:
    """The packages of a collection and their licenses in one line, for dataset and model cards."""
    return "; ".join(f"{name}, {package.license}" for name, package in COLLECTIONS[collection].items())


TITLES = {"debian": "Debian's wallpaper packages", "games": "the drawn scenery of Debian's free games",
          "debian-v1": "Debian's wallpaper packages as first fetched"}


def describe(collection: str) -> str:
    """A collection in words, with its packages and their licenses."""
    return f"{TITLES[collection]} ({terms(collection)})"


def source_help() -> str:
    """The sources an option for background pictures takes, in words, for command-line help."""
    return "a folder of pictures (any depth), or a collection fetched once into the cache: " + ", ".join(
        f"'{name}' ({TITLES[name]})" for name in COLLECTIONS)


def source_problem(source: str) -> str | None:
    """Why ``source`` cannot give background pictures (it is neither a collection nor a folder), or None."""
    if source in COLLECTIONS or Path(source).is_dir():
        return None
    return f"{source}: not a folder (or one of {', '.join(COLLECTIONS)})"


def source_folder(source: str, cache: Path | None = None) -> Path:
    """The folder of a source of background pictures: a collection's, fetched first if need be,
    or the folder named."""
    return fetch(cache, source) if source in COLLECTIONS else Path(source)


MAX_SIDE = 1024
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
MIN_SIDE = 400
"""Pictures smaller than this (icons, thumbnails) are skipped."""
TRANSPARENT_SHARE = 0.01
"""Pictures with more see-through pixels than this are layers meant to sit over others (a game's
parallax foreground), not backgrounds: skipped."""


def photo_folder(cache: Path | None = None, collection: str = "debian") -> Path:
    """Where a collection's pictures are kept: one subfolder per package."""
    # the wallpapers keep the folder they had before there were collections: caches stay valid
    return (cache or default_cache()) / ("photos" if collection == "debian" else f"photos-{collection}")


def fetch(cache: Path | None = None, collection: str = "debian") -> Path:
    """Download and unpack each package of a collection (:data:`COLLECTIONS`) not fetched yet;
    return the folder of downscaled pictures (one subfolder per package, each with its copyright
    file)."""
    if collection not in COLLECTIONS:
        raise ValueError(f"unknown collection of backgrounds {collection!r}; choose one of {sorted(COLLECTIONS)}")
    packages = COLLECTIONS[collection]
    out = photo_folder(cache, collection)
    missing = [name for name in packages if not (out / name / ".complete").is_file()]
    if not missing:
        return out
    apt, dpkg = shutil.which("apt-get"), shutil.which("dpkg")
    if apt is None or dpkg is None:
        raise Live2DError("fetching background pictures needs Debian's apt-get and dpkg; "
                          "pass a folder of your own pictures instead")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([apt, "download", *missing], cwd=tmp, capture_output=True, text=True)
        if done.returncode != 0:
            raise Live2DError(f"apt-get download {' '.join(missing)} failed:\n{done.stderr.strip()[-2000:]}")
        for deb in Path(tmp).glob("*.deb"):
            name = deb.name.split("_")[0]
            root = Path(tmp) / name
            subprocess.run([dpkg, "-x", str(deb), str(root)], check=True)
            dest = out / name
            shutil.rmtree(dest, ignore_errors=True)  # a half-stored package from an interrupted fetch
            dest.mkdir(parents=True)
            for copyright in root.rglob("copyright"):
                shutil.copy(copyright, dest / "copyright")
            for i, src in enumerate(wallpaper_files(root, packages[name])):
                _store(src, dest / f"{i:03d}_{_picture_name(src)}.jpg", packages[name].see_through)
            (dest / ".complete").write_text(f"{name}: {packages[name].license}\n")
    return out


SIZE_NAME = re.compile(r"\d+x\d+")
"""A picture named by its size: KDE ships each wallpaper as ``NAME/contents/images/WxH.ext``."""


def wallpaper_files(root: Path, package: Package = Package("")) -> list[Path]:
    """The pictures of an unpacked package where it keeps its backgrounds, each once: of the
    size variants of one wallpaper (a folder of ``WxH`` files) only the largest, and no preview
    screenshots."""
    pictures = sorted(
        p for p in root.glob(package.pictures)
        if p.suffix.lower() in IMAGE_SUFFIXES and p.stem != "screenshot"
        and not any(fnmatch.fnmatch(p.relative_to(root).as_posix(), pattern) for pattern in package.skip)
    )
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


def _store(src: Path, dest: Path, see_through: bool = False) -> None:
    try:
        with Image.open(src) as img:
            if min(img.size) < MIN_SIDE or (not see_through and _see_through(img) > TRANSPARENT_SHARE):
                return
            img = img.convert("RGB")
            img.thumbnail((MAX_SIDE, MAX_SIDE), Image.LANCZOS)
            img.save(dest, quality=92)
    except OSError:  # a package may carry files PIL cannot read (SVG renamed, truncated): skip them
        return


def _see_through(img: Image.Image) -> float:
    """The share of a picture's pixels that are not fully opaque (0 for a picture without alpha)."""
    if img.mode not in ("RGBA", "LA", "PA") and not (img.mode == "P" and "transparency" in img.info):
        return 0.0
    return float((np.asarray(img.convert("RGBA").getchannel("A")) < 255).mean())
