"""The MLM and NSP heads trained for the course, on the embedded all-MiniLM-L6-v2, loaded with one call.

MiniLM ships without BERT's pretraining heads, so a fill-mask pipeline on it alone answers at random. The course
trains the missing pieces once with ``scripts/pretrain/train_heads.py`` (on the Wikipedia text in gensim's test data
and the course's news corpus; see ``mtbert_ref/data/pretrained_heads/SOURCE.md``) and ships only what was trained:
the MLM head's transform and bias (the decoder is MiniLM's own word-embedding matrix, tied), the NSP classifier,
the pooler and the re-adapted top encoder layers, in ``heads.safetensors`` (fp16, transformers' names).

* :func:`load_pretrained_mlm` → a transformers ``BertForMaskedLM`` (``pipeline("fill-mask", model=...,
  tokenizer=load_tokenizer())`` works);
* :func:`load_pretrained_nsp` → a transformers ``BertForNextSentencePrediction``;
* :func:`shipped_files` — the files of the shipped heads (for size checks and provenance);
* what they are judged on, never trained on: :func:`heldout_documents` (held-out Wikipedia articles and news
  articles), :func:`heldout_mlm_batches` (15 % of their tokens masked, fixed seed), :func:`heldout_nsp_pairs`,
  :func:`load_probes` (probe sentences written before training). :func:`nsp_pairs_by_source` builds next-sentence
  pairs within one source at a time (training uses it too), so that a NotNext B never gives itself away by style.

Both start from the same MiniLM weights (``default_model_path``), replace the adapted layers and add the heads,
through the course's one weight mapping (:func:`mtbert_ref.modeling.weights.load_mapped_state`, strict: a missing or
left-over weight is an error).
"""
from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import BertConfig, BertForMaskedLM, BertForNextSentencePrediction, PreTrainedModel

from .backbone import default_model_path
from .data import data_path, read_jsonl
from .modeling.weights import load_mapped_state, rename_keys

__all__ = ["HEADS_FILE", "shipped_files", "load_pretrained_mlm", "load_pretrained_nsp", "heldout_documents",
           "load_probes", "nsp_pairs_by_source", "heldout_mlm_batches", "heldout_nsp_pairs"]

HEADS_FILE = "heads.safetensors"
MAX_LENGTH = 128            # the length the heads were trained and are judged at
MLM_EVAL_SEED, MLM_EVAL_BATCH = 1234, 16     # the masking of the held-out text depends on both
NSP_EVAL_SEED = 12345
_SAME_NAMES = (("bert.", "bert."), ("cls.", "cls."))     # the shipped file already uses transformers' names


def shipped_files() -> list[Path]:
    """Every file of ``mtbert_ref/data/pretrained_heads`` (weights, SOURCE.md, training log, held-out text, probes)."""
    folder = Path(data_path("pretrained_heads"))
    return sorted(p for p in folder.iterdir() if p.is_file())


def _heads_state() -> dict[str, torch.Tensor]:
    path = Path(data_path("pretrained_heads", HEADS_FILE))
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the course's trained heads should ship with the package "
                                "(rebuild them with scripts/pretrain/train_heads.py)")
    return {k: v.float() for k, v in load_file(str(path)).items()}


def _load(model_cls: type[PreTrainedModel], drop: tuple[str, ...], may_miss: tuple[str, ...],
          device) -> PreTrainedModel:
    folder = default_model_path()
    config = BertConfig.from_pretrained(folder)
    model = model_cls(config)
    # position_ids is a buffer some checkpoints carry (transformers rebuilds it), not a weight
    encoder = rename_keys(load_file(str(folder / "model.safetensors")), (("", "bert."),), skip=("embeddings.position_ids",))
    state = {**encoder, **_heads_state()}                  # the adapted layers replace MiniLM's own
    state = {k: v for k, v in state.items() if not k.startswith(drop)}
    load_mapped_state(model, state, _SAME_NAMES, may_miss=may_miss)
    model.tie_weights()
    model.mtbert_source = "all-MiniLM-L6-v2 (embedded) + the course's trained heads (scripts/pretrain/train_heads.py)"
    model.eval()
    return model.to(device) if device is not None else model


