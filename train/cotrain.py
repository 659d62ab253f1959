#!/usr/bin/env python
"""Co-train two SegFormer part parsers with cross pseudo supervision (CPS, Chen et al., CVPR 2021).

Branches A and B learn from the labeled images, and on unlabeled ones each learns from the other's
pseudo labels on CutMixed images (see ``train_step``). ``--cps-weight 0`` is the supervised
baseline through the same code (same steps, augmentation and labeled images).

Launch (one process, CPU or one GPU; ``python train/cotrain.py ...`` does the same):

    accelerate launch --num_cpu_threads_per_process 2 --num_processes 1 --num_machines 1 --mixed_precision no --dynamo_backend no \\
        train/cotrain.py --dataset ORG/NAME_OR_DIR --output-dir outputs/cps

    # pretrained encoder (online), bf16 autocast (CPU and GPU), 1/8 of the labels
    accelerate launch ... train/cotrain.py --dataset DIR --output-dir outputs/cps \\
        --init nvidia/mit-b0 --mixed-precision bf16 --labeled-fraction 0.125

    # several GPUs, or two CPU processes (gloo)
    accelerate launch --multi_gpu --num_processes 4 train/cotrain.py --dataset DIR --output-dir outputs/cps
    torchrun --nproc_per_node 2 train/cotrain.py --dataset DIR --output-dir outputs/cps

    # supervised baseline; continue a stopped run (same command plus --resume)
    ... --cps-weight 0
    ... --resume

Outputs in --output-dir: model_a/ and model_b/ (safetensors, image processor, id2label, model
card; ``pipeline("image-segmentation", model=DIR/model_a)`` loads them), metrics.json,
checkpoints/step-NNNNNNNN/ (accelerate state and config.json: the latest and the best) and
logs/ (TensorBoard).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from animeparse.augment import RECOLOR_CLASSES
from animeparse.branches import BRANCHES, ENSEMBLE, USES
from animeparse.live2d.backgrounds import COLLECTIONS as BACKGROUND_COLLECTIONS
from animeparse.live2d.backgrounds import source_help, source_problem


def import_training_libraries() -> None:
    """Import what training needs (torch, transformers, datasets, accelerate: seconds) into this
    module, once: parse_args calls it after parsing, so --help and option errors answer at once."""
    global datasets, np, torch, Accelerator, get_logger, DataLoaderConfiguration, ProjectConfiguration, set_seed
    global DataLoader, tqdm, SegformerConfig, get_polynomial_decay_schedule_with_warmup, keep_freed_memory, Augment
    global Progress, batches, checkpoint_dir, checkpoints, register_state, save_checkpoint, CPSConfig, train_step, load_dataset_schema
    global load_parsing_dataset, split_labeled, Evaluation, eval_loader, evaluate, summarize_split, write_atomic
    global IGNORE_INDEX, Schema, get_schema, remap_table, SCRATCH_SIZES, ModelLoadError, build_model, make_processor
    global save_model, TrainTransform, push_models, branch_cards, logger, balanced_weights, class_frequencies
    global AveragedModel, get_ema_multi_avg_fn, source_folder, list_photos
    import datasets
    import numpy as np
    import torch
    from accelerate import Accelerator
    from accelerate.logging import get_logger
    from accelerate.utils import DataLoaderConfiguration, ProjectConfiguration, set_seed
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm
    from transformers import SegformerConfig, get_polynomial_decay_schedule_with_warmup
    from animeparse.allocator import keep_freed_memory
    from animeparse.augment import Augment
    from animeparse.class_weights import balanced_weights, class_frequencies
    from animeparse.checkpoints import Progress, batches, checkpoint_dir, checkpoints, register_state, save_checkpoint
    from animeparse.cps import CPSConfig, train_step
    from animeparse.data import load_dataset_schema, load_parsing_dataset, split_labeled
    from animeparse.evaluation import Evaluation, eval_loader, evaluate, summarize_split
    from animeparse.files import write_atomic
    from animeparse.labels import IGNORE_INDEX, Schema, get_schema, remap_table
    from animeparse.live2d.backgrounds import list_photos, source_folder
    from animeparse.model import SCRATCH_SIZES, ModelLoadError, build_model, make_processor, save_model
    from animeparse.transforms import TrainTransform
    from model_card.hub import push_models
    from model_card.render import branch_cards
    logger = get_logger(__name__, log_level="INFO")


RUN_CONTROL = {"resume", "overwrite", "num_workers", "eval_every", "save_every", "log_every", "report_to",
               "push_to_hub", "hub_private", "dataset_id", "export", "max_steps", "output_dir"}
"""Options that may change when a run is resumed (its folder may move, too); any other difference is refused. A resumed run
may end earlier or go on longer (--max-steps): the learning rate then follows the schedule of the
new length from the step reached, so a run can be published where it stands and extended later."""


def json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON ({e})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object, got {text!r}")
    return value


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("data")
    g.add_argument("--dataset", required=True, help="animeparse Datasets repo: Hub id or local folder in Hub layout")
    g.add_argument("--dataset-id", default=None, help="Hub id to name in the model cards when --dataset is a local copy")
    g.add_argument("--classes", default="16", help="classes to train: 16, 13 (the merged schema) or a schema JSON file")
    g.add_argument("--labeled-fraction", type=float, default=1.0,
                   help="keep labels on this deterministic fraction of the train split; the rest joins the unlabeled images")
    g.add_argument("--train-split", default="train", help="labeled split")
    g.add_argument("--unlabeled-split", default="unlabeled", help="split of unlabeled images, used when present ('' = none)")
    g.add_argument("--eval-split", default="validation", help="split evaluated during training (picks the best step)")
    g.add_argument("--test-split", default="test", help="split evaluated once at the end, when present ('' = none)")
    g = p.add_argument_group("model")
    g.add_argument("--init", default="scratch", help="'scratch', a Hub id (e.g. nvidia/mit-b0) or a local SegFormer checkpoint")
    g.add_argument("--init-b", default=None,
                   help="branch B's start when it differs from --init, e.g. a pair's model_b to continue a co-trained pair "
                        "(two branches started from the same weights would teach each other nothing)")
    g.add_argument("--scratch-size", default="b0", help="SegFormer size for --init scratch: b0, b1 or b2 (animeparse.model.SCRATCH_SIZES)")
    g.add_argument("--scratch-config", default=None, type=json_object,
                   help='JSON of SegformerConfig fields overriding the scratch size, e.g. \'{"depths": [1, 1, 1, 1]}\'')
    g = p.add_argument_group("optimisation")
    g.add_argument("--max-steps", type=int, default=4000,
                   help="training steps, one labeled batch per process each (0: only evaluate and export --init)")
    g.add_argument("--batch-size", type=int, default=8, help="labeled images per process and step")
    g.add_argument("--unlabeled-batch-size", type=int, default=8, help="unlabeled images per process and step (CutMix pairs within it)")
    g.add_argument("--lr", type=float, default=2e-4, help="AdamW learning rate of the encoder")
    g.add_argument("--head-lr-scale", type=float, default=10.0, help="decode head learning rate = lr x this (as in SegFormer)")
    g.add_argument("--weight-decay", type=float, default=0.01, help="AdamW weight decay")
    g.add_argument("--warmup-steps", type=int, default=200, help="linear learning-rate warmup steps")
    g.add_argument("--poly-power", type=float, default=1.0, help="power of the polynomial learning-rate decay after warmup")
    g.add_argument("--mixed-precision", default="no", choices=["no", "bf16", "fp16"],
                   help="autocast precision; bf16 works on CPU and GPU, fp16 on GPU only")
    g.add_argument("--class-weight-power", type=float, default=0.0,
                   help="weigh each class in the supervised loss by its pixel frequency ** -POWER (0.5 = softened inverse "
                        "frequency, for the small parts; 0 = unweighted), measured on up to 500 labeled images")
    g.add_argument("--ema-decay", type=float, default=0.0,
                   help="evaluate and export an exponential moving average of each branch's weights with this decay "
                        "(e.g. 0.99: about the last 100 steps; 0 = the trained weights); the trained weights' validation "
                        "scores are logged beside it as eval/raw_*")
    g.add_argument("--seed", type=int, default=0, help="seed of data order, augmentation and branch A (B uses seed + 1)")
    g = p.add_argument_group("cross pseudo supervision")
    g.add_argument("--cps-weight", type=float, default=1.5, help="weight of the CPS loss (0 = supervised baseline, no unlabeled data)")
    g.add_argument("--cps-warmup-steps", type=int, default=500,
                   help="supervised steps before CPS starts, so early pseudo labels are not noise")
    g.add_argument("--cps-rampup-steps", type=int, default=0,
                   help="steps over which the CPS weight rises linearly from 0 to --cps-weight after the warmup")
    g.add_argument("--cps-threshold", type=float, default=0.0,
                   help="pseudo labels below this confidence (top class probability) are ignored; 0 keeps all, as in CPS")
    g.add_argument("--cutmix-area", type=float, nargs=2, default=(0.25, 0.5), metavar=("MIN", "MAX"),
                   help="range of the box area (fraction of the image) kept from the first image of a CutMix pair")
    g.add_argument("--cutmix-boxes", type=int, default=3, help="boxes per CutMix mask")
    g = p.add_argument_group("augmentation")
    g.add_argument("--crop-size", type=int, default=256, help="training crop side in pixels (multiple of 4)")
    g.add_argument("--eval-size", type=int, default=512,
                   help="input side the image processor resizes to (evaluation, pipeline); training scales crop from it")
    g.add_argument("--scale-range", type=float, nargs=2, default=(0.5, 2.0), metavar=("MIN", "MAX"),
                   help="random scale of the eval-size image before cropping")
    g.add_argument("--aspect-range", type=float, nargs=2, default=(1.0, 1.0), metavar=("MIN", "MAX"),
                   help="random width:height stretch before cropping, log-uniform (e.g. 0.5 2: the squash a tall or "
                        "wide picture gets from pipeline(); the app pads it to a square); 1 1 = off")
    g.add_argument("--background-swap", type=float, default=0.0, metavar="P",
                   help="probability that a labeled crop's background (class 0) is replaced by a crop of one of "
                        "--background-photos (0 = off)")
    g.add_argument("--background-photos", metavar="|".join(["DIR", *BACKGROUND_COLLECTIONS]), nargs="+", default=["debian"],
                   help=f"pictures for --background-swap, from one or more sources, each {source_help()}")
    g.add_argument("--background-hue", type=float, default=0.0, metavar="TURN",
                   help="each swapped-in picture's own color jitter: hue rotated by up to TURN of a turn (0.5: any "
                        "color), brightness, contrast and saturation by up to 30%% (0 = the picture as it is)")
    g.add_argument("--background-letters", type=float, default=0.0, metavar="P",
                   help="probability that big letters (titles, banners, sound effects) are painted over a labeled "
                        "crop's background (0 = off)")
    g.add_argument("--part-recolor", type=float, default=0.0, metavar="P",
                   help=f"probability that each of a labeled crop's {', '.join(RECOLOR_CLASSES)} is recolored on its own: "
                        "hue turned, saturation scaled down to gray, brightness curved (0 = off)")
    g.add_argument("--hflip-p", type=float, default=0.5, help="probability of a horizontal flip")
    g.add_argument("--jitter-p", type=float, default=0.8, help="probability of color jitter")
    g.add_argument("--grayscale-p", type=float, default=0.1, help="probability of grayscale")
    g.add_argument("--blur-p", type=float, default=0.1, help="probability of Gaussian blur")
    g.add_argument("--lineart-p", type=float, default=0.1, help="probability of converting to line art (sketch)")
    g = p.add_argument_group("run")
    g.add_argument("--output-dir", required=True, help="folder for models, metrics, checkpoints and logs")
    g.add_argument("--eval-batch-size", type=int, default=4, help="images per process and evaluation batch")
    g.add_argument("--eval-every", type=int, default=500, help="evaluate every N steps (0 = only at the end)")
    g.add_argument("--save-every", type=int, default=250,
                   help="checkpoint every N steps (0 = none; the best step is still kept for --export best)")
    g.add_argument("--log-every", type=int, default=10, help="log losses every N steps")
    g.add_argument("--num-workers", type=int, default=2, help="data loader worker processes per training process")
    g.add_argument("--report-to", default="tensorboard", choices=["tensorboard", "none"], help="experiment tracker")
    g.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --output-dir (if any)")
    g.add_argument("--overwrite", action="store_true", help="delete a previous run's checkpoints and outputs in --output-dir")
    g.add_argument("--export", default="best", choices=["best", "last"],
                   help="weights written to model_a/ and model_b/: the best validation step or the last one")
    g.add_argument("--push-to-hub", default=None, metavar="ORG/NAME", help="push the models to ORG/NAME-a and ORG/NAME-b")
    g.add_argument("--hub-private", action="store_true", help="create the Hub repos as private")
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = make_parser()
    args = p.parse_args(argv)
    import_training_libraries()
    check_args(p, args)
    return args


def check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    positive = ["batch_size", "unlabeled_batch_size", "eval_batch_size", "crop_size", "eval_size",
                "log_every", "cutmix_boxes"]
    for name in positive:
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    for name in ["max_steps", "warmup_steps", "cps_warmup_steps", "cps_rampup_steps", "eval_every", "save_every", "num_workers"]:
        if getattr(args, name) < 0:
            p.error(f"--{name.replace('_', '-')} must be 0 or more, got {getattr(args, name)}")
    for name in ["lr", "head_lr_scale", "poly_power"]:
        if not getattr(args, name) > 0:
            p.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.weight_decay < 0 or args.cps_weight < 0 or args.class_weight_power < 0:
        p.error("--weight-decay, --cps-weight and --class-weight-power must be 0 or more")
    if not 0 <= args.ema_decay < 1:
        p.error(f"--ema-decay must be in [0, 1), got {args.ema_decay}")
    for name in ["hflip_p", "jitter_p", "grayscale_p", "blur_p", "lineart_p", "cps_threshold", "background_swap", "background_letters", "part_recolor"]:
        if not 0 <= getattr(args, name) <= 1:
            p.error(f"--{name.replace('_', '-')} is a probability, got {getattr(args, name)}")
    if 0 < args.max_steps <= args.warmup_steps:
        p.error(f"--warmup-steps ({args.warmup_steps}) must be less than --max-steps ({args.max_steps})")
    if not 0 < args.labeled_fraction <= 1:
        p.error(f"--labeled-fraction must be in (0, 1], got {args.labeled_fraction}")
    if not 0 < args.cutmix_area[0] <= args.cutmix_area[1] < 1:
        p.error(f"--cutmix-area needs 0 < MIN <= MAX < 1, got {args.cutmix_area}")
    if not 0 < args.scale_range[0] <= args.scale_range[1]:
        p.error(f"--scale-range needs 0 < MIN <= MAX, got {args.scale_range}")
    if not 0 < args.aspect_range[0] <= args.aspect_range[1]:
        p.error(f"--aspect-range needs 0 < MIN <= MAX, got {args.aspect_range}")
    if not 0 <= args.background_hue <= 0.5:
        p.error(f"--background-hue is a fraction of a turn from 0 to 0.5, got {args.background_hue}")
    for source in args.background_photos if args.background_swap else ():
        if problem := source_problem(source):
            p.error(f"--background-photos {problem}")
    if args.crop_size % 4:
        p.error(f"--crop-size must be a multiple of 4 (SegFormer's output stride, on which CutMix boxes lie), got {args.crop_size}")
    if args.cps_weight > 0 and args.unlabeled_batch_size < 2:
        p.error("--unlabeled-batch-size must be at least 2: CutMix pairs images within the unlabeled batch")
    if args.scratch_size not in SCRATCH_SIZES:
        p.error(f"--scratch-size: choose one of {sorted(SCRATCH_SIZES)}, got {args.scratch_size!r}")
    if args.init != "scratch" and args.scratch_config:
        p.error("--scratch-config applies to --init scratch only")
    unknown = sorted(set(args.scratch_config or {}) - set(SegformerConfig().to_dict()))
    if unknown:
        p.error(f"--scratch-config: unknown SegformerConfig fields {unknown}")
    if args.push_to_hub is not None and args.push_to_hub.count("/") != 1:
        p.error(f"--push-to-hub takes ORG/NAME, got {args.push_to_hub!r}")
    if args.resume and args.overwrite:
        p.error("--resume and --overwrite contradict each other")


def cps_config(args: argparse.Namespace) -> CPSConfig:
    return CPSConfig(weight=args.cps_weight, warmup_steps=args.cps_warmup_steps, rampup_steps=args.cps_rampup_steps,
                     threshold=args.cps_threshold, cutmix_area=tuple(args.cutmix_area), cutmix_boxes=args.cutmix_boxes)


def make_optimizer(model, args: argparse.Namespace) -> torch.optim.AdamW:
    """AdamW with the decode head at ``lr x head_lr_scale``: a new head learns faster than a
    pretrained encoder should move (SegFormer's recipe)."""
    head = [p for n, p in model.named_parameters() if n.startswith("decode_head.")]
    encoder = [p for n, p in model.named_parameters() if not n.startswith("decode_head.")]
    groups = [{"params": encoder}, {"params": head, "lr": args.lr * args.head_lr_scale}]
    return torch.optim.AdamW(groups, lr=args.lr, weight_decay=args.weight_decay)


def check_resume_config(saved: dict, config: dict) -> None:
    """Refuse to resume with other settings than the checkpoint's; an option added to this script
    after the checkpoint was saved counts as its default there (the run never used it)."""
    parser = make_parser()
    saved = {**{k: json.loads(json.dumps(parser.get_default(k))) for k in config if k not in saved}, **saved}
    changed = sorted(k for k in set(saved) | set(config) if k not in RUN_CONTROL and saved.get(k) != config.get(k))
    if changed:
        details = ", ".join(f"{k}: {saved.get(k)!r} -> {config.get(k)!r}" for k in changed)
        raise SystemExit(f"error: --resume with different settings than the checkpoint ({details}); rerun with the saved ones")


def prepare_output_dir(args: argparse.Namespace, accelerator: Accelerator) -> list[Path]:
    """Refuse or clear a previous run's outputs (--resume, --overwrite); its checkpoints to resume from."""
    output_dir = Path(args.output_dir)
    previous = checkpoints(output_dir / "checkpoints")
    produced = [output_dir / n for n in ("checkpoints", "logs", "model_a", "model_b", "metrics.json")]
    if not args.resume and any(p.exists() for p in produced):
        if not args.overwrite:
            raise SystemExit(f"error: {output_dir} holds a previous run; pass --resume to continue it or --overwrite to replace it")
        if accelerator.is_main_process:
            for path in produced:
                shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        previous = []
    accelerator.wait_for_everyone()
    return previous


@dataclass
class Data:
    """The splits a run uses, in the trained schema's terms."""

    schema: Schema
    """The trained classes (--classes)."""
    source_schema: Schema
    """The dataset's classes."""
    table: np.ndarray
    """Dataset ids -> trained ids."""
    labeled: datasets.Dataset
    unlabeled: datasets.Dataset | None
    """Images only; None for the supervised baseline."""
    eval_splits: dict[str, datasets.Dataset]
    """--eval-split first, then --test-split when present."""


def load_data(args: argparse.Namespace, num_processes: int) -> Data:
    """Load the dataset, resolve the schemas and split labeled from unlabeled images; stop with a
    message when something needed is missing."""
    try:
        ds = load_parsing_dataset(args.dataset)
        source_schema = load_dataset_schema(args.dataset)
        schema = get_schema(args.classes)
        table = remap_table(source_schema, schema)
    except (OSError, ValueError) as e:
        raise SystemExit(f"error: {e}") from None
    if not (table[: source_schema.num_classes] != IGNORE_INDEX).any():
        raise SystemExit(f"error: --classes {schema.name!r} shares no class with the dataset's {list(source_schema.names)}")
    for split in (args.train_split, args.eval_split):
        if split not in ds:
            raise SystemExit(f"error: dataset {args.dataset} has no {split!r} split; it has {sorted(ds)}")
    labeled, unlabeled = split_labeled(ds[args.train_split], args.labeled_fraction, args.seed)
    unlabeled_parts = [unlabeled] if len(unlabeled) else []
    if args.unlabeled_split and args.unlabeled_split in ds:
        unlabeled_parts.append(ds[args.unlabeled_split])
    if args.cps_weight > 0 and not unlabeled_parts:
        raise SystemExit("error: --cps-weight > 0 needs unlabeled images: a --labeled-fraction below 1 or an unlabeled split")
    unlabeled = (  # the supervised baseline sees only the labeled images
        datasets.concatenate_datasets([d.select_columns(["image"]) for d in unlabeled_parts]) if args.cps_weight > 0 else None
    )
    if len(labeled) < args.batch_size * num_processes:
        raise SystemExit(f"error: {len(labeled)} labeled images, fewer than one batch ({args.batch_size} x {num_processes} processes)")
    if unlabeled is not None and len(unlabeled) < args.unlabeled_batch_size * num_processes:
        raise SystemExit(f"error: {len(unlabeled)} unlabeled images, fewer than one unlabeled batch")
    eval_names = [args.eval_split] + ([args.test_split] if args.test_split in ds and args.test_split != args.eval_split else [])
    return Data(schema, source_schema, table, labeled, unlabeled, {name: ds[name] for name in eval_names})


def supervised_class_weights(args: argparse.Namespace, data: Data) -> np.ndarray | None:
    """The supervised loss's class weights (--class-weight-power), or None when unweighted."""
    if args.class_weight_power == 0:
        return None
    frequencies = class_frequencies(data.labeled, data.table, data.source_schema.num_classes, data.schema.num_classes, seed=args.seed)
    return balanced_weights(frequencies, args.class_weight_power).astype(np.float32)


def background_photos(args: argparse.Namespace) -> tuple[Path, ...]:
    """The pictures --background-swap draws from (none when it is off)."""
    if args.background_swap == 0:
        return ()
    photos = ()
    for source in args.background_photos:
        folder = source_folder(source)
        found = list_photos(str(folder))
        if not found:
            raise SystemExit(f"error: --background-photos {source}: no pictures (.jpg, .png, .webp) in {folder}")
        logger.info("background swap: %d pictures from %s", len(found), folder)
        photos += found
    logger.info("background swap: p=%s over %d pictures", args.background_swap, len(photos))
    return photos


def make_loaders(args: argparse.Namespace, data: Data, processor) -> tuple[DataLoader, DataLoader | None, dict, dict]:
    """Training loaders (labeled, unlabeled or None) with augmentation; evaluation loaders and
    each evaluated split's difficulty levels."""
    augment = Augment(
        base_size=args.eval_size, crop_size=args.crop_size, scale_range=tuple(args.scale_range),
        aspect_range=tuple(args.aspect_range), hflip_p=args.hflip_p,
        jitter_p=args.jitter_p, grayscale_p=args.grayscale_p, blur_p=args.blur_p, lineart_p=args.lineart_p,
        background_p=args.background_swap, background_hue=args.background_hue, photos=background_photos(args),
        letters_p=args.background_letters, recolor_p=args.part_recolor,
        recolor_groups=tuple((data.schema.label2id[name],) for name in RECOLOR_CLASSES if name in data.schema.label2id),
    )
    loader_kwargs = dict(num_workers=args.num_workers, persistent_workers=args.num_workers > 0)
    labeled = data.labeled.select_columns(["image", "label"]).with_transform(
        TrainTransform(augment, processor, data.table, data.source_schema.num_classes)
    )
    loader_x = DataLoader(labeled, batch_size=args.batch_size, shuffle=True, drop_last=True, **loader_kwargs)
    loader_u = None
    if data.unlabeled is not None:
        unlabeled = data.unlabeled.with_transform(TrainTransform(augment, processor))
        loader_u = DataLoader(unlabeled, batch_size=args.unlabeled_batch_size, shuffle=True, drop_last=True, **loader_kwargs)
    eval_loaders, eval_groups = {}, {}
    for name, split in data.eval_splits.items():
        eval_loaders[name], eval_groups[name] = eval_loader(
            split, processor, data.table, data.source_schema.num_classes, args.eval_batch_size, args.num_workers
        )
    return loader_x, loader_u, eval_loaders, eval_groups


def build_models(args: argparse.Namespace, schema: Schema):
    """Branches A and B: they differ in whatever is not pretrained (seeds ``seed`` and ``seed + 1``)."""
    try:
        set_seed(args.seed)
        model_a = build_model(args.init, schema, args.scratch_size, **(args.scratch_config or {}))
        set_seed(args.seed + 1)
        model_b = build_model(args.init_b or args.init, schema, args.scratch_size, **(args.scratch_config or {}))
    except ModelLoadError as e:
        raise SystemExit(f"error: {e}") from None
    set_seed(args.seed)
    return model_a, model_b


def make_emas(accelerator: Accelerator, models: tuple, decay: float) -> tuple | None:
    """An exponential moving average of each branch (--ema-decay), or None. Its first update takes
    the weights as they are (torch's AveragedModel), and it averages buffers too (the decode
    head's batch-norm statistics)."""
    if decay == 0:
        return None
    return tuple(AveragedModel(accelerator.unwrap_model(m), multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
                 for m in models)


def save_outputs(args: argparse.Namespace, accelerator: Accelerator, models: dict, processor, metrics: dict, schema: Schema) -> None:
    """model_a/ and model_b/ with their cards, metrics.json; the Hub push (main process only)."""
    output_dir = Path(args.output_dir)
    folders = {branch: output_dir / f"model_{branch.lower()}" for branch in BRANCHES}
    repo_ids = {b: f"{args.push_to_hub}-{b.lower()}" if args.push_to_hub else str(folders[b]) for b in BRANCHES}
    for branch, model in models.items():
        save_model(accelerator.unwrap_model(model), processor, folders[branch])
    cards = branch_cards(metrics=metrics, config=metrics["config"], dataset_id=args.dataset_id or args.dataset,
                         class_names=list(schema.names), repo_ids=repo_ids)
    for branch, card in cards.items():
        write_atomic(folders[branch] / "README.md", card)
    write_atomic(output_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    if args.push_to_hub:
        push_models(folders, repo_ids, args.hub_private)
        logger.info("pushed %s and %s", *repo_ids.values())


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    output_dir = Path(args.output_dir)
    ckpt_root = output_dir / "checkpoints"
    accelerator = Accelerator(
        # without a GPU (or other accelerator) processes started by torchrun must be told they
        # are CPU processes, or each of them trains alone instead of joining a gloo group
        cpu=not torch.accelerator.is_available(),
        mixed_precision=args.mixed_precision,
        log_with=None if args.report_to == "none" else args.report_to,
        project_config=ProjectConfiguration(project_dir=str(output_dir), logging_dir=str(output_dir / "logs")),
        # sampler seeded by (seed, epoch): a resumed run replays the same data order
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=args.seed),
        # one scheduler step per training step, whatever the process count
        step_scheduler_with_optimizer=False,
    )
    logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s", level=logging.WARNING)
    datasets.utils.logging.set_verbosity_warning()
    if accelerator.device.type == "cpu":
        keep_freed_memory()  # otherwise every step page-faults its large activations in again
        if args.mixed_precision == "bf16" and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            # seen on an AVX2-only CPU: a SegFormer-B0 step took 40 s in bf16 against 3.1 s in fp32
            logger.warning("--mixed-precision bf16: this CPU has no native bf16 instructions (AVX-512 BF16 or AMX), so "
                           "autocast emulates them and training runs about 13x slower than fp32; use --mixed-precision no",
                           main_process_only=True)
    if args.cps_weight > 0 and 0 < args.max_steps <= args.cps_warmup_steps:
        logger.warning(f"--max-steps {args.max_steps} ends before CPS starts (--cps-warmup-steps {args.cps_warmup_steps}): "
                       "this run trains supervised only, and its model cards will say so", main_process_only=True)
    previous = prepare_output_dir(args, accelerator)

    # ---------------------------------------------------------------- Data
    data = load_data(args, accelerator.num_processes)
    schema = data.schema
    class_weights = supervised_class_weights(args, data)
    config = {  # the resolved config, saved in every checkpoint; JSON round trip so a saved one compares equal
        **json.loads(json.dumps(vars(args))),
        "schema": schema.name,
        "labeled_images": len(data.labeled),
        "unlabeled_images": 0 if data.unlabeled is None else len(data.unlabeled),
        "num_processes": accelerator.num_processes,
        "class_weights": None if class_weights is None else dict(zip(schema.names, class_weights.round(3).tolist())),
    }
    logger.info("config:\n%s", "\n".join(f"  {k}: {json.dumps(v)}" for k, v in config.items()), main_process_only=True)
    processor = make_processor(args.eval_size)
    loader_x, loader_u, eval_loaders, eval_groups = make_loaders(args, data, processor)

    # ---------------------------------------------------------------- Models, optimizers and schedules
    model_a, model_b = build_models(args, schema)
    opt_a, opt_b = make_optimizer(model_a, args), make_optimizer(model_b, args)
    sched_a, sched_b = (
        # with --max-steps 0 the schedule never runs, but it needs a decay step to be built
        get_polynomial_decay_schedule_with_warmup(
            opt, args.warmup_steps, max(args.max_steps, args.warmup_steps + 1), lr_end=0.0, power=args.poly_power
        )
        for opt in (opt_a, opt_b)
    )
    loaders_u = [loader_u] if loader_u is not None else []
    model_a, model_b, opt_a, opt_b, sched_a, sched_b, loader_x, *loaders_u = accelerator.prepare(
        model_a, model_b, opt_a, opt_b, sched_a, sched_b, loader_x, *loaders_u
    )
    eval_loaders = {split: accelerator.prepare(loader) for split, loader in eval_loaders.items()}
    progress = Progress()
    emas = make_emas(accelerator, (model_a, model_b), args.ema_decay)
    register_state(accelerator, progress, emas or ())
    # the weights evaluated and exported: the moving averages when there are
    exported_a, exported_b = (ema.module for ema in emas) if emas else (model_a, model_b)
    if args.resume and previous:
        check_resume_config(json.loads((previous[-1] / "config.json").read_text()), config)
        accelerator.load_state(str(previous[-1]))
        logger.info("resumed from %s (step %d)", previous[-1], progress.step, main_process_only=True)
        if progress.step > args.max_steps:
            raise SystemExit(f"error: {previous[-1]} is at step {progress.step}, past --max-steps {args.max_steps}")
    elif args.resume:
        logger.info("no checkpoint in %s; starting from step 0", ckpt_root, main_process_only=True)
    tracker_config = {k: v if isinstance(v, (int, float, str, bool)) else json.dumps(v) for k, v in config.items()}
    accelerator.init_trackers("cotrain", config=tracker_config)

    # ---------------------------------------------------------------- Train!
    cps = cps_config(args)
    loss_weights = None if class_weights is None else torch.tensor(class_weights, dtype=torch.float32, device=accelerator.device)
    batches_x = batches(accelerator, loader_x, progress.step)
    batches_u = batches(accelerator, loaders_u[0], max(0, progress.step - cps.warmup_steps)) if loaders_u else None
    bar = tqdm(total=args.max_steps, initial=progress.step, desc="cotrain", disable=not accelerator.is_local_main_process)
    logged: dict[str, tuple] = {}  # loss name -> (sum, count) since the last log
    evaluations: dict[int, Evaluation] = {}  # step -> evaluation of the eval split, kept for the best and latest
    model_a.train()
    model_b.train()
    for step in range(progress.step + 1, args.max_steps + 1):
        batch_x = next(batches_x)
        cps_weight = cps.weight_at(step) if batches_u is not None else 0.0
        u = next(batches_u)["pixel_values"] if cps_weight > 0 else None
        losses = train_step(model_a, model_b, batch_x["pixel_values"], batch_x["labels"], u, cps, step, accelerator.backward,
                            class_weights=loss_weights)
        for opt, sched in ((opt_a, sched_a), (opt_b, sched_b)):
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
        for ema, model in zip(emas or (), (model_a, model_b)):
            ema.update_parameters(accelerator.unwrap_model(model))
        progress.step = step
        bar.update(1)

        for name, value in losses.items():
            total, count = logged.get(name, (0.0, 0))
            logged[name] = (total + value.detach().float(), count + 1)
        if step % args.log_every == 0 or step == args.max_steps:
            means = {f"train/{k}": accelerator.reduce(v / n, "mean").item() for k, (v, n) in sorted(logged.items())}
            means["train/lr"] = sched_a.get_last_lr()[0]
            means["train/cps_weight"] = cps_weight
            accelerator.log(means, step=step)
            bar.set_postfix(loss=f"{means['train/loss']:.4f}")
            logged = {}

        new_best = False
        if args.eval_every and (step % args.eval_every == 0 or step == args.max_steps):
            evaluations[step] = evaluate(accelerator, exported_a, exported_b, eval_loaders[args.eval_split], schema)
            result = summarize_split(evaluations[step], eval_groups[args.eval_split], schema)["schemas"][schema.name]
            accelerator.log({f"eval/mean_iou_{v}": result[v]["mean_iou"] or 0.0 for v in USES}, step=step)
            if emas:  # what the averaging adds: the trained weights' own scores beside it
                raw = summarize_split(evaluate(accelerator, model_a, model_b, eval_loaders[args.eval_split], schema),
                                      eval_groups[args.eval_split], schema)["schemas"][schema.name]
                accelerator.log({f"eval/raw_mean_iou_{v}": raw[v]["mean_iou"] or 0.0 for v in USES}, step=step)
                logger.info("step %d: %s mean IoU without EMA %s", step, args.eval_split,
                            " ".join(f"{v} {raw[v]['mean_iou'] or 0.0:.4f}" for v in USES), main_process_only=True)
            miou = result[ENSEMBLE]["mean_iou"] or 0.0
            logger.info("step %d: %s mean IoU %s", step, args.eval_split,
                        " ".join(f"{v} {result[v]['mean_iou'] or 0.0:.4f}" for v in USES), main_process_only=True)
            if miou > progress.best_miou:
                progress.best_step, progress.best_miou, new_best = step, miou, True
            evaluations = {k: v for k, v in evaluations.items() if k in (step, progress.best_step)}
        if new_best or (args.save_every and (step % args.save_every == 0 or step == args.max_steps)):
            save_checkpoint(accelerator, ckpt_root, step, config, keep={step, progress.best_step})
    bar.close()

    # ---------------------------------------------------------------- Export, final evaluation, outputs
    last_step = progress.step
    exported = "best" if args.export == "best" and progress.best_step > 0 else "last"
    if exported == "best" and progress.best_step != last_step:
        accelerator.load_state(str(checkpoint_dir(ckpt_root, progress.best_step)))
    export_step = progress.step
    splits = {}
    for split, loader in eval_loaders.items():
        if split == args.eval_split and export_step in evaluations:
            evaluation = evaluations[export_step]
        else:
            evaluation = evaluate(accelerator, exported_a, exported_b, loader, schema)
        splits[split] = summarize_split(evaluation, eval_groups[split], schema)
    metrics = {"step": export_step, "trained_steps": last_step, "exported": exported, "best_step": progress.best_step,
               "splits": splits, "config": config}
    if accelerator.is_main_process:
        save_outputs(args, accelerator, {"A": exported_a, "B": exported_b}, processor, metrics, schema)
        summary = splits[list(splits)[-1]]["schemas"][schema.name]
        logger.info("%s mean IoU: %s (weights of step %d, %s)", list(splits)[-1],
                    ", ".join(f"{v} {summary[v]['mean_iou'] or 0.0:.4f}" for v in USES), export_step, exported)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return metrics


if __name__ == "__main__":
    main()
