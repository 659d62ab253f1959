"""animeparse web demo: drop an anime illustration, see its parts.

    python app.py                                            # models/animeparse-b0, offline
    python app.py --model-a OWNER/NAME-a --model-b OWNER/NAME-b
    python app.py --backend onnx                             # ONNX Runtime: each model's onnx/ export
    python app.py --no-flip                                  # one forward pass per model, not two (faster)
    python app.py --no-zoom-faces                            # no second, closer look at the faces (faster)
    ANIMEPARSE_MODEL_A=OWNER/NAME-a ANIMEPARSE_MODEL_B=OWNER/NAME-b python app.py   # a Space's settings
    python app.py --save-repo my-corrections --label-queue ~/unlabeled   # where corrections go; what to label next

Each model setting is a Hub id or a local checkpoint folder. Both co-trained branches are loaded
once, at start; each answers with its mean over the picture and its mirror image unless
--no-flip. A prediction keeps each branch's logits in the session (``gr.State``): class
toggles, opacity, views and the 16/13-class switch redraw from them without running a model.
Choosing a branch that has not run on the current image yet (B after A, say) runs it once.

The "correct" view puts the parse under gradio's ImageEditor: strokes in class colors (white for
unlabeled) are read into the session's label map (:mod:`animeparse.correction`) at the next
redraw, fill or save; Save appends the picture and the map as a row of the settings' Datasets
repo (:func:`hf_dataset.append.append_rows`).

The API is one endpoint, ``/parse`` (see :func:`parse`)::

    from gradio_client import Client, handle_file
    label_png, class_names = Client(URL).predict(handle_file("girl.png"), "A+B", "16", api_name="/parse")
"""

from __future__ import annotations

import argparse
import html
import math
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Literal

import gradio as gr
import numpy as np
from PIL import Image

from animeparse.branches import ENSEMBLE, USES
from animeparse.correction import Correction, brush_colors, fill_enclosed, read_strokes
from animeparse.drawing import class_shares, color_map, disagreement_view, overlay
from animeparse.files import FAST_PNG_LEVEL, png_bytes
from animeparse.images import ImageError, fit_within, load_rgb
from animeparse.inference import (
    DEFAULT_MODEL_A, DEFAULT_MODEL_B, MAX_SIDE, Branch, Prediction, load_branches, model_schema, predict, rank_by_disagreement,
)
from animeparse.labels import IGNORE_INDEX, Schema, schema_choices
from animeparse.model import ModelLoadError
from animeparse.onnx_backend import BACKENDS
from animeparse.outputs import export
from animeparse.predict import collect_inputs
from animeparse.sources import is_local
from hf_dataset.append import RowExists, append_rows
from hf_dataset.records import image_value, label_value, make_row

EXAMPLES = sorted(str(p) for p in (Path(__file__).parent / "examples").iterdir() if p.suffix in (".jpg", ".png"))
FILES_DIR = Path(tempfile.gettempdir()) / "animeparse-app"  # pictures and downloads handed to gradio
API_DIR = Path(tempfile.gettempdir()) / "animeparse-api"  # the API's label maps
gr.set_static_paths([API_DIR])  # an API endpoint's files skip gradio's postprocessing: served from here
FILES_MAX_AGE_S = 600  # gradio copies the page's files into its own cache at once; API clients fetch theirs at once
SWEEP_EVERY_S = 60
MAX_UPLOAD = "50mb"
VIEWS = ("overlay", "color map", "side by side", "disagreement", "correct")
SAVE_SPLITS = ("train", "validation", "test")
UNLABELED = "unlabeled (ignore)"  # the brush's white: pixels no loss or metric counts
UNLABELED_KEY = ('<div><span style="display:inline-flex;align-items:center;gap:4px"><span style="width:14px;height:14px;'
                 f'border:1px solid #888;background:white"></span>{UNLABELED}: paint to leave pixels unlabeled</span></div>')
DEFAULT_OPACITY = 0.6
IMAGE_HEIGHT = 420  # px on the page; images scale to fit


