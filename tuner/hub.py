"""A hub model the user named: taken from the local Hugging Face cache, or downloaded once — the one
place hearth reaches the network (hearth/offline.py keeps every other look-up on disk).

Only safetensors weights, configs and tokenizer files are fetched; a repository whose weights exist
only as pickles is refused. Transformers then loads the downloaded directory like any local model,
so training, merging and conversion never ask the hub anything.
"""

from __future__ import annotations

from pathlib import Path

from hearth.errors import UserError
from hearth.offline import check_reachable, hub_access, hub_endpoint
from hearth.weights import safetensors_files

# What a causal LM needs, and nothing that runs code when loaded (*.bin, *.pt, *.ckpt, *.pkl, *.h5 …).
HUB_FILES = ["*.safetensors", "*.json", "*.txt", "*.model", "*.tiktoken", "*.jinja"]


def hub_model_dir(repo_id: str) -> Path:
    """The local directory of hub model `repo_id`: cached, else downloaded now."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError, RepositoryNotFoundError

    def failed(why: str) -> UserError:
        return UserError(f"cannot load base model '{repo_id}': {why}; name a local model directory or use --base tiny-qwen2")

    try:
        path = snapshot_download(repo_id, allow_patterns=HUB_FILES, local_files_only=True)
    except HFValidationError:
        raise failed("it is not a directory, not a model under HEARTH_HOME/models, and not a hub id "
                     "(like Qwen/Qwen2.5-0.5B-Instruct)") from None
    except (LocalEntryNotFoundError, OSError):
        path = None
    if path is None:
        try:
            check_reachable()
        except UserError as exc:
            raise failed(f"it is not on disk (nor in the Hugging Face cache), and {exc}") from None
        with hub_access():
            try:
                path = snapshot_download(repo_id, allow_patterns=HUB_FILES)
            except RepositoryNotFoundError:
                raise failed(f"{hub_endpoint()} has no such model (or it is private or gated: log in with `hf auth login`)") from None
            except Exception as exc:  # network and HTTP errors come in many classes (httpx, OSError, HfHubHTTPError)
                raise failed(f"the download failed ({str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__})") from None
    safetensors_files(path)  # a repository with only pickle weights is refused here, in one line
    return Path(path)
