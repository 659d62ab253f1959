"""Inference: an image -> each branch's logits -> label maps, by one rule for the whole project.

The two co-trained branches (A and B) are kept. A :class:`Prediction` holds each branch's
logits at the model's output resolution (a quarter of its input size: 16 x 128 x 128 floats for
a 512-px model), so everything a viewer changes afterwards (16 or 13 classes, class toggles,
overlay opacity, the disagreement view) is computed from them without running a model again.
A branch that was not needed yet (the ensemble after viewing only A, say) runs once, on demand.

A picture is framed first (:func:`animeparse.images.pad_to_frame`, its edge pixels repeated): a
taller one is padded to a square, a wider one kept as it is up to 2:1, so its parts keep their
proportions and the model sees the frame's height at its input size.
:func:`class_scores` is the rule by which every label map is made, in the app, the batch command
and training's metrics alike: logits upsampled bilinearly to that frame, the picture's window
of it, then argmax. For a square picture, one branch in its own classes is exactly
transformers' ``post_process_semantic_segmentation`` (``pipeline()`` squashes other pictures). The
A+B ensemble and coarser schemas work on probabilities: the ensemble averages the branches'
softmax, and a merged class (13-class "eyes" = eyes + eyebrows) gets the sum of its members'
probabilities. :func:`label_tensor` applies the rule; in the models' own classes on the CPU it
takes :func:`upsampled_argmax` (one branch) or :func:`ensemble_argmax` (several), which give the
same maps without computing the full-size scores.

What a branch's logits are is chosen when it is loaded: by default (:func:`load_branches`) the
mean of the model's on the picture and on its mirror image (:class:`FlipAveraged`), the app's and
the batch command's answer; with ``flip=False`` the plain forward pass of ``pipeline()`` and of
training's metrics.

A prediction made with ``zoom=True`` also takes a second, closer look at each face
(:mod:`animeparse.faces`): one plain forward pass per branch on a view around the face, whose
probabilities are averaged with the first pass's inside the view.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from transformers import SegformerForSemanticSegmentation, SegformerImageProcessorPil
from transformers.modeling_outputs import SemanticSegmenterOutput

from animeparse.branches import BRANCHES, ENSEMBLE, needed_branches
from animeparse.faces import Box, face_views
from animeparse.images import ImageError, fit_within, frame_window, load_rgb, pad_to_frame
from animeparse.labels import IGNORE_INDEX, Schema, remap_table
from animeparse.model import ModelLoadError, model_input
from animeparse.onnx_backend import load_backend_model

DEFAULT_MODELS = Path(__file__).resolve().parent.parent / "models" / "animeparse-b0"
DEFAULT_MODEL_A = str(DEFAULT_MODELS / "model_a")
DEFAULT_MODEL_B = str(DEFAULT_MODELS / "model_b")

MAX_SIDE = 2048
"""Images are parsed at most this large (longer side); larger ones are downscaled first. The
models see 512 px anyway, and full-size score maps of bigger images would take gigabytes."""

Branch = tuple[SegformerForSemanticSegmentation, SegformerImageProcessorPil]
"""A loaded model and its image processor, as :func:`animeparse.model.load_model` returns them; the
model may stand in for one (an ONNX Runtime session, a :class:`FlipAveraged` wrapper): all that
is used of it is ``model(pixel_values=...).logits``, ``config``, ``device`` and ``dtype``."""


# ---------------------------------------------------------------- models


def model_schema(model) -> Schema:
    """The schema of a model's classes: the canonical one (with its merges) when the names match."""
    return Schema.from_id2label(model.config.id2label, name=f"{len(model.config.id2label)}-class model")


