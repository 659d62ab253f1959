import random

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from animeparse.augment import (
    PAD_COLOR,
    Augment,
    blur,
    color_jitter,
    grayscale,
    hflip,
    paint_letters,
    random_scale_crop,
    recolor_parts,
    swap_background,
    to_lineart,
)
from animeparse.labels import IGNORE_INDEX, SCHEMA_16


def coded_pair(size=(48, 40)):
    """An image whose every pixel has its class's palette color, and its label map: geometry
    must keep the two aligned, which the colors let a test check pixel by pixel."""
    w, h = size
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    draw.rectangle((w // 12, h // 10, w * 5 // 12, h * 3 // 4), fill=1)
    draw.ellipse((w // 2, h // 8, w * 11 // 12, h * 7 // 8), fill=9)
    draw.rectangle((0, h * 7 // 8, w, h), fill=IGNORE_INDEX)
    image = Image.fromarray(SCHEMA_16.colorize(np.asarray(mask)))
    return image, mask


def decode(image):
    """Label map recovered from a palette-coded image (nearest palette color)."""
    lut = SCHEMA_16.color_lut().astype(np.int32)
    lut[IGNORE_INDEX] = (255, 255, 255)
    ids = np.array(list(range(SCHEMA_16.num_classes)) + [IGNORE_INDEX])
    pixels = np.asarray(image, dtype=np.int32)[..., None, :]
    return ids[((pixels - lut[ids]) ** 2).sum(-1).argmin(-1)]


def test_scale_one_crop_and_flip_keep_image_and_mask_aligned_exactly():
    image, mask = coded_pair((40, 40))
    for seed in range(5):
        rng = random.Random(seed)
        img, m = random_scale_crop(image, mask, base_size=40, crop_size=24, scale_range=(1.0, 1.0), rng=rng)
        img, m = hflip(img, m, rng, p=1.0)
        assert img.size == m.size == (24, 24)
        assert (decode(img) == np.asarray(m)).all()


def test_rescaling_keeps_alignment_and_invents_no_labels():
    image, mask = coded_pair()
    for seed in range(5):
        img, m = random_scale_crop(image, mask, base_size=48, crop_size=32, scale_range=(0.7, 2.0), rng=random.Random(seed))
        labels = np.asarray(m)
        assert set(np.unique(labels)) <= {0, 1, 9, IGNORE_INDEX}  # nearest resampling only
        assert (decode(img) == labels).mean() > 0.9  # bilinear edges may blur a pixel or two


def test_aspect_stretch_changes_proportions_and_keeps_alignment():
    """A 40x40 square with a 20x20 box (class 1) in the middle: stretched 2x wide at scale 1,
    the crop spans the box's full height but only part of its doubled width is needed to see it
    as wider than tall; the pair stays aligned and the draws stay within the range."""
    mask = Image.new("L", (40, 40), 0)
    ImageDraw.Draw(mask).rectangle((10, 10, 29, 29), fill=1)
    image = Image.fromarray(SCHEMA_16.colorize(np.asarray(mask)))
    widths, heights = [], []
    for seed in range(20):
        img, m = random_scale_crop(image, mask, base_size=40, crop_size=40, scale_range=(1.0, 1.0),
                                   rng=random.Random(seed), aspect_range=(0.5, 2.0))
        assert img.size == m.size == (40, 40)
        labels = np.asarray(m)
        drawn = labels != IGNORE_INDEX  # the squeezed side is padded
        assert (decode(img)[drawn] == labels[drawn]).mean() > 0.9
        rows, cols = np.nonzero(labels == 1)
        widths.append(np.ptp(cols) + 1)
        heights.append(np.ptp(rows) + 1)
    ratios = np.array(widths) / np.array(heights)
    assert ratios.min() < 0.8 and ratios.max() > 1.25  # taller and wider boxes than the square one
    assert ratios.min() > 0.45 and ratios.max() < 2.2


def test_a_picture_that_is_not_square_keeps_its_proportions_as_at_inference():
    """Inference resizes a picture's frame to the base height (a tall picture's frame is a square,
    a wide one's the picture itself up to 2:1), so training scales the frame's height to the base:
    a 20x40 box stays twice as tall as wide; a 30x20 one is 80 high (cropped to 80 wide); a 60x10
    one, whose frame is 60x30, 80 / 30 times its size."""
    for (width, height), box in [((20, 40), (80, 40)), ((30, 20), (80, 80)), ((60, 10), (27, 80))]:
        mask = Image.new("L", (width, height), 1)
        image = Image.fromarray(SCHEMA_16.colorize(np.asarray(mask)))
        img, m = random_scale_crop(image, mask, base_size=80, crop_size=80, scale_range=(1.0, 1.0), rng=random.Random(0))
        rows, cols = np.nonzero(np.asarray(m) == 1)
        assert (np.ptp(rows) + 1, np.ptp(cols) + 1) == box, (width, height)


def test_aspect_range_one_draws_nothing_so_older_runs_keep_their_random_stream():
    image, mask = coded_pair()
    crop = lambda **kw: random_scale_crop(image, mask, base_size=48, crop_size=32, scale_range=(0.7, 2.0),
                                          rng=random.Random(3), **kw)
    default, explicit = crop(), crop(aspect_range=(1.0, 1.0))
    assert np.array_equal(np.asarray(default[0]), np.asarray(explicit[0]))
    assert np.array_equal(np.asarray(default[1]), np.asarray(explicit[1]))


def test_crop_larger_than_the_scaled_image_is_padded_with_ignore_and_mean_color():
    image, mask = coded_pair((20, 20))
    img, m = random_scale_crop(image, mask, base_size=20, crop_size=32, scale_range=(1.0, 1.0), rng=random.Random(0))
    assert img.size == m.size == (32, 32)
    labels = np.asarray(m)
    assert (labels[20:, :] == IGNORE_INDEX).all() and (labels[:, 20:] == IGNORE_INDEX).all()
    assert tuple(np.asarray(img)[31, 31]) == PAD_COLOR
    assert (labels[:20, :20] == np.asarray(mask)).all()


def test_hflip_probability_and_unlabeled_images():
    image, mask = coded_pair()
    same_img, same_mask = hflip(image, mask, random.Random(0), p=0.0)
    assert same_img is image and same_mask is mask
    flipped, none = hflip(image, None, random.Random(0), p=1.0)
    assert none is None and (np.asarray(flipped) == np.asarray(image)[:, ::-1]).all()


def test_photometric_changes_keep_size_and_mode():
    image, _ = coded_pair()
    rng = random.Random(1)
    jittered = color_jitter(image, rng, strength=0.4, hue=0.1)
    assert jittered.size == image.size and jittered.mode == "RGB"
    assert not (np.asarray(jittered) == np.asarray(image)).all()
    gray = np.asarray(grayscale(image))
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    blurred = np.asarray(blur(image, rng, (1.0, 1.0)), dtype=np.int32)
    assert np.abs(np.diff(blurred, axis=1)).max() < np.abs(np.diff(np.asarray(image, dtype=np.int32), axis=1)).max()


def test_lineart_draws_lines_at_color_changes_only():
    image = Image.new("RGB", (64, 64), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, 30, 50), fill=(200, 40, 40))
    # red and green of about the same brightness: a grayscale edge filter would miss this edge
    draw.rectangle((31, 10, 50, 50), fill=(40, 130, 40))
    sketch = to_lineart(image)
    assert sketch.size == image.size and sketch.mode == "RGB"
    gray = np.asarray(sketch.convert("L"), dtype=np.int32)
    assert gray[0:5, :].min() > 245 and gray[20, 15:26].min() > 200  # flat areas stay white
    assert gray[20, 8:13].min() < 128  # outline of the shape
    assert gray[20, 29:33].min() < 200  # the red/green boundary
    assert (np.asarray(to_lineart(Image.new("RGB", (16, 16), (90, 160, 30)))) == 255).all()


def test_augment_is_reproducible_and_handles_unlabeled_images():
    image, mask = coded_pair()
    augment = Augment(base_size=48, crop_size=32, lineart_p=0.5, grayscale_p=0.5, blur_p=0.5)
    first = augment(image, mask, random.Random(3))
    again = augment(image, mask, random.Random(3))
    assert (np.asarray(first[0]) == np.asarray(again[0])).all() and (np.asarray(first[1]) == np.asarray(again[1])).all()
    img, none = augment(image, None, random.Random(3))
    assert none is None and img.size == (32, 32)


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_lineart_probability(p):
    image, mask = coded_pair((48, 48))
    augment = Augment(base_size=48, crop_size=48, scale_range=(1.0, 1.0), hflip_p=0, jitter_p=0, grayscale_p=0, blur_p=0, lineart_p=p)
    img, m = augment(image, mask, random.Random(0))
    expected = to_lineart(image) if p else image
    assert (np.asarray(img) == np.asarray(expected)).all() and (np.asarray(m) == np.asarray(mask)).all()


def inside(region: np.ndarray, by: int = 5) -> np.ndarray:
    """The region shrunk by ``by // 2`` pixels: away from any seam."""
    return np.asarray(Image.fromarray(region.astype(np.uint8) * 255).filter(ImageFilter.MinFilter(by))) > 0


def around(region: np.ndarray, by: int = 5) -> np.ndarray:
    """The region grown by ``by // 2`` pixels: its seam included."""
    return np.asarray(Image.fromarray(region.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(by))) > 0


def photo_folder(tmp_path, color=(10, 200, 30)):
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (300, 200), color).save(path, quality=100)
    return (path,)


def test_swap_background_changes_only_the_background(tmp_path):
    image, mask = coded_pair((96, 80))
    swapped, same_mask = swap_background(image, mask, random.Random(0), photo_folder(tmp_path))
    assert same_mask is mask
    ids, before, after = np.asarray(mask), np.asarray(image, np.int16), np.asarray(swapped, np.int16)
    # one pixel in from any seam: a part keeps its colors, the background is the photo's
    grown, shrunk = around(ids != 0), inside(ids != 0)
    assert np.abs(after - before)[shrunk].max() <= 1
    assert np.abs(after - np.array([10, 200, 30]))[~grown].max() <= 6
    assert (~grown).sum() > 1000 and shrunk.sum() > 1000


def test_swap_background_recolors_the_photo_only_when_asked(tmp_path):
    """With a hue range the swapped-in photo changes color from picture to picture (a green
    photo turns red or blue); the parts keep theirs; without it the photo stays as it is."""
    image, mask = coded_pair((96, 80))
    photos = photo_folder(tmp_path, color=(10, 200, 30))
    background = np.asarray(mask) == 0
    interior = inside(np.asarray(mask) != 0)
    hues = set()
    for seed in range(12):
        out = swap_background(image, mask, random.Random(seed), photos, hue=0.5)[0]
        rgb = np.asarray(out, np.int16)
        assert np.abs(rgb - np.asarray(image, np.int16))[interior].max() <= 1
        hues.add(int(np.argmax(np.median(rgb[background], axis=0))))  # the photo's dominant channel
    assert hues == {0, 1, 2}
    plain = np.asarray(swap_background(image, mask, random.Random(0), photos)[0], np.int16)
    assert np.abs(plain[background] - np.array([10, 200, 30])).mean() < 4


def test_swap_background_keeps_a_sketch_gray_and_leaves_pictures_without_background(tmp_path):
    image, mask = coded_pair((96, 80))
    gray = grayscale(image)
    out, _ = swap_background(gray, mask, random.Random(0), photo_folder(tmp_path))
    rgb = np.asarray(out, np.int16)
    assert (rgb.max(axis=2) - rgb.min(axis=2)).max() <= 1
    assert not np.array_equal(np.asarray(out), np.asarray(gray))
    full = Image.new("L", image.size, 1)
    assert swap_background(image, full, random.Random(0), photo_folder(tmp_path))[0] is image
    assert swap_background(image, None, random.Random(0), photo_folder(tmp_path))[0] is image


def test_augment_swaps_backgrounds_only_when_asked(tmp_path):
    image, mask = coded_pair((96, 96))
    photos = photo_folder(tmp_path, color=(0, 255, 0))
    plain = dict(base_size=96, crop_size=96, scale_range=(1.0, 1.0), hflip_p=0, jitter_p=0, grayscale_p=0, blur_p=0, lineart_p=0)
    kept, _ = Augment(**plain)(image, mask, random.Random(0))
    swapped, out_mask = Augment(**plain, background_p=1.0, photos=photos)(image, mask, random.Random(0))
    background = np.asarray(out_mask) == 0
    assert np.array_equal(np.asarray(kept), np.asarray(image.resize((96, 96), Image.BILINEAR)))
    assert np.abs(np.asarray(swapped, np.int16)[background] - np.array([0, 255, 0])).mean() < 20


def test_recolor_parts_changes_each_group_on_its_own_and_keeps_everything_else():
    image, mask = coded_pair((96, 80))
    ids, before = np.asarray(mask), np.asarray(image, np.int16)
    hair, top = inside(ids == 1), inside(ids == 9)
    near_parts = around(np.isin(ids, (1, 9)))
    original = before[hair].mean(0)
    hair_colors, gray, darker, lighter = set(), 0, 0, 0
    for seed in range(24):
        out = np.asarray(recolor_parts(image, mask, random.Random(seed), [(1,), (9,)]), np.int16)
        assert np.array_equal(out[~near_parts], before[~near_parts])  # background and ignored pixels
        for region in (hair, top):
            assert out[region].std(axis=0).max() < 1  # a flat part stays flat: shading is kept, not noise added
        color = out[hair].mean(0)
        hair_colors.add(tuple(np.round(color).astype(int)))
        gray += np.ptp(color) < 0.25 * np.ptp(original)
        darker += color.mean() < 0.7 * original.mean()
        lighter += color.mean() > 1.2 * original.mean()
        only_hair = np.asarray(recolor_parts(image, mask, random.Random(seed), [(1,)]), np.int16)
        assert np.array_equal(only_hair[top], before[top])
    assert len(hair_colors) == 24 and gray and darker and lighter


def test_recolor_parts_keeps_a_sketch_gray_and_leaves_pictures_without_the_parts():
    image, mask = coded_pair((96, 80))
    gray = np.asarray(recolor_parts(grayscale(image), mask, random.Random(0), [(1,), (9,)]), np.int16)
    assert (gray.max(axis=2) - gray.min(axis=2)).max() <= 1
    assert recolor_parts(image, mask, random.Random(0), [(12,)]) is image


def test_augment_recolors_parts_only_when_asked():
    image, mask = coded_pair((96, 96))
    plain = dict(base_size=96, crop_size=96, scale_range=(1.0, 1.0), hflip_p=0, jitter_p=0, grayscale_p=0, blur_p=0, lineart_p=0)
    kept, _ = Augment(**plain, recolor_groups=((1,),))(image, mask, random.Random(0))
    assert np.array_equal(np.asarray(kept), np.asarray(image.resize((96, 96), Image.BILINEAR)))
    recolored, out_mask = Augment(**plain, recolor_p=1.0, recolor_groups=((1,),))(image, mask, random.Random(0))
    hair = np.asarray(out_mask) == 1
    rest = ~around(hair)
    hair = inside(hair)
    assert np.abs(np.asarray(recolored, np.int16) - np.asarray(kept, np.int16))[hair].min(axis=-1).max() > 0
    assert np.array_equal(np.asarray(recolored)[rest], np.asarray(kept)[rest])


def test_paint_letters_writes_on_the_background_only():
    """Letters of many colors land on the background; the parts, the ignored pixels and the mask
    stay as they were."""
    image, mask = coded_pair((192, 160))
    ids, before = np.asarray(mask), np.asarray(image, np.int16)
    kept = ~around(ids == 0)  # parts and ignored pixels, one pixel in from the seam
    changed, colors = [], set()
    for seed in range(8):
        out = np.asarray(paint_letters(image, mask, random.Random(seed)), np.int16)
        assert np.array_equal(out[kept], before[kept])
        painted = np.abs(out - before).max(axis=-1) > 30
        changed.append(painted[ids == 0].mean())
        colors.update(map(tuple, out[painted & inside(ids == 0)][::50] // 64))
    assert max(changed) > 0.02 and min(changed) > 0 and len(colors) >= 6  # every seed paints some background
    assert paint_letters(image, Image.new("L", image.size, 1), random.Random(0)) is image
    assert paint_letters(image, None, random.Random(0)) is image


def test_what_is_added_to_a_sketch_stays_gray_beside_a_crops_padding(tmp_path):
    """A sketch cropped past its edge has padding in the normalisation mean's color (labeled
    ignore): the letters and the swapped-in photograph must still come out gray."""
    image, mask = coded_pair((192, 160))
    sketch = np.array(grayscale(image))
    sketch[np.asarray(mask) == IGNORE_INDEX] = PAD_COLOR
    sketch = Image.fromarray(sketch)
    background = np.asarray(mask) == 0
    for out in [paint_letters(sketch, mask, random.Random(seed)) for seed in range(4)] + [
        swap_background(sketch, mask, random.Random(0), photo_folder(tmp_path))[0]
    ]:
        rgb = np.asarray(out, np.int16)[background]
        assert (rgb.max(axis=1) - rgb.min(axis=1)).max() <= 1
        assert not np.array_equal(np.asarray(out)[background], np.asarray(sketch)[background])


def test_augment_paints_letters_only_when_asked():
    image, mask = coded_pair((192, 192))
    plain = dict(base_size=192, crop_size=192, scale_range=(1.0, 1.0), hflip_p=0, jitter_p=0, grayscale_p=0, blur_p=0, lineart_p=0)
    kept, _ = Augment(**plain)(image, mask, random.Random(0))
    painted, out_mask = Augment(**plain, letters_p=1.0)(image, mask, random.Random(0))
    ids = np.asarray(out_mask)
    assert np.array_equal(np.asarray(painted)[~around(ids == 0)], np.asarray(kept)[~around(ids == 0)])
    assert not np.array_equal(np.asarray(painted)[ids == 0], np.asarray(kept)[ids == 0])