def load_pretrained_mlm(device: str | torch.device | None = None) -> BertForMaskedLM:
    """MiniLM + the course's trained MLM head, as a transformers ``BertForMaskedLM`` in eval mode on ``device``.

    The decoder is tied: ``model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight``.
    """
    model = _load(BertForMaskedLM, drop=("bert.pooler.", "cls.seq_relationship."),
                  may_miss=("cls.predictions.decoder.",), device=device)
    if model.cls.predictions.decoder.weight is not model.bert.embeddings.word_embeddings.weight:
        raise RuntimeError("the MLM decoder is not tied to the word embeddings after loading")
    return model


def load_pretrained_nsp(device: str | torch.device | None = None) -> BertForNextSentencePrediction:
    """MiniLM + the course's trained pooler and NSP classifier, as a transformers ``BertForNextSentencePrediction``
    in eval mode on ``device`` (logit 0 = IsNext, 1 = NotNext)."""
    return _load(BertForNextSentencePrediction, drop=("cls.predictions.",), may_miss=(), device=device)


# ---------------------------------------------------------------------------------------------- held-out data
def heldout_documents() -> dict[str, list[dict]]:
    """``{"wiki": held-out Wikipedia articles, "news": the news corpus's test documents}`` (never trained on)."""
    from .lessons.mlm import load_text_corpus
    return {"wiki": read_jsonl(data_path("pretrained_heads", "heldout_wiki.jsonl")), "news": load_text_corpus("test")}


def load_probes() -> list[dict]:
    """The probe sentences: ``[{"kind", "text", "answers"}]``, one ``[MASK]`` each; right when an answer is in the top 5."""
    probes = []
    with open(data_path("pretrained_heads", "probes.tsv"), encoding="utf-8") as fh:
        for line in fh:
            if line.strip() and not line.startswith("#"):
                kind, text, answers = line.rstrip("\n").split("\t")
                probes.append({"kind": kind, "text": text, "answers": answers.split(",")})
    return probes


def nsp_pairs_by_source(docs_by_source: dict[str, list[dict]], tokenizer, max_length: int = MAX_LENGTH,
                        seed: int = 0) -> list[dict]:
    """:func:`~mtbert_ref.lessons.nsp.make_nsp_pairs` within each source (sorted by name; seed ``seed * 1000 + i``)."""
    from .lessons.nsp import make_nsp_pairs, tokenize_documents
    pairs = []
    for i, (_, docs) in enumerate(sorted(docs_by_source.items())):
        tokenized = tokenize_documents([d["sentences"] for d in docs], tokenizer)
        pairs += make_nsp_pairs(tokenized, tokenizer.cls_token_id, tokenizer.sep_token_id, max_length=max_length,
                                seed=seed * 1000 + i)
    return pairs


def heldout_mlm_batches(tokenizer, max_length: int = MAX_LENGTH) -> dict[str, list[dict]]:
    """Per source, the held-out text cut into examples and 15 % of the tokens replaced by [MASK] with a fixed seed
    (:func:`~mtbert_ref.lessons.mlm.make_eval_set`); batches carry ``token_type_ids`` (zeros) too."""
    from .lessons.mlm import chunk_documents, make_eval_set
    out = {}
    for name, docs in heldout_documents().items():
        batches = make_eval_set(chunk_documents(docs, tokenizer, max_length=max_length), tokenizer,
                                seed=MLM_EVAL_SEED, batch_size=MLM_EVAL_BATCH)
        for b in batches:
            b["token_type_ids"] = torch.zeros_like(b["input_ids"])
        out[name] = batches
    return out


def heldout_nsp_pairs(tokenizer, max_length: int = MAX_LENGTH) -> list[dict]:
    """IsNext/NotNext pairs from the held-out documents (NotNext: another document of the same source)."""
    return nsp_pairs_by_source(heldout_documents(), tokenizer, max_length=max_length, seed=NSP_EVAL_SEED)