class FlipAveraged:
    """A segmenter whose logits are the mean of its model's on the pixels and (mirrored back) on
    their mirror image: test-time flip augmentation, one batch of two. Parts have no left or right
    in the schema, so the mirror image is as good a view; averaging the two removes some of each
    view's own errors (the real benchmark's A+B 16-class mean IoU gained 0.007, Ren'Py line art
    0.019) for a second forward pass. Its answer is mirror-symmetric: its logits of mirrored pixels
    are exactly its mirrored logits. Everything else is the wrapped model's."""

    def __init__(self, model):
        self.model = model

    def __getattr__(self, name: str):  # config, device, dtype, eval(), an ONNX session...
        return getattr(self.model, name)

    @staticmethod
    def mirrored_batch(pixel_values: torch.Tensor) -> torch.Tensor:
        """The batch the model runs on: the pixels, then their mirror images. On the CPU numpy
        builds it: after a parallel torch operation, torch's idle threads spin on the cores for a
        few milliseconds, and an ONNX Runtime run started then is slowed by as much (the app's
        flipped parse on a 2-core CPU: 4 ms of its 120 ms forward pass)."""
        if pixel_values.device.type != "cpu":
            return torch.cat([pixel_values, pixel_values.flip(-1)])
        x = pixel_values.numpy()
        return torch.from_numpy(np.concatenate([x, x[..., ::-1]]))

    def __call__(self, pixel_values: torch.Tensor) -> SemanticSegmenterOutput:
        n = len(pixel_values)
        logits = self.model(pixel_values=self.mirrored_batch(pixel_values)).logits
        # a + b == b + a in floating point too, hence the exact symmetry. The mean comes out
        # channels-last; upsampling and softmax over classes on that layout took 3-4x as long
        # (A+B's dense rule on a 1280x720 picture: 680 vs 205 ms), hence contiguous.
        return SemanticSegmenterOutput(logits=((logits[:n] + logits[n:].flip(-1)) / 2).contiguous())

    def __repr__(self) -> str:
        return f"FlipAveraged({self.model!r})"


def single_pass(model):
    """The model a :class:`FlipAveraged` wraps (one forward pass per picture), else the model itself."""
    return model.model if isinstance(model, FlipAveraged) else model


def load_branches(models: Mapping[str, str], backend: str = "torch", flip: bool = True) -> dict[str, Branch]:
    """Load each named branch ({"A": id or path, ...}); all must share one class list.

    ``backend="onnx"`` runs each checkpoint's ``onnx/model.onnx`` (``python -m animeparse.export``)
    with ONNX Runtime instead of PyTorch; everything else (preprocessing, label maps) is the same.
    ``flip`` (the default) averages each model over the picture and its mirror image
    (:class:`FlipAveraged`); without it a branch gives the plain forward pass, as ``pipeline()``
    and training's metrics do, faster (a batch of two costs PyTorch 1.3x one picture on a 2-core
    CPU, ONNX Runtime 2x).
    """
    branches = {name: load_backend_model(source, backend) for name, source in models.items()}
    if flip:
        branches = {name: (FlipAveraged(model), processor) for name, (model, processor) in branches.items()}
    schemas = {name: model_schema(model) for name, (model, _) in branches.items()}
    first = next(iter(schemas))
    for name, schema in schemas.items():
        if schema.names != schemas[first].names:
            raise ModelLoadError(
                f"model {name} ({models[name]}) has classes {list(schema.names)}, but model {first} "
                f"({models[first]}) has {list(schemas[first].names)}; both branches must share one schema"
            )
    return branches


def branch_logits(branch: Branch, image: Image.Image) -> torch.Tensor:
    """One forward pass on the picture's frame: (C, h, w) float32 logits at the
    model's output resolution."""
    model, processor = branch
    return model_logits(model, model_input(processor, pad_to_frame(image)))


def model_logits(model, pixel_values: np.ndarray) -> torch.Tensor:
    """The (C, h, w) float32 logits of a model on (1, 3, H, W) ``pixel_values``."""
    return batch_logits(model, pixel_values)[0]


@torch.inference_mode()
def batch_logits(model, pixel_values: np.ndarray) -> torch.Tensor:
    """The (N, C, h, w) float32 logits of a model on (N, 3, H, W) ``pixel_values``."""
    return model(pixel_values=torch.from_numpy(pixel_values).to(model.device, model.dtype)).logits.float().cpu()


# ---------------------------------------------------------------- the label-map rule


