"""Materials by role: one place that turns "hair, this color" into a class id, shadow and outline
colors, following the image's line style (colored or plain ink lines)."""

from __future__ import annotations

from dataclasses import dataclass

from animeparse.labels import SCHEMA_16
from animeparse.synth.canvas import RGB, Material, Pattern
from animeparse.synth.colors import INK, line_of, shadow_of

CLASS_ID = SCHEMA_16.label2id
"""Class ids of the 16-class schema by name; the renderer labels every part with one of them."""


@dataclass(frozen=True)
class Inker:
    """Makes the materials of one character in one line style."""

    colored_lines: bool = True
    shadow_depth: float = 0.22
    ink_color: RGB = INK

    def solid(self, cls: str, color: RGB, *, shade: bool = True, line: bool = True, casts: bool = False,
              rim: bool = True, pattern: Pattern | None = None) -> Material:
        """A filled part: shaded and outlined unless told otherwise."""
        return Material(
            CLASS_ID[cls], color,
            shadow=shadow_of(color, self.shadow_depth) if shade else None,
            line=line_of(color, self.ink_color, self.colored_lines) if line else None,
            casts=casts, rim=rim, pattern=pattern,
        )

    def ink(self, cls: str, color: RGB | None = None) -> Material:
        """A drawn line or dark detail (lash line, mouth line, strand line): no outline of its own."""
        return Material(CLASS_ID[cls], color or self.ink_color, ink=True)

    def flat(self, cls: str, color: RGB) -> Material:
        """A light detail painted over another part (highlight, blush): no shade, no outline."""
        return Material(CLASS_ID[cls], color)

    def line_color(self, color: RGB) -> RGB:
        return line_of(color, self.ink_color, self.colored_lines)
