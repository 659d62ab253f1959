"""Model cards for trained models: YAML metadata and tables filled from measured metrics.

``train/cotrain.py`` and ``model_card.publish`` call :func:`branch_cards` with a run's
``metrics.json`` (its entries per schema: A, B and A+B, see :mod:`animeparse.branches`) and its
resolved config; each text goes to its model folder's README.md. The layout is
``template.md`` (Jinja, rendered by ``huggingface_hub.ModelCard``); the metadata follows the Hub's
model card spec, so the Hub shows the task widget and the ``model-index`` results.
"""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from animeparse.branches import BRANCHES, ENSEMBLE, USES
from animeparse.live2d.backgrounds import COLLECTIONS, describe
from animeparse.model import input_size
from animeparse.sources import is_local
from hf_dataset.card import card_sources

TEMPLATE = Path(__file__).with_name("template.md")

TAGS = ["image-segmentation", "semantic-segmentation", "segformer", "anime", "character-parsing", "cross-pseudo-supervision"]


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def report_split(metrics: dict) -> str:
    """The split the card reports: ``test`` when the run evaluated one, else the validation split."""
    splits = metrics["splits"]
    return "test" if "test" in splits else next(iter(splits))


def results_table(metrics: dict, branch: str) -> str:
    rows = []
    for split, result in metrics["splits"].items():
        for schema_name, variants in result["schemas"].items():
            rows.append(
                [split, schema_name, str(result["num_images"]), _pct(variants[branch]["mean_iou"]),
                 _pct(variants[branch]["overall_accuracy"]), _pct(variants[ENSEMBLE]["mean_iou"])]
            )
    return _table(["split", "classes", "images", f"mean IoU ({branch}) %", f"pixel accuracy ({branch}) %", f"mean IoU ({ENSEMBLE}) %"], rows)


def class_table(variants: dict) -> str:
    names = list(variants["A"]["per_category_iou"])
    rows = [[name] + [_pct(variants[v]["per_category_iou"][name]) for v in USES] for name in names]
    return _table(["class", *(f"IoU {v} %" for v in USES)], rows)


def difficulty_table(variants: dict, branch: str) -> str:
    groups = variants[branch]["per_difficulty"]
    if not groups:
        return "The dataset has no `difficulty` column."
    rows = [
        [name, str(g["num_images"]), _pct(g["mean_iou"]), _pct(variants[ENSEMBLE]["per_difficulty"][name]["mean_iou"])]
        for name, g in groups.items()
    ]
    return _table(["difficulty", "images", f"mean IoU ({branch}) %", f"mean IoU ({ENSEMBLE}) %"], rows)


def comparison_table(runs: dict[str, dict], split: str = "test", variant: str = ENSEMBLE) -> str:
    """Mean IoU of several runs side by side: a row per run (name: its metrics.json), columns per
    difficulty and overall under each schema, as in the README's results."""
    first = next(iter(runs.values()))["splits"][split]["schemas"]
    columns = [(schema, group) for schema, variants in first.items() for group in (*variants[variant]["per_difficulty"], "all")]
    rows = []
    for name, metrics in runs.items():
        variants, config = metrics["splits"][split]["schemas"], metrics["config"]
        cells = [_pct(variants[s][variant]["mean_iou"] if g == "all" else variants[s][variant]["per_difficulty"][g]["mean_iou"])
                 for s, g in columns]
        rows.append([name, f"{config['labeled_fraction']:g}", f"{config['cps_weight']:g}", str(metrics["trained_steps"]), *cells])
    header = ["run", "labels", "CPS weight", "steps", *(f"{g} ({s})" for s, g in columns)]
    return _table(header, rows)


