"""Keeping freed tensor memory in the process on Linux CPUs, so training steps stop page-faulting.

glibc gives every freed block above its mmap threshold (at most 32 MB) straight back to the
operating system, so a CPU training step that allocates big activations (a SegFormer-B0 batch of
8 crops of 256 px has several above 32 MB) page-faults all of them in again, every step. Measured
on the project's 2-core CPU (fp32, one thread): system time was about 15 % of a forward-backward
pass over 8 images and a third of one over 16, so a pass over 16 cost more than two over 8.
Raising the threshold serves such blocks from the heap, which keeps and reuses them; compare with
``bench/bench_cps_step.py --system-malloc``.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
"""glibc's ``mallopt`` parameter numbers (malloc.h)."""

THRESHOLD = 1 << 30
"""Blocks up to 1 GiB come from the heap, and up to 1 GiB free at the heap's top stays there
(a freed block at the top would otherwise be handed back at once)."""


def keep_freed_memory() -> bool:
    """Raise glibc's mmap threshold for this process and the workers it forks later.

    Returns whether it applied: only on Linux with glibc; a no-op elsewhere (macOS, Windows, musl).
    The process then keeps its peak memory instead of returning it between steps.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD) and libc.mallopt(M_TRIM_THRESHOLD, THRESHOLD))
    except (OSError, AttributeError):
        return False
