"""The names of the two co-trained branches and of their ensemble: one list for the app, the
batch command, training metrics and the model cards."""

from __future__ import annotations

BRANCHES = ("A", "B")
ENSEMBLE = "A+B"
USES = (*BRANCHES, ENSEMBLE)
"""What a label map can come from: one branch, or the average of both branches' probabilities."""


def needed_branches(use: str) -> tuple[str, ...]:
    """The branches that a label map from ``use`` needs."""
    if use not in USES:
        raise ValueError(f"unknown model choice {use!r}; choose one of {list(USES)}")
    return BRANCHES if use == ENSEMBLE else (use,)
