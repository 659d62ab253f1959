"""Rendering many pictures on several cores, in seed order, for datasets and benchmarks.

Each picture depends only on its seed, so the output is the same for any number of workers.
Workers are spawned (not forked): a fresh interpreter is safe whatever threads the parent runs.
"""

from __future__ import annotations

import io
import multiprocessing
from dataclasses import dataclass
from functools import partial
from typing import Callable, Iterable, Iterator, Mapping, TypeVar

import numpy as np

from animeparse.synth.scene import Sample, render

T = TypeVar("T")
Renderer = Callable[..., Sample]

CHUNK = 4
"""Seeds handed to a worker at a time: large enough to amortise messaging, small enough to balance."""

PNG_LEVEL = 6
"""zlib level of image PNGs (the default of PIL and of most tools)."""

SPLIT_BITS = 32
"""Seeds of a split's pictures are ``(build seed, split index, picture index)`` packed into one
integer with the index in the low 32 bits, so splits and builds never share a picture."""


@dataclass(frozen=True)
class EncodedSample:
    """A sample ready for a dataset row: the image as PNG bytes, the label as an array."""

    image_png: bytes
    label: np.ndarray  # (H, W) uint8 class ids
    difficulty: str
    style: str
    num_characters: int
    seed: int
    tags: Mapping[str, str]


def split_seeds(seed: int, split_index: int, count: int) -> list[int]:
    """Render seeds for ``count`` pictures of split number ``split_index`` of a build with ``seed``."""
    if count >= 1 << SPLIT_BITS:
        raise ValueError(f"at most {1 << SPLIT_BITS} pictures per split, got {count}")
    base = ((seed << 8) | split_index) << SPLIT_BITS
    return [base | i for i in range(count)]


def encode(sample: Sample, png_level: int = PNG_LEVEL) -> EncodedSample:
    buf = io.BytesIO()
    sample.image.save(buf, format="PNG", compress_level=png_level)
    return EncodedSample(buf.getvalue(), np.asarray(sample.label), sample.difficulty, sample.style,
                         sample.num_characters, sample.seed, sample.tags)


def _render_encoded(seed: int, size: int, controls: dict, render: Renderer = render) -> EncodedSample:
    return encode(render(seed, size, **controls))


def _render(seed: int, size: int, controls: dict, render: Renderer = render) -> Sample:
    return render(seed, size, **controls)


class RenderPool:
    """A pool of rendering processes (none with ``workers=1``); use as a context manager.

    ``render`` is the picture source, the procedural renderer by default; any module-level
    function ``render(seed, size, **controls) -> Sample`` works (workers import it by name).
    """

    def __init__(self, workers: int = 1, render: Renderer = render):
        if workers < 1:
            raise ValueError(f"workers={workers}: at least 1")
        self.workers = workers
        self.render = render
        self._pool = multiprocessing.get_context("spawn").Pool(workers) if workers > 1 else None

    def _map(self, fn: Callable[[int], T], seeds: Iterable[int]) -> Iterator[T]:
        if self._pool is None:
            return map(fn, seeds)
        return self._pool.imap(fn, seeds, chunksize=CHUNK)

    def samples(self, seeds: Iterable[int], size: int = 512, **controls) -> Iterator[Sample]:
        """:func:`render` of each seed, in order."""
        return self._map(partial(_render, size=size, controls=controls, render=self.render), seeds)

    def encoded(self, seeds: Iterable[int], size: int = 512, **controls) -> Iterator[EncodedSample]:
        """Rendered and PNG-encoded in the workers, in order."""
        return self._map(partial(_render_encoded, size=size, controls=controls, render=self.render), seeds)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> "RenderPool":
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None and exc[0] is not None:
            self._pool.terminate()
        self.close()