def merge_probabilities(probs: torch.Tensor, table: np.ndarray, num_classes: int) -> torch.Tensor:
    """Sum (C, H, W) probabilities into ``num_classes`` classes by a :func:`remap_table`."""
    target = torch.as_tensor(table[: probs.shape[0]].astype(np.int64), device=probs.device)
    keep = target != IGNORE_INDEX
    merged = probs.new_zeros((num_classes, *probs.shape[1:]))
    return merged.index_add_(0, target[keep], probs[keep])


def class_scores(logits: Sequence[torch.Tensor], size: tuple[int, int], schema: Schema, target: Schema) -> torch.Tensor:
    """(classes of ``target``, H, W) scores whose argmax is the label map of the branches whose
    (C, h, w) ``logits`` are given, in the classes of ``target`` (``schema`` or one of its merges).

    One branch in its own classes: its logits upsampled to the frame of ``size``, in the
    picture's window (for a square picture, their argmax is transformers' post-processing).
    Otherwise probabilities: the branches' softmax averaged, a merged class getting the sum of
    its members'.
    """
    if len(logits) == 1 and target == schema:
        return _upsample(logits[0], size)
    return _probabilities([_upsample(x, size) for x in logits], schema, target)


def _probabilities(scores: Sequence[torch.Tensor], schema: Schema, target: Schema) -> torch.Tensor:
    """The mean of the branches' softmax over their upsampled (C, H, W) logits ``scores``, in the
    classes of ``target`` (a merged class gets the sum of its members')."""
    probs = _mean_probabilities(scores)
    if target == schema:
        return probs
    return merge_probabilities(probs, remap_table(schema, target), target.num_classes)


