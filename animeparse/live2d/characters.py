"""The Live2D sample characters the project draws, and how each drawable maps to a class.

Each model has a table in ``mappings/<model>.json`` (data, checked by looking at every drawable
of the model: `python -m animeparse.live2d.sheet`). A drawable's class is found by its exact id,
then by a wildcard pattern of ids (``D_HAND.*``), then by the part that holds it. Besides class names a table may say ``ignore`` (drawn, labeled
255: a drawable that mixes classes), ``over`` (drawn, labels nothing under it: a glint or shade
over other parts) or ``hidden`` (not drawn: reference guides, desks, backdrops).

The models come from Live2D's sample data, published on npm as ``live2d-widget-model-<name>``
packages, under Live2D's Free Material License: individuals and small businesses may use the
original characters, commercially or not; the data may not be redistributed. So the packages
are installed from npm into a cache outside the repository (:func:`install`), never committed,
and datasets made from them are private by default.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from animeparse.labels import SCHEMA_16, Schema
from animeparse.live2d.rig import Live2DError, Mesh, Rig

MAPPINGS = Path(__file__).parent / "mappings"
PACKAGE_VERSION = "1.0.5"
"""npm version of every live2d-widget-model package (the sample data has not changed since)."""

IGNORE, OVER, HIDDEN = "ignore", "over", "hidden"
TERMS = ("Live2D sample models (live2d-widget-model-* on npm), Live2D Inc.'s Free Material License: "
         "use by individuals and small businesses allowed, commercial or not; redistribution of the "
         "data prohibited. https://www.live2d.com/en/learn/sample/")


def default_cache() -> Path:
    """Where packages are installed: $ANIMEPARSE_LIVE2D_CACHE, else ~/.cache/animeparse/live2d."""
    return Path(os.environ.get("ANIMEPARSE_LIVE2D_CACHE", Path.home() / ".cache" / "animeparse" / "live2d"))


@dataclass(frozen=True)
class ClassTable:
    """One model's table: which package holds it and the class of each drawable."""

    model: str
    package: str
    model_json: str  # path inside the package
    character: str  # several models may show one character (haru in two outfits)
    figure: str  # adult or chibi
    parts: dict[str, str]
    drawables: dict[str, str]

    @classmethod
    def load(cls, model: str) -> "ClassTable":
        path = MAPPINGS / f"{model}.json"
        if not path.is_file():
            known = ", ".join(available_models())
            raise Live2DError(f"no mapping table for Live2D model {model!r} ({path}); known models: {known}")
        data = json.loads(path.read_text())
        table = cls(**{k: data[k] for k in ("model", "package", "model_json", "character", "figure", "parts", "drawables")})
        bad = {v for v in (*table.parts.values(), *table.drawables.values())
               if v not in (IGNORE, OVER, HIDDEN) and v not in SCHEMA_16.names}
        if bad:
            raise Live2DError(f"{path}: unknown classes {sorted(bad)}; use names of the 16-class schema or {IGNORE}/{OVER}/{HIDDEN}")
        return table

    def entry(self, drawable: str, part: str) -> str:
        """The table's word for a drawable: by its id, else by its part."""
        if drawable in self.drawables:
            return self.drawables[drawable]
        for pattern, word in self.drawables.items():  # "D_HAND.*": every hand drawable
            if "*" in pattern and fnmatch.fnmatchcase(drawable, pattern):
                return word
        if part in self.parts:
            return self.parts[part]
        raise Live2DError(f"Live2D model {self.model!r}: drawable {drawable!r} (part {part!r}) is not in "
                          f"{MAPPINGS / (self.model + '.json')}; add it to 'drawables' or its part to 'parts'")


def available_models() -> list[str]:
    return sorted(p.stem for p in MAPPINGS.glob("*.json"))


class Character:
    """A model ready to draw: its rig and its class table, checked to cover every drawable."""

    def __init__(self, model: str | ClassTable, cache: Path | None = None, schema: Schema = SCHEMA_16):
        self.table = model if isinstance(model, ClassTable) else ClassTable.load(model)
        self.name = self.table.character
        path = (cache or default_cache()) / "node_modules" / self.table.package / self.table.model_json
        if not path.is_file():
            raise Live2DError(f"Live2D model {self.table.model!r}: {path} is missing; install the package first "
                              f"(python -m animeparse.live2d.characters install {self.table.model})")
        self.rig = Rig(path)
        self._class = {}
        for drawable, part in self.rig.drawable_ids():
            word = self.table.entry(drawable, part)
            self._class[drawable] = word if word in (IGNORE, OVER, HIDDEN) else schema.names.index(word)

    def drawn(self, meshes: list[Mesh]) -> list[Mesh]:
        return [m for m in meshes if self._class[m.id] != HIDDEN]

    def label_of(self, mesh: Mesh) -> int | None:
        """Class id of a drawn mesh, 255 for ignore, None for a mesh that labels nothing."""
        c = self._class[mesh.id]
        return 255 if c == IGNORE else None if c == OVER else c


def install(models: list[str], cache: Path | None = None) -> Path:
    """Install the npm packages of ``models`` into ``cache`` (skipping those present); return it."""
    cache = cache or default_cache()

    def installed(package: str) -> bool:
        return (cache / "node_modules" / package / "package.json").is_file()

    missing = sorted({p for p in (ClassTable.load(m).package for m in models) if not installed(p)})
    if missing:
        npm = shutil.which("npm")
        if npm is None:
            raise Live2DError("installing Live2D models needs npm (Node.js) on PATH")
        cache.mkdir(parents=True, exist_ok=True)
        # npm removes the packages an install does not name (the cache keeps no manifest), so name
        # the models already there too: installing one model used to delete every other one.
        present = {p for p in (ClassTable.load(m).package for m in available_models()) if installed(p)}
        cmd = [npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix", str(cache),
               *(f"{p}@{PACKAGE_VERSION}" for p in sorted({*missing, *present}))]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise Live2DError(f"npm could not install {', '.join(missing)}:\n{done.stderr.strip()[-2000:]}")
    return cache


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m animeparse.live2d.characters",
                                description="Install Live2D sample models from npm into the cache, or list them.")
    sub = p.add_subparsers(dest="command", required=True)
    inst = sub.add_parser("install", help="install the npm packages of the given models (default: all)")
    inst.add_argument("models", nargs="*", help=f"models (default: all of {', '.join(available_models())})")
    inst.add_argument("--cache", type=Path, default=None, help="install folder (default: $ANIMEPARSE_LIVE2D_CACHE or ~/.cache/animeparse/live2d)")
    sub.add_parser("list", help="list the models with a mapping table")
    args = p.parse_args(argv)
    if args.command == "list":
        for m in available_models():
            t = ClassTable.load(m)
            print(f"{m:12s} character={t.character:10s} figure={t.figure:6s} package={t.package}")
        return 0
    models = args.models or available_models()
    unknown = [m for m in models if m not in available_models()]
    if unknown:
        p.error(f"unknown models {unknown}; known: {', '.join(available_models())}")
    print(install(models, args.cache))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
