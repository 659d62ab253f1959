"""The procedural anime character renderer: pictures with exact 16-class part labels, from a seed.

    from animeparse.synth import render
    sample = render(seed=7, size=512)                     # random style, scene and difficulty
    sample.image, sample.label                            # PIL RGB, PIL L (class ids of SCHEMA_16)
    sample.difficulty, sample.style, sample.num_characters
    render(7, 256, style="lineart", num_characters=2)     # force any choice (see render())

The same seed and controls give byte-identical images and labels in any process.
"""

from animeparse.synth.background import BACKGROUNDS
from animeparse.synth.character import VIEWS
from animeparse.synth.occluders import OCCLUDERS
from animeparse.synth.scene import DIFFICULTIES, FRAMINGS, STYLES, Controls, Sample, render
from animeparse.synth.shading import SHADINGS

__all__ = ["render", "Sample", "Controls", "STYLES", "SHADINGS", "DIFFICULTIES", "FRAMINGS", "VIEWS",
           "BACKGROUNDS", "OCCLUDERS"]
