"""Cross pseudo supervision (Chen et al., CVPR 2021) with CutMix: the method in one file.

Box masks, mixing and losses, the method's settings (:class:`CPSConfig`) and its training step
(:func:`train_step`); ``train/cotrain.py`` runs the step in its loop, and the benchmarks and tests
import it from here.

Resolution choice: the supervised loss upsamples the logits (1/4 of the input for SegFormer) to
the label size, so no label pixel is lost. The CPS loss stays on the logit grid: pseudo labels
are born there (argmax of the other branch's logits), and CutMix boxes are drawn on that grid,
so one box mask mixes the images (expanded by the output stride) and the pseudo labels (as is)
exactly alike; nothing is resampled and the unlabeled loss costs 1/16 of a full-size one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from animeparse.labels import IGNORE_INDEX


def cutmix_masks(
    n: int,
    grid: tuple[int, int],
    area_range: tuple[float, float] = (0.25, 0.5),
    n_boxes: int = 3,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``n`` boolean masks of ``grid`` (height, width) cells; True marks pixels taken from the
    partner image.

    As in CPS's CutMix: a total box area drawn from ``area_range`` (as a fraction of the image)
    is split evenly among ``n_boxes`` boxes of random aspect ratio, placed inside the image; the
    mask is the complement of their union, so the partner supplies the larger part.
    """
    h, w = grid
    area = area_range[0] + (area_range[1] - area_range[0]) * torch.rand(n, 1, generator=generator)
    aspect = torch.exp(math.log(0.5) + math.log(4.0) * torch.rand(n, n_boxes, generator=generator))  # h/w in [1/2, 2]
    box_h = (torch.sqrt(area / n_boxes * aspect) * h).round().clamp(1, h).long()
    box_w = (torch.sqrt(area / n_boxes / aspect) * w).round().clamp(1, w).long()
    top = (torch.rand(n, n_boxes, generator=generator) * (h - box_h + 1)).floor().long()
    left = (torch.rand(n, n_boxes, generator=generator) * (w - box_w + 1)).floor().long()
    rows = torch.arange(h).view(1, 1, h, 1)
    cols = torch.arange(w).view(1, 1, 1, w)
    inside = (
        (rows >= top[..., None, None]) & (rows < (top + box_h)[..., None, None])
        & (cols >= left[..., None, None]) & (cols < (left + box_w)[..., None, None])
    )
    return ~inside.any(dim=1)


def expand_mask(mask: torch.Tensor, stride: int) -> torch.Tensor:
    """A grid mask (n, h, w) at pixel resolution (n, h * stride, w * stride)."""
    return mask.repeat_interleave(stride, dim=1).repeat_interleave(stride, dim=2)


def mix(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``b`` where ``mask`` is True, ``a`` elsewhere; ``mask`` is (n, h, w), the tensors
    (n, h, w) label maps or (n, c, h, w) images."""
    if a.dim() == mask.dim() + 1:
        mask = mask.unsqueeze(1)
    return torch.where(mask, b, a)


def segmentation_ce(logits: torch.Tensor, labels: torch.Tensor, class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of (n, c, h, w) logits against (n, H, W) labels, IGNORE_INDEX not counted;
    logits are upsampled bilinearly to the label size when they are smaller. With
    ``class_weights`` (c,), the mean is weighted by each pixel's class weight."""
    logits = logits.float()  # under bf16 autocast, the loss is still taken in float32
    if logits.shape[-2:] != labels.shape[-2:]:
        logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=False)
    return F.cross_entropy(logits, labels.long(), weight=class_weights, ignore_index=IGNORE_INDEX)


