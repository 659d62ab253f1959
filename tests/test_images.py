"""animeparse.images: every kind of file a user brings becomes RGB, or fails naming the file."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from animeparse.images import MAX_PIXELS, ImageError, fit_within, frame_window, load_rgb, pad_to_frame
from animeparse.model import input_size


def pixels(img: Image.Image) -> np.ndarray:
    assert img.mode == "RGB"
    return np.asarray(img)


def test_rgba_is_composited_over_white(tmp_path):
    rgba = np.zeros((8, 10, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :5, 3] = 255  # left half opaque red-ish, right half fully transparent, one pixel half
    rgba[0, 5, 3] = 128
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = pixels(load_rgb(tmp_path / "a.png"))
    assert (out[:, :5] == (200, 0, 0)).all()
    assert (out[1:, 6:] == 255).all()
    assert np.abs(out[0, 5].astype(int) - (228, 127, 127)).max() <= 1


def test_compositing_is_alpha_composite_over_white_for_every_value_and_alpha():
    value, alpha = np.meshgrid(np.arange(256), np.arange(256))
    rgba = Image.fromarray(np.stack([value, 255 - value, value // 2, alpha], -1).astype(np.uint8), "RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    expected = np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    assert np.array_equal(pixels(load_rgb(rgba)), expected)


def test_grayscale_and_gray_alpha(tmp_path):
    Image.fromarray(np.full((8, 8), 77, np.uint8), "L").save(tmp_path / "g.png")
    assert (pixels(load_rgb(tmp_path / "g.png")) == 77).all()
    la = np.dstack([np.full((8, 8), 10, np.uint8), np.zeros((8, 8), np.uint8)])
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    assert (pixels(load_rgb(tmp_path / "la.png")) == 255).all()


def test_cmyk(tmp_path):
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "c.tif")
    assert (pixels(load_rgb(tmp_path / "c.tif")) == (255, 0, 0)).all()


def test_16_bit_is_scaled_to_8_bit(tmp_path):
    values = np.array([[0, 32896, 65535, 257]] * 8, np.uint16).repeat(2, axis=1)
    Image.fromarray(values).save(tmp_path / "deep.png")
    out = pixels(load_rgb(tmp_path / "deep.png"))
    assert out[0, ::2, 0].tolist() == [0, 128, 255, 1]


def test_palette_image_with_and_without_transparency(tmp_path):
    img = Image.new("P", (8, 8), 1)
    img.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    img.save(tmp_path / "p.png")
    assert (pixels(load_rgb(tmp_path / "p.png")) == (10, 200, 30)).all()
    img.save(tmp_path / "pt.png", transparency=1)
    assert (pixels(load_rgb(tmp_path / "pt.png")) == 255).all()


def test_animated_image_gives_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), color) for color in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(tmp_path / "anim.gif").n_frames == 2
    assert (pixels(load_rgb(tmp_path / "anim.gif")) == (255, 0, 0)).all()


def test_exif_rotation_is_applied(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (10, 20, 3), dtype=np.uint8)
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    img.save(tmp_path / "rot.png", exif=exif.tobytes())
    out = pixels(load_rgb(tmp_path / "rot.png"))
    assert out.shape == (20, 10, 3)
    assert np.array_equal(out, np.rot90(arr, k=-1))


def test_truncated_file(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"cut\.png: corrupt or truncated"):
        load_rgb(tmp_path / "cut.png")


def test_non_image_and_missing_files(tmp_path):
    (tmp_path / "notes.png").write_text("hello")
    with pytest.raises(ImageError, match=r"notes\.png: not an image file"):
        load_rgb(tmp_path / "notes.png")
    with pytest.raises(ImageError, match=r"nothing\.png: file not found"):
        load_rgb(tmp_path / "nothing.png")
    with pytest.raises(ImageError, match=r"upload\.jpg: not an image file"):
        load_rgb(b"\x00\x01 not an image", name="upload.jpg")


def png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG that declares a size but holds no pixel data: decoding it would fail as truncated."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def test_too_large_images_are_refused_before_decoding(tmp_path):
    side = int(MAX_PIXELS**0.5) + 100
    png_header_only(tmp_path / "big.png", side, side)
    with pytest.raises(ImageError, match=rf"big\.png: image is {side}x{side} .* over the limit"):
        load_rgb(tmp_path / "big.png")
    png_header_only(tmp_path / "bomb.png", 100_000, 100_000)  # past Pillow's own bomb guard
    with pytest.raises(ImageError, match=r"bomb\.png: image too large"):
        load_rgb(tmp_path / "bomb.png")
    Image.new("RGB", (30, 30)).save(tmp_path / "small.png")
    with pytest.raises(ImageError, match="over the limit of 100"):
        load_rgb(tmp_path / "small.png", max_pixels=100)


def test_tiny_images_are_refused(tmp_path):
    Image.new("RGB", (4, 50)).save(tmp_path / "thin.png")
    with pytest.raises(ImageError, match=r"thin\.png: image is 4x50; each side must be at least 8"):
        load_rgb(tmp_path / "thin.png")
    assert load_rgb(Image.new("RGB", (8, 8))).size == (8, 8)


def test_fit_within_only_shrinks():
    assert fit_within(Image.new("RGB", (400, 200)), 100).size == (100, 50)
    assert fit_within(Image.new("RGB", (40, 20)), 100).size == (40, 20)


@pytest.mark.parametrize("size, frame", [  # (width, height): a tall picture's square, a wide one itself up to 2:1
    ((30, 70), (70, 70)), ((31, 70), (70, 70)), ((69, 70), (70, 70)), ((1, 2), (2, 2)), ((40, 40), (40, 40)),
    ((70, 69), (70, 69)), ((140, 70), (140, 70)), ((70, 30), (70, 35)), ((141, 70), (141, 71)), ((9, 1), (9, 5)),
])
def test_pad_to_frame_centers_the_picture_and_repeats_its_edges(size, frame):
    width, height = size
    rgb = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    framed = np.asarray(pad_to_frame(Image.fromarray(rgb)))
    frame_height, frame_width, top, left = frame_window(height, width)
    assert (frame_width, frame_height) == frame and framed.shape == (frame_height, frame_width, 3)
    np.testing.assert_array_equal(framed[top : top + height, left : left + width], rgb)
    # the margins continue the nearest edge pixel of the picture
    rows = np.clip(np.arange(frame_height) - top, 0, height - 1)
    cols = np.clip(np.arange(frame_width) - left, 0, width - 1)
    np.testing.assert_array_equal(framed, rgb[rows][:, cols])
    # and the model sees the frame's height at its input size, the width in proportion
    input_width, input_height = input_size({"height": 384, "width": 384}, frame_width, frame_height)
    assert input_height == 384 and input_width % 32 == 0
    if frame_width > frame_height:
        assert abs(input_width - 384 * frame_width / frame_height) <= 16
    else:
        assert input_width == 384
