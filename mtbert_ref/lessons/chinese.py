"""Notebook 05, part 2 (sections 8-9) — classifying Chinese text: data, a character-level vocabulary, a small BERT
from scratch.

What changes for Chinese:
* there are no spaces between words, so BERT's pre-tokenizer splits every CJK character into a word of its own
  (``tokenize_chinese_chars=True``); a Chinese vocabulary is essentially a list of characters (bert-base-chinese has
  ~21k entries, most of them single characters);
* an English vocabulary (the MiniLM / bert-base-uncased one) contains only a few thousand CJK characters and maps the
  others to [UNK] — :func:`unk_rate` measures how much of a Chinese text that destroys;
* sequences are counted in characters: a 100-character review is ~100 tokens, against ~20 for a 16-word tweet.

Two Chinese data sets ship: binary review sentiment (``load_chinese_reviews``) and a 10-class task, the kind of
software a translated Debian package description describes (``load_chinese_packages``). No pretrained Chinese BERT can
be had offline, so the course trains a character-level WordPiece vocabulary on each set's training texts
(``scripts/data/build_chinese_reviews.py``, ``scripts/data/build_chinese_packages.py`` ship them) and a small BERT
from scratch. With a hub (``MTBERT_CHINESE_MODEL=bert-base-chinese`` and network or a filled cache)
:func:`chinese_backbone` loads the real one. The head, the loss and the training step are the English part's
(:mod:`mtbert_ref.modeling.classification`, :mod:`mtbert_ref.lessons.classification`).
"""
from __future__ import annotations

import gzip
import json
import os
from typing import Sequence

from transformers import BertConfig, BertModel, BertTokenizerFast

from ..data import data_path

__all__ = ["CHINESE_LABELS", "PACKAGE_LABELS", "load_chinese_reviews", "load_chinese_packages", "chinese_tokenizer",
           "small_bert_config", "unk_rate", "chinese_backbone"]

CHINESE_LABELS = ["negative", "positive"]
PACKAGE_LABELS = ["libraries", "development", "system administration", "networking", "desktop", "documentation",
                  "games", "multimedia", "fonts and localisation", "science"]
DATASETS = ("chinese_reviews", "chinese_packages")
ENV_VAR = "MTBERT_CHINESE_MODEL"


def load_chinese_reviews(split: str = "train") -> list[dict]:
    """Binary Chinese review sentiment (see ``mtbert_ref/data/chinese_reviews/SOURCE.md``).

    ``split``: "train" (2,500 + 2,500) or "test" (500 + 500). Items: ``{"text", "label" (0 neg / 1 pos), "label_name"}``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    with gzip.open(data_path("chinese_reviews", f"{split}.jsonl.gz"), "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_chinese_packages(split: str = "train") -> list[dict]:
    """10-class Chinese text: translated Debian package descriptions labelled with the package's kind of software
    (its Debian Section, grouped; see ``mtbert_ref/data/chinese_packages/SOURCE.md``).

    ``split``: "train" (872) or "test" (269). Items: ``{"text", "label" (index into PACKAGE_LABELS), "label_name",
    "package", "section"}``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    with gzip.open(data_path("chinese_packages", f"{split}.jsonl.gz"), "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def chinese_tokenizer(dataset: str = "chinese_reviews", model_max_length: int = 512) -> BertTokenizerFast:
    """A BERT tokenizer over a shipped character-level WordPiece vocabulary, trained on the training texts of
    ``dataset`` ("chinese_reviews" or "chinese_packages"; ``<dataset>/vocab.txt``)."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    return BertTokenizerFast(vocab=str(data_path(dataset, "vocab.txt")), do_lower_case=True,
                             tokenize_chinese_chars=True, strip_accents=False, model_max_length=model_max_length)


def small_bert_config(vocab_size: int, **overrides) -> BertConfig:
    """A small BERT to train from scratch in about a minute on a CPU: 2 layers, hidden 128, 4 heads, FFN 256."""
    cfg = dict(vocab_size=vocab_size, hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
               intermediate_size=256, max_position_embeddings=128, type_vocab_size=2, hidden_dropout_prob=0.1,
               attention_probs_dropout_prob=0.1, pad_token_id=0, num_labels=2)
    cfg.update(overrides)
    return BertConfig(**cfg)


def unk_rate(tokenizer, texts: Sequence[str]) -> dict:
    """Share of [UNK] among the tokens of ``texts`` (special tokens excluded), share of texts with at least one
    [UNK], and tokens per character."""
    unk_id = tokenizer.unk_token_id
    n_tok = n_unk = n_char = with_unk = 0
    for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]:
        k = sum(1 for i in ids if i == unk_id)
        n_unk += k
        n_tok += len(ids)
        with_unk += k > 0
    n_char = sum(len(t) for t in texts)
    return {"unk_share": n_unk / max(1, n_tok), "texts_with_unk": with_unk / max(1, len(texts)),
            "tokens_per_char": n_tok / max(1, n_char), "tokens": n_tok}


def chinese_backbone(name: str | None = None, dataset: str = "chinese_reviews"):
    """``(tokenizer, encoder_or_None, description)``.

    ``name`` (or ``$MTBERT_CHINESE_MODEL``), e.g. "bert-base-chinese": try to load that pretrained model (hub or local
    cache); if none is named or it cannot be reached, return the shipped character vocabulary of ``dataset`` and
    ``None`` — the caller then builds a small BERT from scratch with :func:`small_bert_config`.
    """
    from ..backbone import BackboneNotFoundError, load_encoder, load_tokenizer

    name = name or os.environ.get(ENV_VAR)
    if name:
        try:
            tok = load_tokenizer(name)
            enc = load_encoder(name, model_cls=BertModel)
            return tok, enc, f"pretrained {name}"
        except (BackboneNotFoundError, OSError, ValueError) as exc:
            reason = str(exc).split(". ")[0]
            return chinese_tokenizer(dataset), None, (f"{name} not reachable ({reason}); small BERT from scratch on the "
                                               "shipped character vocabulary")
    return chinese_tokenizer(dataset), None, "small BERT from scratch on the shipped character vocabulary (no pretrained " \
                                      "Chinese BERT offline)"