def pseudo_labels(logits: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    """Argmax labels (n, h, w) of (n, c, h, w) logits; pixels whose top class probability is
    below ``threshold`` become IGNORE_INDEX (0 keeps every pixel, as in the CPS paper)."""
    confidence, labels = logits.float().softmax(1).max(1)
    return labels.masked_fill(confidence < threshold, IGNORE_INDEX)


def cps_loss(pred_mix: torch.Tensor, other_pseudo_mix: torch.Tensor) -> torch.Tensor:
    """One branch's CPS term: CE of its prediction on the mixed images against the OTHER branch's
    mixed pseudo labels, which carry no gradient. The CPS loss is the sum of both branches' terms.

    Ignored pseudo labels (below the confidence threshold) add nothing but still count in the
    mean, as in UniMatch: the term grows with the other branch's confidence, and a batch with no
    confident pixel gives 0, not NaN."""
    per_pixel = F.cross_entropy(pred_mix.float(), other_pseudo_mix.detach().long(), ignore_index=IGNORE_INDEX, reduction="none")
    return per_pixel.mean()


@dataclass(frozen=True)
class CPSConfig:
    """The method's settings (``train/cotrain.py``'s ``--cps-*`` and ``--cutmix-*`` options)."""

    weight: float = 1.5
    """Weight of the CPS loss once ramped up; 0 is the supervised baseline."""
    warmup_steps: int = 500
    """Supervised steps before CPS starts, so early pseudo labels are not noise."""
    rampup_steps: int = 0
    """Steps over which the weight rises linearly from 0 to ``weight`` after the warmup."""
    threshold: float = 0.0
    """Pseudo labels below this confidence are ignored (0 keeps all, as in CPS)."""
    cutmix_area: tuple[float, float] = (0.25, 0.5)
    """Range of the box area (fraction of the image) kept from the first image of a CutMix pair."""
    cutmix_boxes: int = 3
    """Boxes per CutMix mask."""

    def weight_at(self, step: int) -> float:
        """The CPS loss weight of a (1-based) step: 0 during the warmup, then the linear ramp."""
        after_warmup = step - self.warmup_steps
        if after_warmup <= 0:
            return 0.0
        return self.weight * min(1.0, after_warmup / self.rampup_steps) if self.rampup_steps else self.weight


def train_step(
    model_a, model_b, x: torch.Tensor, y: torch.Tensor, u: torch.Tensor | None, config: CPSConfig, step: int,
    backward: Callable[[torch.Tensor], None] = torch.Tensor.backward, class_weights: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """One step of the method: computes the losses, backpropagates them with ``backward`` and
    returns them detached, for logging.

    (x, y) are labeled images and labels; u the unlabeled images, or None for a supervised step.
    The CPS weight is ``config.weight_at(step)``; ``class_weights`` weigh the supervised loss only
    (see :mod:`animeparse.class_weights`): pseudo labels already follow the models' own balance.
    Each branch labels u without gradients in one forward; pairs (u[i], u[i-1]) are CutMixed with
    boxes on the logit grid, and each branch learns on u_mix from the OTHER branch's pseudo labels
    mixed with the same boxes. Each branch then runs ONE forward with gradients over [x, u_mix],
    and its backward before the other branch's forward: the two losses share no graph, and
    keeping one graph alive at a time halves the activation memory (two alive made a CPU step a
    third slower).
    """
    inputs, pseudo_a_mix, pseudo_b_mix = x, None, None
    if u is not None:
        with torch.no_grad():
            pseudo_a = pseudo_labels(model_a(pixel_values=u).logits, config.threshold)
            pseudo_b = pseudo_labels(model_b(pixel_values=u).logits, config.threshold)
        stride = u.shape[-1] // pseudo_a.shape[-1]
        if tuple(pseudo_a.shape[-2:]) != (u.shape[-2] // stride, u.shape[-1] // stride):
            raise ValueError(f"crop {tuple(u.shape[-2:])} is not a whole number of logit cells {tuple(pseudo_a.shape[-2:])}")
        boxes = cutmix_masks(len(u), pseudo_a.shape[-2:], config.cutmix_area, config.cutmix_boxes).to(u.device)
        u_mix = mix(u, u.roll(1, 0), expand_mask(boxes, stride))
        inputs = torch.cat([x, u_mix])
        pseudo_a_mix = mix(pseudo_a, pseudo_a.roll(1, 0), boxes)
        pseudo_b_mix = mix(pseudo_b, pseudo_b.roll(1, 0), boxes)

    cps_weight = config.weight_at(step)
    losses: dict[str, torch.Tensor] = {}
    for model, other_pseudo_mix in ((model_a, pseudo_b_mix), (model_b, pseudo_a_mix)):
        logits = model(pixel_values=inputs).logits
        terms = {"loss_sup": segmentation_ce(logits[: len(x)], y, class_weights)}
        loss = terms["loss_sup"]
        if u is not None:
            terms["loss_cps"] = cps_loss(logits[len(x) :], other_pseudo_mix)
            loss = loss + cps_weight * terms["loss_cps"]
        backward(loss)
        for name, value in {"loss": loss, **terms}.items():
            losses[name] = losses.get(name, 0) + value.detach()
    return losses
