"""Publishing a run's two models on the Hugging Face Hub."""

from __future__ import annotations

from pathlib import Path


def push_models(folders: dict[str, Path], repo_ids: dict[str, str], private: bool) -> None:
    """Upload each branch's folder (model, processor, card, and its ``onnx/`` export, made here if
    the folder has none) to its Hub repo, created if missing (token from HF_TOKEN or the login)."""
    from huggingface_hub import create_repo, upload_folder

    from animeparse.export import carry_onnx

    for branch, folder in folders.items():
        carry_onnx(Path(folder), Path(folder))
        create_repo(repo_ids[branch], private=private, exist_ok=True)
        upload_folder(repo_id=repo_ids[branch], folder_path=folder, commit_message="Upload animeparse model")