def _mean_probabilities(logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """The mean of the branches' softmax over classes (dim 0) of same-shaped logits."""
    first, *others = logits
    probs = first.softmax(0)
    for more in others:  # in place: these may be (C, H, W) floats at full image size
        probs += more.softmax(0)
    probs /= len(logits)
    return probs


def label_map(scores: torch.Tensor) -> torch.Tensor:
    """(H, W) class ids: the argmax of :func:`class_scores` (first maximum on ties)."""
    # max().indices: the same first-maximum rule as argmax, about 8x faster on CPU here.
    return scores.max(0).indices


def label_tensor(logits: Sequence[torch.Tensor], size: tuple[int, int], schema: Schema, target: Schema) -> torch.Tensor:
    """(H, W) integer label map, on the logits' device, of the branches whose (C, h, w) ``logits``
    are given, in the classes of ``target``: the :func:`label_map` of their :func:`class_scores`.
    In their own classes on the CPU, one branch goes through :func:`upsampled_argmax` and several
    through :func:`ensemble_argmax`: the same maps without the full-size scores. On an accelerator
    the dense rule is fast and stays there."""
    if target == schema and logits[0].device.type == "cpu":
        shortcut = upsampled_argmax(logits[0], size) if len(logits) == 1 else ensemble_argmax(logits, size)
        return torch.from_numpy(shortcut)
    return label_map(class_scores(logits, size, schema, target))


def label_array(logits: Sequence[torch.Tensor], size: tuple[int, int], schema: Schema, target: Schema) -> np.ndarray:
    """:func:`label_tensor` as the (H, W) uint8 array a :class:`Prediction` keeps."""
    # numpy narrows the int64 ids on one thread: no parallel torch operation to schedule.
    return label_tensor(logits, size, schema, target).cpu().numpy().astype(np.uint8)


SAFE_MARGIN = 1e-4
"""How far (relative to 1 + |its logit|) a class must lead another at a point of the logit grid
for :func:`upsampled_argmax` to trust the comparison without interpolating: orders of magnitude
above the float32 rounding of the interpolation, below any difference that matters."""


def upsampled_argmax(logits: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 class ids of one branch in its own classes: the first-maximum argmax of its
    (C, h, w) ``logits`` upsampled to the frame of ``size``, in the picture's window
    (:func:`class_scores`), without the (C, H, W) scores.

    Why it is the same map: every upsampled score vector is a convex combination of the four logit
    vectors around it. A class that leads another by :data:`SAFE_MARGIN` at all four corners of a
    cell of the logit grid leads it everywhere inside, float rounding included. So a cell whose
    four corners have the same class leading all others by the margin paints its whole block of
    output pixels with it (most of a picture). The other blocks (boundaries) are interpolated as
    torch's CPU kernel does it (same weights, same roundings, so even exact ties go to the lower
    id), but only for the classes that no corner's leader beats at all four corners: two or three,
    not all C. Frames torch upsamples with another kernel (side <= 64) take the dense rule; they
    are small anyway.
    """
    if 2 * max(size) <= 128:  # the frame's longer side
        return label_map(_upsample(logits, size)).cpu().numpy().astype(np.uint8)
    # numpy from here, on one thread: no parallel torch operation to schedule.
    fused = _torch_fuses()
    window, (i0, h0, h1), (j0, w0, w1), down, right = _window_sources(*logits.shape[1:], size, fused)
    grid = _grid(logits, window)
    h, w, num_classes = grid.shape

    leader = _cell_leader(grid, down, right)
    uniform = leader >= 0
    labels = np.where(uniform, leader, 0).astype(np.uint8).take(j0, axis=1).take(i0, axis=0)

    # The other pixels as (low-res row i, output column x) pairs, each standing for the output rows
    # whose upper source row is i (i's band), all interpolated from the same candidates and corners.
    band = np.bincount(i0, minlength=h)
    band_start = np.cumsum(band) - band
    pi, px = np.nonzero(~uniform.take(j0, axis=1) & (band > 0)[:, None])  # rows above no output row: none
    ci, cj = np.nonzero(~uniform)
    cell = np.zeros((h, w), np.int64)
    cell[ci, cj] = np.arange(len(ci))
    corners = np.stack([grid[ci, cj], grid[ci, right[cj]], grid[down[ci], cj], grid[down[ci], right[cj]]], 1)
    classes, count = _candidates(corners)
    pc = cell[pi, j0[px]]  # each pair's cell
    flat = grid.reshape(-1)

    def horizontal(rows: np.ndarray, x: np.ndarray, cls: np.ndarray) -> np.ndarray:
        """Torch's first step for (K, P) candidate classes: logits blended along low-res ``rows``."""
        left = flat[(rows * w + j0[x]) * num_classes + cls]
        return _lerp(left, w0[x], flat[(rows * w + right[j0[x]]) * num_classes + cls], w1[x], fused)

    # Pairs with as many candidates make one dense (K, rows, pairs) array, as many rows as the
    # highest band: a lower band repeats its last row (the same pixel, written twice).
    rows = np.arange(band.max())[:, None]
    groups = count[pc]
    for group in np.unique(groups):
        i, x, c = (a[groups == group] for a in (pi, px, pc))
        cls = classes[c, :group].T
        y = band_start[i] + np.minimum(rows, band[i] - 1)
        scores = _lerp(horizontal(i, x, cls)[:, None], h0[y], horizontal(down[i], x, cls)[:, None], h1[y], fused)
        labels[y, x] = _first_maximum(scores, cls)
    return labels


ENSEMBLE_CHUNK = 1 << 18
"""Pixels interpolated at a time by :func:`ensemble_argmax` (bounds its memory: 16 classes x 8 bytes each)."""

ENSEMBLE_DENSE_SHARE = 0.3
"""Above this share of pixels left to compute one by one, :func:`ensemble_argmax` takes the dense
rule: each such pixel costs it about 3x what the dense rule spends per pixel. A trained pair
leaves under a quarter on most pictures (Ren'Py scenes: 0-24%); two unrelated models, nearly all."""


def ensemble_argmax(logits: Sequence[torch.Tensor], size: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 class ids of several branches in their own classes: the first-maximum argmax of
    the mean of their softmax over their (C, h, w) ``logits`` upsampled as :func:`class_scores`
    does, without the (C, H, W) scores at every pixel.

    Why it is the same map: in a cell of the logit grid where each branch's logits lead with the
    same class by :data:`SAFE_MARGIN` at all four corners, each branch's interpolated logits lead
    with it everywhere inside (see :func:`upsampled_argmax`), so each branch's softmax ranks it
    first by a margin far above float rounding, and so does the mean: the block is painted with it.
    The other pixels (boundaries, and where the branches disagree) get the dense rule's own
    numbers: every class's logits interpolated as torch's CPU kernel does, then torch's softmax,
    sum and argmax on just those pixels (elementwise the same operations as on the whole picture).
    """
    dense = lambda: label_map(_mean_probabilities([_upsample(x, size) for x in logits])).numpy().astype(np.uint8)  # noqa: E731
    if 2 * max(size) <= 128 or len({x.shape for x in logits}) > 1:  # torch's other kernel (see
        return dense()  # upsampled_argmax), small anyway; or branches of different input sizes
    fused = _torch_fuses()
    window, (i0, h0, h1), (j0, w0, w1), down, right = _window_sources(*logits[0].shape[1:], size, fused)
    grids = [_grid(x, window) for x in logits]

    leader = _cell_leader(grids[0], down, right)
    for grid in grids[1:]:
        leader = np.where(leader == _cell_leader(grid, down, right), leader, -1)
    painted = leader.astype(np.int16).take(j0, axis=1).take(i0, axis=0)  # each pixel's cell's leader
    pending = painted < 0
    if pending.mean() > ENSEMBLE_DENSE_SHARE:
        return dense()
    labels = np.where(pending, 0, painted).astype(np.uint8)
    ys, xs = np.nonzero(pending)
    for start in range(0, len(ys), ENSEMBLE_CHUNK):
        y, x = ys[start : start + ENSEMBLE_CHUNK], xs[start : start + ENSEMBLE_CHUNK]
        row, col, below, beside = i0[y], j0[x], down[i0[y]], right[j0[x]]
        wa, wb, ha, hb = w0[x, None], w1[x, None], h0[y, None], h1[y, None]
        upsampled = [  # (C, pixels) logits, each branch's: along the row first, then between rows, as torch does
            torch.from_numpy(_lerp(_lerp(g[row, col], wa, g[row, beside], wb, fused), ha,
                                   _lerp(g[below, col], wa, g[below, beside], wb, fused), hb, fused).T.copy())
            for g in grids
        ]
        labels[y, x] = label_map(_mean_probabilities(upsampled)).numpy()
    return labels


def _cell_leader(grid: np.ndarray, down: np.ndarray, right: np.ndarray) -> np.ndarray:
    """(h, w) per cell of (h, w, C) logits (the cell whose top left corner is that point): the class
    that leads all others by :data:`SAFE_MARGIN` at all four of its corners, or -1."""
    num_classes = grid.shape[2]
    top2 = np.partition(grid, num_classes - 2, axis=2)[..., num_classes - 2 :]
    leader = np.where(_beats(top2[..., 1], top2[..., 0]), grid.argmax(2), -1)
    same = (leader == leader[down]) & (leader == leader[:, right]) & (leader == leader[down][:, right])
    return np.where(same, leader, -1)


@functools.cache
def _torch_fuses() -> bool:
    """Whether torch's CPU bilinear kernel fuses its multiply-adds, as its AVX2 and AVX-512 builds
    do (the plain x86-64 one does not): told apart on a resize whose results differ between the two."""
    ends = np.array([0.1, 0.7], np.float32)
    first, w0, w1 = _source_pixels(2, 200, fused=True)
    resized = _upsample(torch.from_numpy(ends).reshape(1, 1, 2), (1, 200))[0, 0].numpy()
    return np.array_equal(resized, _lerp(ends[first], w0, ends[np.minimum(first + 1, 1)], w1, fused=True))


def _window_sources(h: int, w: int, size: tuple[int, int], fused: bool):
    """For a picture of ``size`` whose frame is upsampled from an (h, w) logit grid: the
    part of the grid its window reads (row and column slices: a tall picture reads less than half
    the columns); its output rows' and columns' :func:`_source_pixels` (first index in that part,
    two weights); and each of the part's rows' and columns' next one (``down``, ``right``, clamped
    at the part's edge, which is the grid's own or a row or column read only as a next one)."""
    height, width = size
    frame_height, frame_width, top, left = frame_window(height, width)
    window, sources, following = [], [], []
    for n, out, start, length in ((h, frame_height, top, height), (w, frame_width, left, width)):
        first, w0, w1 = (a[start : start + length] for a in _source_pixels(n, out, fused))
        part = slice(int(first.min()), min(int(first.max()) + 2, n))
        count = part.stop - part.start
        window.append(part)
        sources.append((first - part.start, w0, w1))
        following.append(np.minimum(np.arange(count) + 1, count - 1))
    return tuple(window), *sources, *following


def _grid(logits: torch.Tensor, window: tuple[slice, slice]) -> np.ndarray:
    """(h, w, C) float32 numpy logits of the ``window`` of (C, H, W) ``logits``, C contiguous."""
    return np.ascontiguousarray(logits.detach().float().cpu().numpy()[:, window[0], window[1]].transpose(1, 2, 0))


def _source_pixels(n_in: int, n_out: int, fused: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each output index of a bilinear resize from ``n_in`` to ``n_out`` (align_corners=False,
    size given), its first source index (the second is the next one, clamped to the last) and the
    two float32 weights, rounded as ATen does: scale = n_in / n_out in float32, source index
    scale * (i + 0.5) - 0.5 (one rounding if ``fused``, else two), clamped at 0."""
    scale = np.float32(n_in) / np.float32(n_out)
    centers = np.arange(n_out) + 0.5
    if fused:  # float64 holds scale * (i + 0.5) - 0.5 exactly, so float32 rounds it once
        source = (np.float64(scale) * centers - 0.5).astype(np.float32)
    else:
        source = scale * centers.astype(np.float32) - np.float32(0.5)
    source = np.maximum(source, 0)
    first = np.minimum(source.astype(np.int64), n_in - 1)
    weight = (source - first).astype(np.float32)
    return first, 1 - weight, weight


def _lerp(a: np.ndarray, wa: np.ndarray, b: np.ndarray, wb: np.ndarray, fused: bool) -> np.ndarray:
    """a * wa + b * wb in float32, rounded as ATen's CPU bilinear kernel does: if ``fused``, b * wb
    rounded, then added to a * wa in a fused multiply-add (a float32 product is exact in float64);
    else each product and the sum rounded."""
    if not fused:
        return a * wa + b * wb
    out = a.astype(np.float64) * wa
    out += b * wb
    return out.astype(np.float32)


def _beats(leader: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Where the ``leader`` logits exceed ``other`` by :data:`SAFE_MARGIN`."""
    return leader - other > SAFE_MARGIN * (1 + np.abs(leader))


def _candidates(corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Of cells given by their corners' logits (n, 4, C): the classes that may lead somewhere
    inside, i.e. that none of the corners' leaders beats at all four corners (ascending, in the
    first ``count`` columns of each row), and their ``count``."""
    possible = np.ones((len(corners), corners.shape[2]), bool)
    for corner in range(4):
        leader = np.take_along_axis(corners, corners[:, corner].argmax(1)[:, None, None], 2)
        possible &= ~_beats(leader, corners).all(1)
    count = possible.sum(1)
    return np.argsort(~possible, axis=1, kind="stable")[:, : count.max(initial=1)], count


def _first_maximum(scores: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The class of the highest of (K, ...) ``scores`` at each position, the first one on ties (as
    torch's max), from the ``classes`` (K, ...) they belong to, ascending ids, broadcast to them."""
    best, label = scores[0], np.broadcast_to(classes[0], scores.shape[1:]).copy()
    for k in range(1, len(scores)):
        better = scores[k] > best
        best = np.maximum(best, scores[k])
        np.copyto(label, classes[k], where=better)
    return label


def _upsample(logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(C, H, W) scores of a picture of ``size`` from the (C, h, w) logits of its frame:
    upsampled bilinearly to the frame, the picture's window of it."""
    frame_height, frame_width, top, left = frame_window(*size)
    frame = F.interpolate(logits.float()[None], size=(frame_height, frame_width), mode="bilinear", align_corners=False)[0]
    return frame[:, top : top + size[0], left : left + size[1]]


def _upsample_box(logits: torch.Tensor, size: tuple[int, int], box: Box) -> torch.Tensor:
    """:func:`_upsample`'s scores in ``box`` of the picture only (the same to float rounding):
    (C, bottom - top, right - left), without the scores of the whole picture."""
    frame_height, frame_width, top, left = frame_window(*size)
    (y0, x0, y1, x1), scores = box, logits.float()
    for axis, n_out, start, stop in ((1, frame_height, top + y0, top + y1), (2, frame_width, left + x0, left + x1)):
        first, w0, w1 = (a[start:stop] for a in _source_pixels(scores.shape[axis], n_out, fused=False))
        following = np.minimum(first + 1, scores.shape[axis] - 1)
        shape = [1, 1, 1]
        shape[axis] = -1
        scores = (scores.index_select(axis, torch.from_numpy(first)) * torch.from_numpy(w0).reshape(shape)
                  + scores.index_select(axis, torch.from_numpy(following)) * torch.from_numpy(w1).reshape(shape))
    return scores


# ---------------------------------------------------------------- predictions


@dataclass(eq=False)
class Prediction:
    """An image and its branches' logits; label maps are derived on demand and remembered."""

    image: np.ndarray
    """(H, W, 3) uint8: the image the label maps belong to."""
    schema: Schema
    """The models' classes."""
    name: str = "image"
    """What exported files are named after."""
    logits: dict[str, torch.Tensor] = field(default_factory=dict)
    """Branch name -> (C, h, w) float32 logits at the model's output resolution."""
    zoom: bool = False
    """Whether each face also gets a second, closer look (:mod:`animeparse.faces`)."""
    views: list[Box] | None = None
    """The boxes of those closer looks, chosen from the first parse (None: not chosen yet)."""
    view_logits: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    """Branch name -> each view's (C, h, w) logits: one plain forward pass on its crop."""
    _labels: dict[tuple[str, str], np.ndarray] = field(default_factory=dict, repr=False)
    _first_look: dict[tuple[str, str], np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.image.shape[0], self.image.shape[1]

    def run(self, branches: Mapping[str, Branch], use: str) -> "Prediction":
        """Run the branches ``use`` needs that have not run yet on this image."""
        missing = [b for b in needed_branches(use) if b not in self.logits]
        if not missing:
            return self
        for name in missing:
            if name not in branches:
                raise ValueError(f"model {name} is not loaded; loaded: {sorted(branches)}")
        frame = pad_to_frame(Image.fromarray(self.image))
        inputs: dict[str, np.ndarray] = {}  # co-trained branches share one processor: prepare the pixels once
        for name in missing:
            model, processor = branches[name]
            key = processor.to_json_string()
            if key not in inputs:
                inputs[key] = model_input(processor, frame)
            self.logits[name] = model_logits(model, inputs[key])
        if self.zoom:
            self._look_closer(branches, use)
        return self

    def _look_closer(self, branches: Mapping[str, Branch], use: str) -> None:
        """Choose the views from the first parse (once) and run each branch ``use`` needs on them."""
        if self.views is None:
            self.views = face_views(self.first_look(use, self.schema), self.schema)
        pixels: dict[str, list[np.ndarray]] = {}  # as in run(): the views' pixels once per processor
        for name in needed_branches(use):
            if name in self.view_logits:
                continue
            model, processor = branches[name]
            key = processor.to_json_string()
            if key not in pixels:
                pixels[key] = [model_input(processor, pad_to_frame(Image.fromarray(self.image[top:bottom, left:right])))
                               for top, left, bottom, right in self.views]
            inputs = pixels[key]
            self.view_logits[name] = [None] * len(inputs)
            # Views of one input shape (the square ones, away from the picture's edges) run as one
            # batch: on a 2-core CPU a batch of two costs 1.3x one picture.
            for shape in {x.shape for x in inputs}:
                index = [i for i, x in enumerate(inputs) if x.shape == shape]
                logits = batch_logits(single_pass(model), np.concatenate([inputs[i] for i in index]))
                for i, view in zip(index, logits):
                    self.view_logits[name][i] = view

    def first_look(self, use: str, schema: Schema) -> np.ndarray:
        """(H, W) uint8 label map of the whole-picture pass alone, in ``schema``'s ids."""
        key = (use, schema.name)
        if key not in self._first_look:
            missing = [b for b in needed_branches(use) if b not in self.logits]
            if missing:
                raise ValueError(f"model {missing[0]} has not run on this image; call run() first")
            logits = [self.logits[b] for b in needed_branches(use)]
            self._first_look[key] = label_array(logits, self.size, self.schema, schema)
        return self._first_look[key]

    def labels(self, use: str, schema: Schema) -> np.ndarray:
        """(H, W) uint8 label map in ``schema``'s ids (the models' classes or one of their merges):
        the first look's, and inside each view the argmax of the first look's probabilities plus
        those of every view that covers the pixel."""
        key = (use, schema.name)
        if key not in self._labels:
            labels = self.first_look(use, schema)
            if self.views:
                labels = self._with_views(labels, use, schema)
            self._labels[key] = labels
        return self._labels[key]

    def _with_views(self, labels: np.ndarray, use: str, schema: Schema) -> np.ndarray:
        """The first look's ``labels`` with each view's pixels decided again: the argmax of the
        first look's probabilities there plus those of every view over the pixel (adding, not
        averaging: the argmax is the same, and pixels under two views need no count)."""
        names = needed_branches(use)
        if any(b not in self.view_logits for b in names):
            raise ValueError(f"the closer looks at the faces have not run for {use}; call run() first")
        closer = [
            _probabilities([_upsample(self.view_logits[b][i], (bottom - top, right - left)) for b in names], self.schema, schema)
            for i, (top, left, bottom, right) in enumerate(self.views)
        ]
        labels = labels.copy()
        for top, left, bottom, right in self.views:
            box = (top, left, bottom, right)
            total = _probabilities([_upsample_box(self.logits[b], self.size, box) for b in names], self.schema, schema)
            for (t, l, b, r), probs in zip(self.views, closer):  # every view over this one, itself included
                y0, x0, y1, x1 = max(t, top), max(l, left), min(b, bottom), min(r, right)
                if y0 < y1 and x0 < x1:
                    total[:, y0 - top : y1 - top, x0 - left : x1 - left] += probs[:, y0 - t : y1 - t, x0 - l : x1 - l]
            labels[top:bottom, left:right] = label_map(total).numpy()
        return labels

    def disagreement(self, schema: Schema) -> np.ndarray:
        """(H, W) bool: where branch A and branch B pick different classes."""
        return self.labels(BRANCHES[0], schema) != self.labels(BRANCHES[1], schema)


def predict(
    branches: Mapping[str, Branch], image: Image.Image, use: str = ENSEMBLE, name: str = "image", zoom: bool = False
) -> Prediction:
    """Run the branches ``use`` needs on an RGB image (and, with ``zoom``, on a view of each face)."""
    schema = model_schema(next(iter(branches.values()))[0])
    return Prediction(np.asarray(image.convert("RGB")), schema, name, zoom=zoom).run(branches, use)


@dataclass
class Ranked:
    path: Path
    disagreement: float | None
    """Share of pixels (0..1) where branches A and B pick different classes; None if unreadable."""
    problem: str = ""


def rank_by_disagreement(
    branches: Mapping[str, Branch], files: Sequence[Path], schema: Schema | None = None, max_side: int = MAX_SIDE
) -> list[Ranked]:
    """The images that are most worth labeling next first: ordered by the share of pixels where the
    two branches disagree (the co-training's own uncertainty). Unreadable files come last, with why."""
    ranked = []
    for path in files:
        try:
            image = fit_within(load_rgb(path), max_side)
        except ImageError as e:
            ranked.append(Ranked(Path(path), None, str(e)))
            continue
        prediction = predict(branches, image, ENSEMBLE)
        share = float(prediction.disagreement(schema or prediction.schema).mean())
        ranked.append(Ranked(Path(path), share))
    return sorted(ranked, key=lambda r: (r.disagreement is None, -(r.disagreement or 0.0)))
