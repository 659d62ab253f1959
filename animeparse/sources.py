"""Where a model or a dataset comes from: a local folder or a Hugging Face Hub repo id.

Every option that takes "a Hub id or a local folder" (the app's and the batch command's models,
``--init``, ``--dataset``, the model cards' dataset) tells the two apart with :func:`is_local`.
"""

from __future__ import annotations

from pathlib import Path

from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id


def is_local(source: str | Path) -> bool:
    """A local path rather than a Hub repo id: anything that exists on disk, and anything that
    cannot be a repo id (``name`` or ``owner/name``), such as ``./model``, ``/abs/path`` or
    ``outputs/run/model_a``, so a mistyped path is reported as a missing folder, not a Hub miss."""
    if Path(source).exists():
        return True
    try:
        validate_repo_id(str(source))
    except HFValidationError:
        return True
    return False
