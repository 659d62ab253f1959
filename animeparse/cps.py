"""Cross pseudo supervision (Chen et al., CVPR 2021) with CutMix: box masks, mixing, losses.

Resolution choice: the supervised loss upsamples the logits (1/4 of the input for SegFormer) to
the label size, so no label pixel is lost. The CPS loss stays on the logit grid: pseudo labels
are born there (argmax of the other branch's logits), and CutMix boxes are drawn on that grid,
so one box mask mixes the images (expanded by the output stride) and the pseudo labels (as is)
exactly alike; nothing is resampled and the unlabeled loss costs 1/16 of a full-size one.
"""

from __future__ import annotations

import math

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


def segmentation_ce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of (n, c, h, w) logits against (n, H, W) labels, IGNORE_INDEX not counted;
    logits are upsampled bilinearly to the label size when they are smaller."""
    logits = logits.float()  # under bf16 autocast, the loss is still taken in float32
    if logits.shape[-2:] != labels.shape[-2:]:
        logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=False)
    return F.cross_entropy(logits, labels.long(), ignore_index=IGNORE_INDEX)


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