def settings_table(config: dict) -> str:
    keys = [
        ("init", "initialisation"), ("scratch_size", "scratch size"), ("max_steps", "steps"),
        ("batch_size", "labeled batch per process"), ("unlabeled_batch_size", "unlabeled batch per process"),
        ("num_processes", "processes"), ("lr", "learning rate (AdamW)"), ("head_lr_scale", "decode head lr scale"),
        ("weight_decay", "weight decay"), ("warmup_steps", "warmup steps"), ("poly_power", "polynomial decay power"),
        ("cps_weight", "CPS weight"), ("cps_warmup_steps", "supervised steps before CPS"),
        ("cps_rampup_steps", "CPS weight ramp-up steps"), ("cps_threshold", "pseudo-label confidence threshold"),
        ("crop_size", "crop size"), ("scale_range", "crop scale range"), ("aspect_range", "crop aspect range"),
        ("background_swap", "background swap probability"), ("background_letters", "letters on the background probability"),
        ("part_recolor", "hair and clothes recolor probability"), ("class_weight_power", "class weight power"), ("ema_decay", "EMA decay of the exported weights"),
        ("eval_size", "input size"), ("labeled_fraction", "labeled fraction"),
        ("labeled_images", "labeled images"), ("unlabeled_images", "unlabeled images"),
        ("classes", "classes"), ("mixed_precision", "mixed precision"), ("seed", "seed"),
    ]
    return _table(["setting", "value"], [[label, f"`{config[key]}`"] for key, label in keys if key in config])


CPS_METHOD = "co-trained with cross pseudo supervision (CPS with CutMix, Chen et al., CVPR 2021)"


def training_method(config: dict, metrics: dict) -> str:
    """What the exported weights really went through: CPS, or supervised steps only (a CPS weight
    of 0, or a run, or a kept best step, that ended before CPS's warm-up did)."""
    warmup = config.get("cps_warmup_steps", 0)
    if config.get("cps_weight", 0) == 0:
        return "trained supervised only (CPS weight 0: the baseline of a co-trained pair)"
    if metrics.get("trained_steps", metrics["step"]) <= warmup:
        return (f"trained supervised only: the run's {metrics.get('trained_steps', metrics['step'])} steps ended before "
                f"cross pseudo supervision was to start (after {warmup} supervised steps)")
    if metrics["step"] <= warmup:
        return (f"trained supervised only: the exported weights are from step {metrics['step']}, before cross pseudo "
                f"supervision started (after {warmup} supervised steps) in a run of {metrics['trained_steps']} steps")
    return CPS_METHOD


def eval_results(metrics: dict, branch: str, dataset_id: str, dataset_name: str) -> list[EvalResult]:
    split = report_split(metrics)
    out = []
    for schema_name, variants in metrics["splits"][split]["schemas"].items():
        for metric_type, label in (("mean_iou", "mean IoU"), ("overall_accuracy", "pixel accuracy")):
            value = variants[branch][metric_type]
            if value is not None:
                out.append(EvalResult(
                    task_type="image-segmentation", task_name="Anime character parsing",
                    dataset_type=dataset_id, dataset_name=dataset_name, dataset_split=split,
                    metric_type=metric_type, metric_name=f"{label} ({schema_name})", metric_config=schema_name,
                    metric_value=round(value, 4),
                ))
    return out


def dataset_sources(dataset_id: str) -> str:
    """The "Sources and terms" section of a local dataset's card (``hf_dataset/card.py`` writes it
    for data with terms of their own, such as the Live2D sample characters); empty otherwise."""
    card = Path(dataset_id) / "README.md"
    return card_sources(card.read_text(encoding="utf-8")) if is_local(dataset_id) and card.is_file() else ""


def training_data(config: dict, dataset_name: str, sources: str) -> str:
    """The card's account of what the weights learned from, and the terms that come with it."""
    text = (f"`{dataset_name}`: {config.get('labeled_images', '?')} labeled and {config.get('unlabeled_images', '?')} "
            f"unlabeled images.")
    if config["init"] != "scratch":
        text += f" Started from `{config['init']}`" + (f" (branch B from `{config['init_b']}`)" if config.get("init_b") else "") + "."
    if sources:
        text += "\n\n" + sources
    if config.get("background_swap"):
        origin = background_origin(config.get("background_photos", "debian"))
        recolored = (f", each with its hue rotated by up to {config['background_hue']:g} of a turn"
                     if config.get("background_hue") else "")
        text += (f"\n\nTraining swapped the background of {100 * config['background_swap']:.0f}% of the labeled crops "
                 f"for photographs and artwork from {origin}{recolored}.")
    if "Live2D" in sources:
        text += ("\n\n**Weights.** The animeparse code is Apache-2.0; these weights were learned from the Live2D sample "
                 "data above, so its terms apply to them as well: they are not under the code's license alone.")
    return text


