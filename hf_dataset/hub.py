"""Uploading a Datasets repo folder to the Hub."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import HfApi, get_token


def push(folder: Path, repo_id: str, private: bool) -> tuple[str, bool]:
    """Upload a built repo to the Hub (token from the environment or `hf auth login`); return its
    URL and whether it is private (an existing repo keeps its visibility)."""
    if get_token() is None:
        raise PermissionError("--push-to-hub needs a Hugging Face token: set HF_TOKEN or run `hf auth login`")
    api = HfApi()
    url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    # Shards of an earlier push that this build no longer has are deleted in the same commit.
    api.upload_folder(
        repo_id=repo_id,
        repo_type="dataset",
        folder_path=folder,
        commit_message=f"Build {repo_id} with animeparse",
        delete_patterns=["data/*"],
    )
    return str(url), bool(api.repo_info(repo_id, repo_type="dataset").private)
