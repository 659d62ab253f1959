"""Writing files whole or not at all, and PNG encoding: one home for both.

A crash or a failed build never leaves half a file or half a folder behind: everything is
written beside its destination under a hidden temporary name and renamed into place (a rename
within one folder is atomic).
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

FAST_PNG_LEVEL = 1
"""zlib level for PNGs made on request (app pictures, exports): files a little larger, encoding
several times faster than PIL's default level 6."""


def png_bytes(image: np.ndarray | Image.Image, compress_level: int = 6) -> bytes:
    """A PNG file of a PIL image or a uint8 array ((H, W) or (H, W, 3 or 4))."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def write_atomic(path: str | Path, data: bytes | str) -> None:
    """Write a file (bytes, or text as UTF-8) whole or not at all."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(out_dir: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``out_dir`` only if the block succeeds; an existing
    ``out_dir`` is replaced only with ``overwrite``, and only then."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise FileExistsError(f"{out_dir} already exists; pass --overwrite to replace it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    tmp.chmod(0o755)  # mkdtemp makes it owner-only; the finished folder is an ordinary one
    try:
        yield tmp
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old)
        else:
            tmp.rename(out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    return renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0


def stale_updates(folder: Path) -> list[Path]:
    """Leftovers of :func:`updated_dir` runs that were killed before they finished."""
    return sorted(folder.parent.glob(f".{folder.name}.update-*"))


@contextmanager
def updated_dir(folder: str | Path) -> Iterator[Path]:
    """Yield a copy of ``folder`` to change; it replaces ``folder`` in one step only if the block succeeds.

    The copy is made of hard links (no file data is copied, so its cost does not grow with file
    sizes): change it only by adding, renaming, deleting or replacing whole files (:func:`write_atomic`),
    never by writing into a file in place, which would change the original too. Readers see the
    old folder or the new one, never a mix; a killed run leaves the old folder and a hidden
    sibling that the next run removes (callers serialise runs, e.g. with a lock).
    """
    folder = Path(folder)
    for old in stale_updates(folder):
        shutil.rmtree(old, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{folder.name}.update-", dir=folder.parent))
    try:
        stage.rmdir()
        shutil.copytree(folder, stage, copy_function=os.link)
        yield stage
        if not _exchange(stage, folder):  # elsewhere: two renames, with a moment where folder is absent
            old = stage.with_name(stage.name + "-old")
            folder.rename(old)
            stage.rename(folder)
            stage = old
    finally:
        shutil.rmtree(stage, ignore_errors=True)