def read_settings(argv: list[str]) -> argparse.Namespace:
    """Environment variables (how a Space passes settings), overridden by command-line options."""
    env = os.environ
    parser = argparse.ArgumentParser(description="The animeparse web demo.")
    parser.add_argument("--model-a", default=env.get("ANIMEPARSE_MODEL_A", DEFAULT_MODEL_A),
                        help="branch A: Hub id or local folder (env ANIMEPARSE_MODEL_A)")
    parser.add_argument("--model-b", default=env.get("ANIMEPARSE_MODEL_B", DEFAULT_MODEL_B),
                        help="branch B: Hub id or local folder (env ANIMEPARSE_MODEL_B)")
    parser.add_argument("--backend", default=env.get("ANIMEPARSE_BACKEND", "torch"), choices=BACKENDS,
                        help="run the models with PyTorch or ONNX Runtime (their onnx/ exports; env ANIMEPARSE_BACKEND)")
    parser.add_argument("--flip", action=argparse.BooleanOptionalAction, default=env.get("ANIMEPARSE_FLIP", "1") != "0",
                        help="average each model over the picture and its mirror image: better parts, more model time "
                             "(default; --no-flip or env ANIMEPARSE_FLIP=0 for the plain forward pass)")
    parser.add_argument("--zoom-faces", action=argparse.BooleanOptionalAction, default=env.get("ANIMEPARSE_ZOOM_FACES", "1") != "0",
                        help="a second, closer look at the faces: finer eyes, eyebrows, mouths and hair, one more forward "
                             "pass per model (default; --no-zoom-faces or env ANIMEPARSE_ZOOM_FACES=0 to skip it)")
    parser.add_argument("--save-repo", type=Path, default=Path(env.get("ANIMEPARSE_SAVE_REPO", "animeparse-corrections")),
                        help="local Datasets repo folder that corrected parses are saved to; made on the first save "
                             "(env ANIMEPARSE_SAVE_REPO; default ./animeparse-corrections)")
    parser.add_argument("--push-repo", default=env.get("ANIMEPARSE_PUSH_REPO"), metavar="ORG/NAME",
                        help="Hub dataset that saves may also be pushed to, private, with the token in HF_TOKEN "
                             "(env ANIMEPARSE_PUSH_REPO; default: no pushing)")
    parser.add_argument("--label-queue", type=Path, default=env.get("ANIMEPARSE_LABEL_QUEUE"), metavar="DIR",
                        help="folder of your unlabeled images for the 'next to label' list, ranked by how much A and B "
                             "disagree on each (env ANIMEPARSE_LABEL_QUEUE; default: no list)")
    parser.add_argument("--host", default=env.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to serve on (env GRADIO_SERVER_NAME; a Space sets 0.0.0.0)")
    parser.add_argument("--port", type=int, default=int(env.get("GRADIO_SERVER_PORT", "7860")),
                        help="port to serve on (env GRADIO_SERVER_PORT)")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port must be in 1..65535, got {args.port}")
    if args.push_repo and not re.fullmatch(r"[\w.-]+/[\w.-]+", args.push_repo):
        parser.error(f"--push-repo {args.push_repo!r}: expected ORG/NAME")
    return args


def load_models(models: dict[str, str], backend: str = "torch", flip: bool = True) -> dict[str, Branch]:
    """Load the branches, or stop with a message that says how to point the app at models."""
    for name, source in models.items():
        if is_local(source) and not Path(source).is_dir():
            raise SystemExit(
                f"animeparse app: no model {name}: {source} is not a folder. Train the default models, or point "
                "the app at checkpoints (Hub ids or local folders) with ANIMEPARSE_MODEL_A / ANIMEPARSE_MODEL_B "
                "or python app.py --model-a ... --model-b ..."
            )
    try:
        return load_branches(models, backend, flip)
    except ModelLoadError as e:
        raise SystemExit(f"animeparse app: {e}") from None


# Imported (tests, benchmarks), the app takes its settings from the environment alone.
SETTINGS = read_settings(sys.argv[1:] if __name__ == "__main__" else [])
MODELS = load_models({"A": SETTINGS.model_a, "B": SETTINGS.model_b}, SETTINGS.backend, SETTINGS.flip)
SCHEMA = model_schema(MODELS["A"][0])
SCHEMAS = schema_choices(SCHEMA)  # "16" -> 16 classes, "13" -> the 13-class merge
SHARED_NAMES = set.intersection(*(set(s.names) for s in SCHEMAS.values()))


# ---------------------------------------------------------------- handlers


def refuse(message: str) -> gr.Error:
    """An error for the user (bad input), shown on the page; not a server fault, so no traceback in the log."""
    return gr.Error(message, print_exception=False)


def read_image(path: str) -> tuple[Image.Image, str]:
    """An uploaded file as RGB (at most MAX_SIDE on a side), and a safe name for exports. Gradio
    keeps an upload under its original file name, so messages and downloads can name it."""
    name = Path(path).name
    try:
        rgb = load_rgb(path, name=name)
    except ImageError as e:
        raise refuse(str(e)) from None
    small = fit_within(rgb, MAX_SIDE)
    if small.size != rgb.size:
        gr.Info(f"{name}: {rgb.width}x{rgb.height} downscaled to {small.width}x{small.height} for parsing")
    stem = re.sub(r"[^\w.-]+", "_", Path(name).stem)[:64] or "image"
    return small, stem


def parse_upload(image: str | None, use: str, view: str) -> tuple[Prediction | None, None, dict | None]:
    """Run the models on a new image; the result stays in the session for every redraw. A new
    image starts with no correction. A refused file is named in a message and cleared from the
    input box in the same step (no broken picture stays there)."""
    if image is None:
        return None, None, gr.update()
    try:
        rgb, stem = read_image(image)
    except gr.Error as e:
        gr.Warning(e.message)
        return None, None, None
    prediction = predict(MODELS, rgb, ENSEMBLE if view == "disagreement" else use, name=stem, zoom=SETTINGS.zoom_faces)
    return prediction, None, gr.update()


def edited_layer(edited: dict | None) -> np.ndarray | None:
    """The strokes the editor sent, or None if it was not painted on since the app drew it (the
    editor sends no composite then)."""
    if not edited or edited.get("composite") is None or not edited.get("layers"):
        return None
    return np.asarray(Image.open(edited["layers"][0]).convert("RGBA"))


def corrected(pred: Prediction, use: str, schema_key: str, edited: dict | None, corr: Correction | None) -> Correction:
    """The session's correction with the editor's new paint read in; a new one (the current
    parse) when there is none yet in these classes."""
    schema = SCHEMAS[schema_key]
    if corr is None or corr.schema_key != schema_key:
        if corr is not None and corr.history:
            gr.Info(f"The correction starts again from the parse in {schema_key} classes (a repo holds one class set)")
        labels = pred.run(MODELS, use).labels(use, schema)
        return Correction(schema_key, labels.copy())
    layer = edited_layer(edited)
    if layer is not None:
        corr.change(read_strokes(layer, corr.labels, schema))
    return corr


def editor_value(pred: Prediction, corr: Correction, schema: Schema, visible: set[int], opacity: float) -> dict:
    """The editor's picture: the correction so far over the image, as a PNG file (fast to encode,
    exact colors), under an empty paint layer."""
    painted = overlay(pred.image, corr.labels, schema, visible, opacity)
    return {"background": picture(painted, "correction.png"), "layers": [], "composite": None}


def legend(schema: Schema, labels: np.ndarray, visible: set[int]) -> str:
    """Swatches in the schema's palette for the classes in the picture; hidden ones faded."""
    items = []
    for i in np.unique(labels).tolist():
        if i < schema.num_classes:
            fade = "" if i in visible else "opacity:0.35;text-decoration:line-through;"
            items.append(
                f'<span style="display:inline-flex;align-items:center;gap:4px;margin:2px 10px 2px 0;{fade}">'
                f'<span style="width:14px;height:14px;border:1px solid #888;background:rgb{schema.palette[i]}"></span>'
                f"{html.escape(schema.names[i])}</span>"
            )
    return f'<div>{"".join(items)}</div>'


_last_sweep: dict[Path, float] = {}  # root -> when fresh_dir last removed its old folders


def fresh_dir(root: Path = FILES_DIR) -> Path:
    """A new folder under ``root`` for files to return to gradio. Folders older than
    FILES_MAX_AGE_S go, swept at most every SWEEP_EVERY_S: a sweep reads every folder's age, and
    the folders of the last ten minutes' requests would cost each request that much again."""
    now = time.time()
    if now - _last_sweep.get(root, -math.inf) >= SWEEP_EVERY_S:
        _last_sweep[root] = now
        for old in root.glob("*"):
            if now - old.stat().st_mtime > FILES_MAX_AGE_S:
                shutil.rmtree(old, ignore_errors=True)
    folder = root / uuid.uuid4().hex
    folder.mkdir(parents=True)
    return folder


def picture(array: np.ndarray, name: str = "parts.png", root: Path = FILES_DIR) -> str:
    """A PNG file of a picture for the page. Returning the array would make gradio encode it at
    PNG's default compression, which takes 4x longer than drawing the picture."""
    path = fresh_dir(root) / name
    path.write_bytes(png_bytes(array, FAST_PNG_LEVEL))
    return str(path)


def share_table(labels: np.ndarray, schema: Schema) -> list[list]:
    """Classes present, largest first, in percent to two decimals; none shown as 0."""
    shares = sorted((r for r in class_shares(labels, schema) if round(r[2], 2) > 0), key=lambda r: -r[2])
    return [[name, round(share, 2)] for _, name, share in shares]


def show(
    pred: Prediction | None, use: str, schema_key: str, classes: list[str], opacity: float, view: str,
    edited: dict | None = None, corr: Correction | None = None,
):
    """Draw the current view from the kept prediction (runs a branch only if it never ran here).

    Returns the picture, the side-by-side slider, the correction editor (one of the three is
    visible), legend, table and the session's correction (the editor's paint read in).
    """
    hide = gr.update(visible=False)
    if pred is None:
        return gr.update(value=None, visible=True), gr.update(value=None, visible=False), hide, "", [], None
    schema = SCHEMAS[schema_key]
    visible = {schema.label2id[c] for c in classes if c in schema.label2id}
    if corr is not None or view == "correct":
        corr = corrected(pred, use, schema_key, edited, corr)
    if view == "correct":
        key = legend(schema, np.arange(schema.num_classes), visible) + UNLABELED_KEY
        editor = gr.update(value=editor_value(pred, corr, schema, visible, opacity), visible=True)
        return hide, hide, editor, key, share_table(corr.labels, schema), corr
    labels = pred.run(MODELS, use).labels(use, schema)
    table = share_table(labels, schema)
    if view == "disagreement":
        disagree = pred.run(MODELS, ENSEMBLE).disagreement(schema)
        note = f"<p>A and B pick different classes on {disagree.mean():.1%} of the pixels (magenta).</p>"
        shown = picture(disagreement_view(pred.image, disagree))
        return gr.update(value=shown, visible=True), hide, hide, note, table, corr
    painted = overlay(pred.image, labels, schema, visible, opacity)
    key = legend(schema, labels, visible)
    if view == "side by side":
        pair = (picture(pred.image), picture(painted))
        return hide, gr.update(value=pair, visible=True), hide, key, table, corr
    shown = picture(color_map(labels, schema, visible) if view == "color map" else painted)
    return gr.update(value=shown, visible=True), hide, hide, key, table, corr


def fill(pred, use, schema_key, classes, opacity, edited, corr, paint_class):
    """Fill what the paint class encloses (an outline painted around a region), then redraw."""
    if pred is None:
        return gr.update(), gr.update(), None
    schema = SCHEMAS[schema_key]
    corr = corrected(pred, use, schema_key, edited, corr)
    class_id = IGNORE_INDEX if paint_class == UNLABELED else schema.label2id.get(paint_class)
    if class_id is not None:
        corr.change(fill_enclosed(corr.labels, class_id))
    return redraw_editor(pred, schema_key, classes, opacity, corr)


def undo(pred, use, schema_key, classes, opacity, edited, corr):
    """Take back the last change that reached the server (the editor's own Undo takes back strokes)."""
    if pred is None:
        return gr.update(), gr.update(), None
    corr = corrected(pred, use, schema_key, edited, corr)
    if corr.history:
        corr.labels = corr.history.pop()
    else:
        gr.Info("Nothing to undo")
    return redraw_editor(pred, schema_key, classes, opacity, corr)


def reset(pred, use, schema_key, classes, opacity):
    """Start the correction again from the current parse."""
    if pred is None:
        return gr.update(), gr.update(), None
    return redraw_editor(pred, schema_key, classes, opacity, corrected(pred, use, schema_key, None, None))


def redraw_editor(pred, schema_key, classes, opacity, corr):
    schema = SCHEMAS[schema_key]
    visible = {schema.label2id[c] for c in classes if c in schema.label2id}
    return editor_value(pred, corr, schema, visible, opacity), share_table(corr.labels, schema), corr


def paint_brush(schema_key: str, paint_class: str):
    """The brush palette of the classes, set to the chosen class's color."""
    schema = SCHEMAS[schema_key]
    colors = brush_colors(schema)
    i = schema.label2id.get(paint_class, len(colors) - 1)  # "unlabeled": the last color
    return gr.update(brush=gr.Brush(colors=colors, default_color=colors[i], color_mode="fixed"))


def save(pred, use, schema_key, edited, corr, split, replace, push):
    """Save the picture and its corrected label map as a new row of the settings' Datasets repo."""
    if pred is None:
        raise refuse("Parse a picture first, then correct it")
    if split not in SAVE_SPLITS:
        raise refuse(f"split must be one of {list(SAVE_SPLITS)}, got {split!r}")
    corr = corrected(pred, use, schema_key, edited, corr)
    schema = SCHEMAS[schema_key]
    image, _ = image_value(png_bytes(pred.image), pred.name)
    row = make_row(image, label_value(corr.labels), f"{pred.name}.png", {"source": "animeparse app correction"})
    try:
        saved = append_rows(SETTINGS.save_repo, split, [row], schema, replace=bool(replace))
    except RowExists:
        raise refuse(f"{split} already has a row named {pred.name}.png: tick 'Replace a row of the same name' to "
                     "overwrite it, or rename the picture") from None
    except ValueError as e:
        raise refuse(str(e)) from None
    done = "replaced" if saved.replaced else "added"
    message = f"Saved: {pred.name}.png {done} in {split} of {SETTINGS.save_repo} ({saved.rows} rows in {split})."
    if push and SETTINGS.push_repo:
        from hf_dataset.hub import push as push_repo

        try:
            url, _ = push_repo(SETTINGS.save_repo, SETTINGS.push_repo, private=True)
        except Exception as e:  # the local save stands; say why the upload did not
            gr.Warning(f"Saved locally, but pushing to {SETTINGS.push_repo} failed: {type(e).__name__}: {e}")
        else:
            message += f" Pushed to {url}."
    gr.Info(message)
    return corr, message


def export_files(pred: Prediction | None, use: str, schema_key: str) -> list[str] | None:
    """The label map, color map and per-class layers of the current model and schema."""
    if pred is None:
        return None
    return [str(p) for p in export(pred.run(MODELS, use), use, SCHEMAS[schema_key], fresh_dir())]


def class_choices(schema_key: str, classes: list[str]) -> dict:
    """The class toggles of another schema: shared classes keep their state, the others start on."""
    names = SCHEMAS[schema_key].names
    return gr.update(choices=list(names), value=[n for n in names if n in classes or n not in SHARED_NAMES])


def label_queue(progress=gr.Progress()) -> list[list]:
    """The settings' folder of unlabeled images, the most disputed first: (file, % of pixels where A and B differ)."""
    if SETTINGS.label_queue is None or not SETTINGS.label_queue.is_dir():
        raise refuse(f"No folder to rank: start the app with --label-queue DIR (now: {SETTINGS.label_queue})")
    try:
        files = collect_inputs([SETTINGS.label_queue])
    except ValueError as e:  # two files of one stem
        raise refuse(str(e)) from None
    ranked = rank_by_disagreement(MODELS, progress.tqdm(files, desc="parsing"))
    return [[r.path.name, round(100 * r.disagreement, 2) if r.disagreement is not None else None, r.problem] for r in ranked]


def pick_from_queue(evt: gr.SelectData) -> str:
    """The queue image whose row was clicked, for the input box (only files of the settings' folder)."""
    name = evt.row_value[0]
    path = SETTINGS.label_queue / Path(name).name
    if not path.is_file():
        raise refuse(f"{name} is no longer in {SETTINGS.label_queue}")
    return str(path)


def parse(
    image: gr.FileData, model: Literal[USES] = ENSEMBLE, classes: Literal[tuple(SCHEMAS)] = str(SCHEMA.num_classes)
) -> tuple[gr.FileData, list[str]]:
    """Parse an image: its label map (a PNG of class ids) and the class names, index = id.

    model: branch A, branch B, or A+B, the average of both; classes: the models' class count, or
    that of one of their merges (13 for the 16-class models).
    """
    # gradio hands an API endpoint its values as sent: the file as a dict, choices unchecked
    if model not in USES:
        raise refuse(f"model must be one of {list(USES)}, got {model!r}")
    if classes not in SCHEMAS:
        raise refuse(f"classes must be one of {list(SCHEMAS)}, got {classes!r}")
    rgb, stem = read_image(image["path"])
    schema = SCHEMAS[classes]
    labels = predict(MODELS, rgb, model, name=stem, zoom=SETTINGS.zoom_faces).labels(model, schema)
    return gr.FileData(path=picture(labels, f"{stem}_labels.png", API_DIR)), list(schema.names)


# ---------------------------------------------------------------- page

with gr.Blocks(title="animeparse", delete_cache=(3600, 3600)) as demo:
    gr.Markdown(
        "# animeparse\nDrop an anime illustration or sketch: every pixel gets a part label. "
        "Two co-trained SegFormer models (A and B); their average is the ensemble, and where they "
        f"disagree is where they are unsure. Images over {MAX_SIDE} px are downscaled."
    )
    prediction = gr.State(time_to_live=3600)
    correction = gr.State(time_to_live=3600)
    with gr.Row():
        with gr.Column():
            image_in = gr.Image(
                label="Illustration", type="filepath", image_mode=None, sources=["upload", "clipboard"],
                height=IMAGE_HEIGHT, elem_id="input",
            )
            examples = gr.Examples(EXAMPLES, inputs=image_in) if EXAMPLES else None
        with gr.Column():
            result = gr.Image(label="Parts", format="png", interactive=False, height=IMAGE_HEIGHT, elem_id="result")
            # max_height no taller than the box: the slider scales a picture to max_height and the box
            # crops what is taller (a tall sprite lost its lower part)
            compare = gr.ImageSlider(
                label="Input | parts", format="png", visible=False, height=IMAGE_HEIGHT, max_height=IMAGE_HEIGHT - 40,
                elem_id="compare",
            )
            editor = gr.ImageEditor(
                label="Correct: paint with a class color (white: unlabeled); the eraser takes back paint", type="filepath",
                image_mode="RGBA", format="png", sources=(), transforms=(), visible=False, height=IMAGE_HEIGHT + 120,
                layers=gr.LayerOptions(allow_additional_layers=False, layers=["labels"]), elem_id="editor",
                brush=gr.Brush(colors=brush_colors(SCHEMA), color_mode="fixed",
                               default_color=brush_colors(SCHEMA)[min(1, SCHEMA.num_classes - 1)]),
                eraser=gr.Eraser(),
            )
            key = gr.HTML(elem_id="legend")
    with gr.Row():
        view = gr.Radio(list(VIEWS), value="overlay", label="View")
        use = gr.Radio([("A", "A"), ("B", "B"), ("A+B ensemble", ENSEMBLE)], value=ENSEMBLE, label="Model")
        schema_key = gr.Radio(
            [(f"{k} classes", k) for k in SCHEMAS], value=str(SCHEMA.num_classes), label="Classes"
        )
        opacity = gr.Slider(0, 1, value=DEFAULT_OPACITY, step=0.05, label="Overlay opacity", elem_id="opacity")
    with gr.Row():
        classes = gr.CheckboxGroup(
            list(SCHEMA.names), value=list(SCHEMA.names[1:]), label="Show classes", scale=5, elem_id="classes"
        )
        with gr.Column(scale=1, min_width=120):
            all_on = gr.Button("All", size="sm")
            all_off = gr.Button("None", size="sm")
    with gr.Accordion("Correct and save as training data (view: correct)", open=False, elem_id="correct-panel"):
        with gr.Row():
            paint_class = gr.Dropdown([*SCHEMA.names, UNLABELED], value=SCHEMA.names[min(1, SCHEMA.num_classes - 1)],
                                      label="Class to paint and fill", elem_id="paint-class")
            fill_button = gr.Button("Fill what this class encloses", elem_id="fill")
            undo_button = gr.Button("Undo", elem_id="undo")
            reset_button = gr.Button("Start again from the parse", elem_id="reset")
        with gr.Row():
            split = gr.Dropdown(list(SAVE_SPLITS), value="train", label="Split", elem_id="split")
            replace = gr.Checkbox(False, label="Replace a row of the same name", elem_id="replace")
            push = gr.Checkbox(False, label=f"Also push to {SETTINGS.push_repo} (private)", visible=bool(SETTINGS.push_repo))
            save_button = gr.Button("Save", variant="primary", elem_id="save")
        saved_note = gr.Markdown(f"Rows are saved to the Datasets repo `{SETTINGS.save_repo}`.", elem_id="saved")
    with gr.Accordion("Next to label: your images ranked by A/B disagreement", open=False, visible=SETTINGS.label_queue is not None,
                      elem_id="queue-panel"):
        gr.Markdown(f"Images in `{SETTINGS.label_queue}`, the ones the two models disagree on most first: labeling "
                    "those teaches the models most. Click a row to parse it, then correct and save it.")
        rank_button = gr.Button("Rank the folder", elem_id="rank")
        queue = gr.Dataframe(headers=["file", "A/B disagree %", "problem"], interactive=False, elem_id="queue")
    with gr.Row():
        downloads = gr.File(
            label="Downloads: label map, color map, per-class layers", file_count="multiple", interactive=False
        )
        table = gr.Dataframe(headers=["class", "pixels %"], label="Share of pixels", interactive=False)
    private = dict(api_visibility="private")  # page events; the API is /parse alone
    redraw = dict(
        fn=show, inputs=[prediction, use, schema_key, classes, opacity, view, editor, correction],
        outputs=[result, compare, editor, key, table, correction], **private,
    )
    editing = [prediction, use, schema_key, classes, opacity, editor, correction]
    refresh = dict(fn=export_files, inputs=[prediction, use, schema_key], outputs=downloads, **private)
    run_models = dict(concurrency_id="model")  # one model run at a time

    rank_button.click(label_queue, None, queue, **run_models, **private)
    picked = queue.select(pick_from_queue, None, image_in, **private)

    # A new image: an upload, paste or clear (.input), an example or a queue pick. Not .change: it
    # fires twice when an image replaces another, which would run the models twice.
    for new_image in [image_in.input, picked.success] + ([examples.load_input_event.then] if examples else []):
        parsed = new_image(parse_upload, [image_in, use, view], [prediction, correction, image_in], **run_models, **private)
        parsed.success(**redraw).success(**refresh)
    use.input(**redraw).success(**refresh)
    schema_key.input(class_choices, [schema_key, classes], classes, **private).then(**redraw).success(**refresh)
    for control in (classes, view):
        control.input(**redraw)
    opacity.input(**redraw, trigger_mode="always_last")
    all_on.click(lambda k: list(SCHEMAS[k].names), schema_key, classes, **private).then(**redraw)
    all_off.click(lambda: [], None, classes, **private).then(**redraw)
    fill_button.click(fill, [*editing, paint_class], [editor, table, correction], **private)
    undo_button.click(undo, editing, [editor, table, correction], **private)
    reset_button.click(reset, editing[:5], [editor, table, correction], **private)
    paint_class.input(paint_brush, [schema_key, paint_class], editor, **private)
    schema_key.input(lambda k: gr.update(choices=[*SCHEMAS[k].names, UNLABELED], value=SCHEMAS[k].names[1]), schema_key,
                     paint_class, **private).then(paint_brush, [schema_key, paint_class], editor, **private)
    save_button.click(save, [prediction, use, schema_key, editor, correction, split, replace, push],
                      [correction, saved_note], **private)
    gr.api(parse, api_name="parse", **run_models)


if __name__ == "__main__":
    demo.queue().launch(server_name=SETTINGS.host, server_port=SETTINGS.port, max_file_size=MAX_UPLOAD)
