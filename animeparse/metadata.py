"""The vocabulary of the per-image metadata columns that training and evaluation group by.

One definition for the renderer (which tags its pictures), the dataset builder (which checks
annotated splits' metadata against it) and training (which reports metrics per difficulty).
"""

from __future__ import annotations

from typing import Iterable

DIFFICULTIES = ("easy", "medium", "hard")
"""How hard a picture is to parse, easiest first: the order of per-difficulty metrics."""

STYLES = ("color", "lineart", "manga")
"""``color``: filled and shaded; ``lineart``: a sketch, white fills and dark lines, often with
pencil texture; ``manga``: black and white with screentone."""


def ordered_difficulties(values: Iterable[str | None]) -> list[str]:
    """The distinct difficulties among ``values``, easy to hard first, then any others sorted."""
    present = set(values) - {None}
    return [d for d in DIFFICULTIES if d in present] + sorted(present - set(DIFFICULTIES))
