"""Regenerate the demo's example images with the project's own renderer (license-clean):

    python examples/make_examples.py
"""

from pathlib import Path

from animeparse.synth import render

SIZE = 320  # px; small files, and the models see 512 anyway
QUALITY = 85  # JPEG quality: a few tens of KB per picture
EXAMPLES = {  # file name: (seed, renderer controls)
    "witch_bust.jpg": (2, dict(style="color", framing="bust")),
    "satchel_half.jpg": (6, dict(style="color", framing="half", difficulty="easy")),
    "lineart_wink.jpg": (3, dict(style="lineart", framing="half")),
    "manga_group.jpg": (4, dict(style="manga")),
}

if __name__ == "__main__":
    for name, (seed, controls) in EXAMPLES.items():
        render(seed, SIZE, effects=False, **controls).image.save(Path(__file__).parent / name, quality=QUALITY)