def background_origin(sources: str | list[str]) -> str:
    """Where the swapped-in backgrounds came from, for ``--background-photos`` (one source, as
    older runs recorded it, or several)."""
    parts = [describe(s) if s in COLLECTIONS else "a local folder of pictures"
             for s in ([sources] if isinstance(sources, str) else sources)]
    return "; and ".join(parts)


def calibration_note(metrics: dict) -> str:
    """The card's account of per-class offsets folded into the classifier after training
    (``python -m animeparse.calibration``), or nothing for a pair trained and exported as is."""
    record = metrics.get("calibration")
    if not record:
        return ""
    offsets = ", ".join(f"{name} {value:+.2f}" for name, value in record["offsets"].items() if value)
    return (f"\n\nAfter training, the bias of each model's classifier got per-class offsets fitted on the "
            f"`{record['split']}` split ({record['num_images']} pictures; A+B mean IoU over the {len(record['classes_fitted'])} "
            f"classes it shows {100 * record['mean_iou_before']:.1f} -> {100 * record['mean_iou_after']:.1f}, "
            f"at the logits' resolution): {offsets or 'none'}. Classes the split does not show kept their bias.")


def render_model_card(
    *, branch: str, repo_id: str, sibling_id: str, metrics: dict, config: dict, dataset_id: str, class_names: list[str]
) -> str:
    """The README.md of one branch (``"A"`` or ``"B"``).

    ``metrics`` is the run's metrics.json, ``config`` its resolved config, ``dataset_id`` the Hub
    id (or folder name) of the training dataset, ``repo_id`` where this model is published (or
    its local folder) and ``sibling_id`` the other branch's.
    """
    split = report_split(metrics)
    schema_name = next(iter(metrics["splits"][split]["schemas"]))
    variants = metrics["splits"][split]["schemas"][schema_name]
    is_hub_dataset = not is_local(dataset_id)
    dataset_name = dataset_id if is_hub_dataset else Path(dataset_id).name
    card_data = ModelCardData(
        model_name=repo_id,
        pipeline_tag="image-segmentation",
        library_name="transformers",
        datasets=[dataset_id] if is_hub_dataset else None,
        base_model=None if config["init"] == "scratch" or is_local(config["init"]) else config["init"],  # Hub ids only
        tags=TAGS,
        eval_results=eval_results(metrics, branch, dataset_id if is_hub_dataset else dataset_name, dataset_name),
    )
    note = f" (kept for the best validation {ENSEMBLE} mean IoU)" if metrics["exported"] == "best" else ""
    sources = dataset_sources(config["dataset"])
    if "Live2D" in sources:
        card_data.license = "other"
        card_data.license_name = "live2d-free-material-license"
    card = ModelCard.from_template(
        card_data,
        template_path=str(TEMPLATE),
        model_name=repo_id,
        branch=branch,
        method=training_method(config, metrics),
        sibling_id=sibling_id,
        repo_id=repo_id,
        num_classes=len(class_names),
        class_list=", ".join(class_names),
        eval_size=config["eval_size"],
        wide_width=input_size({"height": config["eval_size"], "width": config["eval_size"]}, 16, 9)[0],  # a 16:9 picture
        dataset_name=dataset_name,
        step=metrics["step"],
        max_steps=config["max_steps"],
        selection_note=note,
        report_split=split,
        schema_name=schema_name,
        results_table=results_table(metrics, branch),
        class_table=class_table(variants),
        difficulty_table=difficulty_table(variants, branch),
        settings_table=settings_table(config) + calibration_note(metrics),
        labeled_images=config.get("labeled_images", "?"),
        unlabeled_images=config.get("unlabeled_images", "?"),
        training_data=training_data(config, dataset_name, sources),
    )
    return str(card)


def branch_cards(
    *, metrics: dict, config: dict, dataset_id: str, class_names: list[str], repo_ids: dict[str, str]
) -> dict[str, str]:
    """The README.md of each branch; ``repo_ids`` names where each is published (Hub id or
    folder), and each card links to the other branch's."""
    return {
        branch: render_model_card(branch=branch, repo_id=repo_ids[branch], sibling_id=repo_ids[sibling], metrics=metrics,
                                  config=config, dataset_id=dataset_id, class_names=class_names)
        for branch, sibling in zip(BRANCHES, reversed(BRANCHES))
    }
