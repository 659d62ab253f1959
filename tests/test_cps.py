import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_model

from animeparse.cps import CPSConfig, cps_loss, cutmix_masks, expand_mask, mix, pseudo_labels, segmentation_ce, train_step
from animeparse.labels import IGNORE_INDEX


def test_cutmix_masks_cover_the_configured_area():
    masks = cutmix_masks(64, (64, 64), area_range=(0.25, 0.5), n_boxes=3, generator=torch.Generator().manual_seed(0))
    assert masks.shape == (64, 64, 64) and masks.dtype == torch.bool
    partner = masks.float().mean((1, 2))
    # the boxes (first image) cover at most 50% (+ rounding), overlaps only shrink them
    assert partner.min() >= 0.5 - 0.02 and partner.max() < 1.0
    assert partner.std() > 0.01  # areas and places vary from image to image
    one_box = cutmix_masks(16, (64, 64), area_range=(0.25, 0.25), n_boxes=1, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(one_box.float().mean((1, 2)), torch.tensor(0.75), atol=0.02)  # one box: exact area


def test_cutmix_masks_are_reproducible_with_a_generator():
    a = cutmix_masks(4, (8, 12), generator=torch.Generator().manual_seed(5))
    b = cutmix_masks(4, (8, 12), generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.shape == (4, 8, 12)


def test_mix_takes_the_partner_where_the_mask_is_true():
    a = torch.zeros(2, 3, 4, 4)
    b = torch.ones(2, 3, 4, 4)
    mask = torch.zeros(2, 4, 4, dtype=torch.bool)
    mask[0, :2] = True
    mixed = mix(a, b, mask)
    assert (mixed[0, :, :2] == 1).all() and (mixed[0, :, 2:] == 0).all() and (mixed[1] == 0).all()
    labels = mix(torch.zeros(2, 4, 4, dtype=torch.long), torch.full((2, 4, 4), 7), mask)
    assert torch.equal(labels == 7, mask)


def test_images_and_pseudo_labels_are_mixed_with_the_same_boxes():
    """Mixing labels on the logit grid then expanding equals mixing images at full size: the
    mixed pseudo label of every pixel comes from the image that pixel came from."""
    stride = 4
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 16, (6, 8, 8), generator=gen)
    images = expand_mask(labels, stride).unsqueeze(1).float()  # an "image" that is its label
    boxes = cutmix_masks(6, (8, 8), generator=gen)
    u_mix = mix(images, images.roll(1, 0), expand_mask(boxes, stride))
    pseudo_mix = mix(labels, labels.roll(1, 0), boxes)
    assert torch.equal(u_mix[:, 0].long(), expand_mask(pseudo_mix, stride))
    assert expand_mask(boxes, stride).shape == (6, 32, 32)


def test_cps_loss_is_zero_when_the_branches_agree():
    labels = torch.randint(0, 5, (2, 8, 8))
    confident = 50.0 * F.one_hot(labels, 5).permute(0, 3, 1, 2).float()
    assert cps_loss(confident, labels) < 1e-6  # the other branch's pseudo labels are this one's argmax
    other = (labels + 1) % 5
    assert cps_loss(confident, other) > 10  # they disagree everywhere


def test_cps_loss_teaches_the_branch_the_other_ones_labels_without_gradient_to_them():
    pred = torch.randn(2, 5, 8, 8, requires_grad=True)
    other_logits = torch.randn(2, 5, 8, 8, requires_grad=True)
    loss = cps_loss(pred, other_logits.argmax(1))
    assert torch.allclose(loss, F.cross_entropy(pred, other_logits.argmax(1)))
    loss.backward()
    assert pred.grad.abs().sum() > 0 and other_logits.grad is None


def test_pseudo_labels_drop_pixels_below_the_confidence_threshold():
    logits = torch.zeros(1, 3, 1, 3)
    logits[0, :, 0, 0] = torch.tensor([4.0, 0.0, 0.0])  # p = 0.96 for class 0
    logits[0, :, 0, 1] = torch.tensor([0.0, 1.0, 0.0])  # p = 0.58 for class 1
    logits[0, :, 0, 2] = torch.tensor([0.0, 0.0, 0.1])  # p = 0.35 for class 2
    assert pseudo_labels(logits).tolist() == [[[0, 1, 2]]]
    assert pseudo_labels(logits, 0.5).tolist() == [[[0, 1, IGNORE_INDEX]]]
    assert pseudo_labels(logits, 0.9).tolist() == [[[0, IGNORE_INDEX, IGNORE_INDEX]]]


def test_cps_loss_counts_ignored_pseudo_labels_in_the_mean_and_never_gives_nan():
    pred = torch.randn(1, 4, 2, 2, requires_grad=True)
    other = torch.tensor([[[1, IGNORE_INDEX], [IGNORE_INDEX, IGNORE_INDEX]]])
    expected = F.cross_entropy(pred[:, :, 0, 0], torch.tensor([1])) / 4  # one confident pixel of four
    assert torch.allclose(cps_loss(pred, other), expected)
    nothing = cps_loss(pred, torch.full_like(other, IGNORE_INDEX))
    nothing.backward()
    assert nothing.item() == 0.0 and pred.grad.abs().sum() == 0


def test_segmentation_ce_upsamples_logits_and_skips_ignored_pixels():
    logits = torch.randn(2, 4, 4, 4)
    labels = torch.randint(0, 4, (2, 16, 16))
    up = F.interpolate(logits, size=(16, 16), mode="bilinear", align_corners=False)
    assert torch.allclose(segmentation_ce(logits, labels), F.cross_entropy(up, labels))
    only_one = torch.full_like(labels, IGNORE_INDEX)
    only_one[1, 3, 5] = 2
    assert torch.allclose(segmentation_ce(logits, only_one), F.cross_entropy(up[1:, :, 3, 5], torch.tensor([2])))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_segmentation_ce_is_computed_in_float32(dtype):
    logits = torch.randn(1, 3, 2, 2).to(dtype)
    labels = torch.randint(0, 3, (1, 8, 8))
    loss = segmentation_ce(logits, labels)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


def tiny(seed: int):
    return tiny_model(seed=seed).train()


def test_train_step_spends_one_gradient_pass_per_branch():
    """No wasted work: per branch one forward without gradients over u, one with over [x, u_mix]."""
    model_a, model_b = tiny(seed=0), tiny(seed=1)
    seen = []
    for name, model in (("A", model_a), ("B", model_b)):
        model.register_forward_hook(lambda m, args, kwargs, out, name=name: seen.append((name, len(kwargs["pixel_values"]), torch.is_grad_enabled())), with_kwargs=True)
    x, y, u = torch.randn(2, 3, 32, 32), torch.randint(0, 16, (2, 32, 32)), torch.randn(3, 3, 32, 32)
    config = CPSConfig()
    step = config.warmup_steps + 1  # CPS at full weight
    backwards = []
    losses = train_step(model_a, model_b, x, y, u, config, step, lambda loss: backwards.append(loss) or loss.backward())
    assert sorted(seen) == [("A", 3, False), ("A", 5, True), ("B", 3, False), ("B", 5, True)]
    assert torch.allclose(losses["loss"], losses["loss_sup"] + config.weight * losses["loss_cps"])
    # one backward per branch (one graph alive at a time); together they are the logged loss
    assert len(backwards) == 2 and torch.allclose(sum(backwards).detach(), losses["loss"])
    assert all(p.grad is not None for p in model_a.parameters()) and all(p.grad is not None for p in model_b.parameters())
    seen.clear()
    supervised = train_step(model_a, model_b, x, y, None, config, step)
    assert sorted(seen) == [("A", 2, True), ("B", 2, True)] and set(supervised) == {"loss", "loss_sup"}


def test_cps_weight_is_zero_in_the_warmup_then_ramps_up_linearly():
    config = CPSConfig(weight=2, warmup_steps=10, rampup_steps=4)
    assert [config.weight_at(step) for step in (1, 10, 11, 12, 14, 15, 100)] == [0, 0, 0.5, 1.0, 2.0, 2.0, 2.0]
    config = CPSConfig(weight=2, warmup_steps=10, rampup_steps=0)
    assert [config.weight_at(step) for step in (10, 11)] == [0, 2.0]
