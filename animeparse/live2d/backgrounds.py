"""Real photographs and artwork to put behind characters, from Debian's free wallpaper packages.

Flat wallpapers teach a model little about characters over busy places; these packages hold
nature photographs (foliage, flowers, water, stone, wood) and abstract artwork. They are fetched
with ``apt-get download`` (no root needed) and unpacked with ``dpkg -x`` into a cache outside
the repository, then stored downscaled (decoding a 5,000-pixel JPEG for every picture would cost
more than drawing the characters). Each package's copyright file is kept beside its pictures.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

from animeparse.live2d.characters import Live2DError, default_cache

PACKAGES = {
    "ukui-wallpapers": "CC-BY-SA-3.0 (Ubuntu Kylin community)",
    "mate-backgrounds": "GPL-2+ (MATE desktop contributors)",
}
"""Debian packages used, with the license their copyright files state (checked file by file)."""

MAX_SIDE = 1024
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
MIN_SIDE = 400
"""Pictures smaller than this (icons, thumbnails) are skipped."""


def photo_folder(cache: Path | None = None) -> Path:
    return (cache or default_cache()) / "photos"


def fetch(cache: Path | None = None) -> Path:
    """Download and unpack :data:`PACKAGES` (once) and return the folder of downscaled pictures."""
    out = photo_folder(cache)
    if (out / ".complete").is_file():
        return out
    apt, dpkg = shutil.which("apt-get"), shutil.which("dpkg")
    if apt is None or dpkg is None:
        raise Live2DError("fetching background photographs needs Debian's apt-get and dpkg; "
                          "pass a folder of your own pictures instead")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([apt, "download", *PACKAGES], cwd=tmp, capture_output=True, text=True)
        if done.returncode != 0:
            raise Live2DError(f"apt-get download {' '.join(PACKAGES)} failed:\n{done.stderr.strip()[-2000:]}")
        for deb in Path(tmp).glob("*.deb"):
            package = deb.name.split("_")[0]
            root = Path(tmp) / package
            subprocess.run([dpkg, "-x", str(deb), str(root)], check=True)
            dest = out / package
            dest.mkdir(exist_ok=True)
            for copyright in root.rglob("copyright"):
                shutil.copy(copyright, dest / "copyright")
            for i, src in enumerate(sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)):
                _store(src, dest / f"{i:03d}_{src.stem}.jpg")
    (out / ".complete").write_text("\n".join(f"{p}: {lic}" for p, lic in PACKAGES.items()) + "\n")
    return out


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
