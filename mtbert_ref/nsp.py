"""Notebook 02 — next-sentence prediction (NSP): the head, sentence-pair construction, the model, checkers.

BERT was pretrained on two tasks at once. Masked language modelling (notebook 01) teaches it words in context;
next-sentence prediction teaches the ``[CLS]`` vector something about the *relation between two segments*: given
``[CLS] A [SEP] B [SEP]``, is B the text that really followed A (label 0, ``IsNext``) or a segment taken from
another document (label 1, ``NotNext``)? The label convention is transformers' (``BertForNextSentencePrediction``).

Reference implementations:

* :class:`NSPHead` — pooled ``[CLS]`` vector → ``Linear(hidden, 2)`` (transformers' ``cls.seq_relationship``).
* :func:`nsp_loss` — cross-entropy over the two classes, mean over the batch.
* :class:`BertForNSP` — ``BertModel`` + :class:`NSPHead`; :meth:`BertForNSP.from_hf` loads the weights of a
  ``BertForNextSentencePrediction`` (state-dict key mapping, :data:`HF_NSP_KEY_MAP`) and gives the same logits/loss.
* :func:`truncate_pair` — shorten a pair to a token budget, always cutting the longer segment (as BERT's
  ``create_pretraining_data.py`` does), A from its start and B from its end, so the A|B boundary survives.
* :func:`encode_pair` — ``[CLS] A [SEP] B [SEP]`` with ``token_type_ids`` 0 for ``[CLS] A [SEP]`` and 1 for ``B [SEP]``.
* :func:`make_nsp_pairs` — seeded 50/50 IsNext/NotNext pairs from documents of tokenised sentences.
* :func:`tokenize_documents`, :func:`load_documents` — real text (the course's news corpus) → token ids.

Checkers: :func:`check_nsp_head`, :func:`check_make_nsp_pairs`.
"""
from __future__ import annotations

import copy
import json
import math
import random
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertForNextSentencePrediction, BertModel

from .backbone import tiny_bert_config
from .modeling.weights import load_mapped_state, rename_keys
from .grading.core import GradingError, call_student, clone_inputs, expect_equal, expect_tensor, expect_unchanged, passed
from .device import seed_everything

__all__ = [
    "IS_NEXT",
    "NOT_NEXT",
    "NSPHead",
    "nsp_loss",
    "BertForNSP",
    "HF_NSP_KEY_MAP",
    "map_state_dict",
    "truncate_pair",
    "encode_pair",
    "make_nsp_pairs",
    "tokenize_documents",
    "load_documents",
    "nsp_accuracy",
    "check_nsp_head",
    "check_make_nsp_pairs",
]

IS_NEXT = 0   # B really followed A (transformers' label 0)
NOT_NEXT = 1  # B comes from another document (label 1)


# --------------------------------------------------------------------------------------------- the head
class NSPHead(nn.Module):
    """The NSP classifier: one linear layer from the pooled ``[CLS]`` vector to two logits.

    The pooled vector is ``tanh(W h_[CLS] + b)`` — BertModel's pooler, itself pretrained by NSP in the original
    BERT — so the head adds only ``2 * (hidden + 1)`` parameters. Logit 0 scores IsNext, logit 1 NotNext.
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.seq_relationship = nn.Linear(config.hidden_size, 2)

    def forward(self, pooled_output: torch.Tensor) -> torch.Tensor:
        """pooled_output: (batch, hidden) → logits (batch, 2) in the same dtype."""
        return self.seq_relationship(pooled_output)


def nsp_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the (batch, 2) logits against labels (batch,) in {0 = IsNext, 1 = NotNext}."""
    return F.cross_entropy(logits.view(-1, 2), labels.view(-1))


# --------------------------------------------------------------------------------------------- key mapping
# transformers' name → ours. Applied to the *start* of each key, first match wins.
HF_NSP_KEY_MAP = {
    "bert.": "bert.",
    "cls.seq_relationship.": "nsp.seq_relationship.",
}


def map_state_dict(state_dict: dict, key_map: dict, skip_prefixes: Sequence[str] = ()) -> dict:
    """Rename the keys of a transformers state dict with ``key_map`` (prefix → prefix), dropping ``skip_prefixes``;
    a key no prefix matches is a KeyError. The package's one mapping: :func:`mtbert_ref.modeling.weights.rename_keys`."""
    return rename_keys(state_dict, tuple(key_map.items()), skip_prefixes)


class BertForNSP(nn.Module):
    """``BertModel`` (with its pooler) + :class:`NSPHead` — our version of ``BertForNextSentencePrediction``.

    ``forward`` returns a dict with ``logits`` (batch, 2) and, when ``labels`` is given, ``loss``.
    """

    def __init__(self, config: BertConfig | None = None, encoder: BertModel | None = None):
        super().__init__()
        if encoder is None:
            if config is None:
                raise ValueError("give a BertConfig or a BertModel encoder")
            encoder = BertModel(config, add_pooling_layer=True)
        if getattr(encoder, "pooler", None) is None:
            raise ValueError("NSP classifies the pooled [CLS] vector: the encoder needs its pooler "
                             "(BertModel(config, add_pooling_layer=True))")
        self.config = encoder.config
        self.bert = encoder
        self.nsp = NSPHead(self.config)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, **_ignored) -> dict:
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        logits = self.nsp(out.pooler_output)
        result = {"logits": logits}
        if labels is not None:
            result["loss"] = nsp_loss(logits, labels)
        return result

    @classmethod
    def from_hf(cls, hf_model: BertForNextSentencePrediction) -> "BertForNSP":
        """A reference model holding exactly the weights of a transformers ``BertForNextSentencePrediction``."""
        model = cls(BertConfig.from_dict(hf_model.config.to_dict()))
        load_mapped_state(model, hf_model.state_dict(), tuple(HF_NSP_KEY_MAP.items()))
        return model.to(next(hf_model.parameters()).device)


# --------------------------------------------------------------------------------------------- pairs
def truncate_pair(tokens_a: Sequence[int], tokens_b: Sequence[int], max_num_tokens: int) -> tuple[list, list]:
    """Shorten A and B until ``len(A) + len(B) <= max_num_tokens``; return new lists (the inputs are not changed).

    One token at a time, always from the *longer* segment (B when they are equal), as BERT's
    ``truncate_seq_pair``. A loses tokens at its start and B at its end, so the tokens on both sides of the A|B
    boundary — the evidence NSP needs — stay. Neither segment becomes empty when ``max_num_tokens >= 2``.
    """
    if max_num_tokens < 2:
        raise ValueError(f"max_num_tokens must be at least 2 to keep both segments, got {max_num_tokens}")
    a, b = list(tokens_a), list(tokens_b)
    while len(a) + len(b) > max_num_tokens:
        if len(a) > len(b):
            a.pop(0)
        else:
            b.pop()
    return a, b


def encode_pair(tokens_a: Sequence[int], tokens_b: Sequence[int], cls_id: int, sep_id: int) -> dict:
    """``[CLS] A [SEP] B [SEP]`` as lists: input_ids, token_type_ids (0 … 0 for [CLS] A [SEP], 1 … 1 for B [SEP]),
    attention_mask (all 1: padding is added later, per batch)."""
    input_ids = [cls_id, *tokens_a, sep_id, *tokens_b, sep_id]
    token_type_ids = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
    return {"input_ids": input_ids, "token_type_ids": token_type_ids, "attention_mask": [1] * len(input_ids)}


def make_nsp_pairs(documents: Sequence[Sequence[Sequence[int]]], cls_id: int, sep_id: int, max_length: int = 64,
                   seed: int = 0, max_sentences_a: int = 3) -> list[dict]:
    """Seeded IsNext/NotNext sentence pairs from documents of tokenised sentences.

    documents: a list of documents, each a list of sentences, each a list of token ids (no special tokens).
    Walks through every document with at least two sentences. At sentence ``i`` segment A is the next ``k``
    sentences (``k`` drawn from 1..max_sentences_a, leaving at least one sentence after A); then a fair coin:

    * IsNext (label 0): B is the sentence right after A, in the same document;
    * NotNext (label 1): B is a random sentence of a random *other* document.

    The pair is cut to ``max_length`` tokens with :func:`truncate_pair` (3 places go to [CLS], [SEP], [SEP]) and
    encoded with :func:`encode_pair`. The walk continues at the sentence after A (the IsNext B, or the sentence a
    NotNext pair did not use), so nothing is wasted. Returns a list of dicts: input_ids, token_type_ids,
    attention_mask (lists of ints) and labels (an int). The same seed gives the same pairs.
    """
    if max_length < 5:
        raise ValueError(f"max_length must be at least 5 ([CLS] a [SEP] b [SEP]), got {max_length}")
    if sum(1 for d in documents if any(len(s) for s in d)) < 2:
        raise ValueError("NotNext pairs need at least two non-empty documents")
    rng = random.Random(seed)
    docs = [[list(s) for s in d if len(s) > 0] for d in documents]
    budget = max_length - 3
    pairs = []
    for d, doc in enumerate(docs):
        i = 0
        while i < len(doc) - 1:
            k = rng.randint(1, min(max_sentences_a, len(doc) - 1 - i))
            tokens_a = [t for s in doc[i:i + k] for t in s]
            if rng.random() < 0.5:
                label, tokens_b = IS_NEXT, doc[i + k]
            else:
                other = rng.randrange(len(docs) - 1)
                other = other + 1 if other >= d else other           # any document but this one
                while not docs[other]:                               # (skip documents without sentences)
                    other = rng.randrange(len(docs))
                    if other == d:
                        other = (other + 1) % len(docs)
                label, tokens_b = NOT_NEXT, docs[other][rng.randrange(len(docs[other]))]
            a, b = truncate_pair(tokens_a, tokens_b, budget)
            pairs.append({**encode_pair(a, b, cls_id, sep_id), "labels": label})
            i += k
    return pairs


def tokenize_documents(documents: Sequence[Sequence[str]], tokenizer) -> list[list[list[int]]]:
    """Each document's sentences → token ids (no special tokens); empty sentences are dropped."""
    out = []
    for sentences in documents:
        ids = tokenizer(list(sentences), add_special_tokens=False)["input_ids"] if sentences else []
        out.append([s for s in ids if s])
    return out


def load_documents(split: str | None = None) -> list[dict]:
    """The course's real-text corpus (``mtbert_ref/data/text_corpus/documents.jsonl``): a list of
    ``{"id", "source", "sentences", "split"}`` dicts, optionally only one ``split`` ("train" or "test")."""
    from .data import data_path

    with open(data_path("text_corpus", "documents.jsonl"), encoding="utf-8") as fh:
        docs = [json.loads(line) for line in fh if line.strip()]
    return [d for d in docs if split is None or d["split"] == split]


@torch.no_grad()
def nsp_accuracy(model: nn.Module, loader, device="cpu") -> float:
    """Fraction of pairs whose argmax logit equals the label (model returns a dict or an object with logits)."""
    model.eval()
    right = total = 0
    for batch in loader:
        batch = {k: v.to(device) for k, v in batch.items()}
        labels = batch.pop("labels")
        out = model(**batch)
        logits = out["logits"] if isinstance(out, dict) else out.logits
        right += int((logits.argmax(-1) == labels).sum())
        total += labels.numel()
    return right / max(1, total)


# --------------------------------------------------------------------------------------------- checkers
def _build_student_head(student_cls, config, name="NSPHead"):
    head = call_student(student_cls, config, name=name, reference=NSPHead)
    if not isinstance(head, nn.Module):
        raise GradingError(f"{name}(config) should build an nn.Module, got a {type(head).__name__}.")
    lin = getattr(head, "seq_relationship", None)
    if not isinstance(lin, nn.Linear):
        raise GradingError(f"{name} needs an attribute `seq_relationship` that is an nn.Linear (transformers' name for "
                           f"the NSP layer), got {type(lin).__name__ if lin is not None else 'nothing'}.")
    if (lin.in_features, lin.out_features) != (config.hidden_size, 2) or lin.bias is None:
        raise GradingError(f"{name}.seq_relationship should be nn.Linear({config.hidden_size}, 2) with a bias "
                           f"(hidden size → 2 classes), got nn.Linear({lin.in_features}, {lin.out_features}"
                           f"{'' if lin.bias is not None else ', bias=False'}).")
    n_params = sum(p.numel() for p in head.parameters())
    if n_params != 2 * (config.hidden_size + 1):
        raise GradingError(f"{name} has {n_params} parameters, expected {2 * (config.hidden_size + 1)} (one "
                           "Linear(hidden, 2)); the pooler is part of BertModel, do not add another layer.")
    return head


def check_nsp_head(student_cls, device="cpu", hidden_tests: bool = False) -> None:
    """The student's ``NSPHead`` class: structure, logits on pooled vectors, and inside a full NSP model equal to
    transformers' ``BertForNextSentencePrediction`` with the same weights."""
    device = torch.device(device)
    sizes = [32] + ([8, 48] if hidden_tests else [])
    for hidden in sizes:
        cfg = tiny_bert_config(hidden_size=hidden, num_attention_heads=4)
        seed_everything(hidden)
        head = _build_student_head(student_cls, cfg).to(device)
        ref = NSPHead(cfg).to(device)
        with torch.no_grad():
            ref.seq_relationship.weight.normal_()
            ref.seq_relationship.bias.normal_()
            head.seq_relationship.weight.copy_(ref.seq_relationship.weight)
            head.seq_relationship.bias.copy_(ref.seq_relationship.bias)
        pooled = torch.tanh(torch.randn(5, hidden, generator=torch.Generator().manual_seed(hidden))).to(device)
        before = clone_inputs(pooled)
        got = call_student(head, pooled, name="NSPHead.forward", reference=NSPHead)
        expect_unchanged(before, pooled, "The pooled_output given to NSPHead")
        want = ref(pooled)
        if isinstance(got, torch.Tensor) and got.shape == want.shape:
            if torch.allclose(got, want.softmax(-1), atol=1e-5):
                raise GradingError("NSPHead returned probabilities (softmax of the logits); return the raw logits — "
                                   "cross-entropy applies the softmax itself.")
            if torch.allclose(got, want.flip(-1), atol=1e-5):
                raise GradingError("NSPHead's two logits come out swapped: column 0 must be IsNext, column 1 NotNext, "
                                   "exactly the output of seq_relationship.")
        expect_tensor(got, want, f"NSPHead logits for pooled_output of shape {tuple(pooled.shape)}")
    if hidden_tests:
        # inside a whole model: same numbers as transformers
        cfg = tiny_bert_config()
        seed_everything(1)
        hf = BertForNextSentencePrediction(cfg).to(device).eval()
        with torch.no_grad():
            hf.cls.seq_relationship.weight.normal_()
            hf.cls.seq_relationship.bias.normal_()
        model = BertForNSP.from_hf(hf).eval()
        model.nsp = _build_student_head(student_cls, cfg).to(device)
        model.nsp.load_state_dict({k[len("cls."):]: v for k, v in hf.state_dict().items() if k.startswith("cls.")})
        g = torch.Generator().manual_seed(3)
        ids = torch.randint(1, cfg.vocab_size, (4, 9), generator=g).to(device)
        tt = torch.zeros_like(ids)
        tt[:, 5:] = 1
        am = torch.ones_like(ids)
        am[1, 7:] = 0
        labels = torch.tensor([0, 1, 1, 0], device=device)
        with torch.no_grad():
            want = hf(input_ids=ids, attention_mask=am, token_type_ids=tt, labels=labels)
            try:
                got = model(ids, attention_mask=am, token_type_ids=tt, labels=labels)
            except Exception as exc:  # noqa: BLE001 - the student's head failed inside the model
                raise GradingError(f"a tiny BERT NSP model using your NSPHead failed: {type(exc).__name__}: "
                                   f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
        expect_tensor(got["logits"], want.logits, "NSP logits of a tiny BERT with your head (vs transformers' "
                      "BertForNextSentencePrediction)")
        expect_tensor(got["loss"], want.loss, "the NSP loss with your head")
    passed(f"NSPHead gives the reference logits for {len(sizes)} hidden size(s) on {device.type}"
           + (", and matches BertForNextSentencePrediction inside a model" if hidden_tests else ""))


def _synthetic_documents(seed: int, n_docs: int, min_sent: int = 1, max_sent: int = 7, min_len: int = 2,
                         max_len: int = 14, long_every: int = 5):
    """Documents whose every token id is unique, so each token tells which document/sentence/position it is.

    Returns (documents, where) with where[token] = (doc, sentence, position_in_sentence, index_in_document).
    """
    rng = random.Random(seed)
    docs, where, next_id = [], {}, 1000
    for d in range(n_docs):
        sents = []
        pos_in_doc = 0
        for s in range(rng.randint(min_sent, max_sent)):
            length = rng.randint(min_len, max_len)
            if long_every and rng.randrange(long_every) == 0:
                length = rng.randint(max_len, 3 * max_len)  # long sentences force truncation
            sent = []
            for p in range(length):
                where[next_id] = (d, s, p, pos_in_doc)
                sent.append(next_id)
                next_id += 1
                pos_in_doc += 1
            sents.append(sent)
        docs.append(sents)
    return docs, where


def _check_pairs(pairs, docs, where, cls_id, sep_id, max_length, what):
    if not isinstance(pairs, list):
        raise GradingError(f"make_nsp_pairs should return a list of dicts, got a {type(pairs).__name__}.")
    eligible = sum(1 for d in docs if len(d) >= 2)
    if len(pairs) < eligible:
        raise GradingError(f"make_nsp_pairs made {len(pairs)} pairs {what}, but {eligible} documents have at least two "
                           "sentences: walk through every document and make one pair per segment A.")
    doc_len = {}
    for tok, (d, s, p, _) in where.items():
        doc_len[(d, s)] = max(doc_len.get((d, s), 0), p + 1)
    n_not = 0
    for n, ex in enumerate(pairs):
        if not isinstance(ex, dict):
            raise GradingError(f"pair {n} is a {type(ex).__name__}, expected a dict with input_ids, token_type_ids, "
                               "attention_mask and labels.")
        missing = {"input_ids", "token_type_ids", "attention_mask", "labels"} - set(ex)
        if missing:
            raise GradingError(f"pair {n} lacks the key(s) {sorted(missing)}.")
        ids, tt, am, label = ex["input_ids"], ex["token_type_ids"], ex["attention_mask"], ex["labels"]
        for key, v in (("input_ids", ids), ("token_type_ids", tt), ("attention_mask", am)):
            if not isinstance(v, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
                raise GradingError(f"pair {n}: {key} should be a list of Python ints, got {type(v).__name__}"
                                   + (" (use .tolist())" if isinstance(v, torch.Tensor) else "") + ".")
        if isinstance(label, bool) or not isinstance(label, int) or label not in (0, 1):
            raise GradingError(f"pair {n}: labels should be the int 0 (IsNext) or 1 (NotNext), got {label!r}.")
        if len(ids) > max_length:
            raise GradingError(f"pair {n} has {len(ids)} tokens, more than max_length={max_length} {what}: truncate "
                               "A and B to max_length - 3 tokens together (3 places for [CLS], [SEP], [SEP]).")
        if ids[0] != cls_id or ids[-1] != sep_id or ids.count(sep_id) != 2 or ids.count(cls_id) != 1:
            raise GradingError(f"pair {n} is {ids[:6]}…{ids[-3:]}: it must be [CLS] A [SEP] B [SEP] (one [CLS] first, "
                               f"exactly two [SEP], the last token [SEP]; here cls_id={cls_id}, sep_id={sep_id}).")
        mid = ids.index(sep_id)
        a, b = ids[1:mid], ids[mid + 1:-1]
        if not a or not b:
            raise GradingError(f"pair {n} has an empty segment {'A' if not a else 'B'} {what}: truncation must keep "
                               "both segments (cut the longer one first).")
        if len(tt) != len(ids) or len(am) != len(ids):
            raise GradingError(f"pair {n}: input_ids has {len(ids)} tokens but token_type_ids {len(tt)} and "
                               f"attention_mask {len(am)}; all three must have the same length.")
        want_tt = [0] * (len(a) + 2) + [1] * (len(b) + 1)
        if tt != want_tt:
            raise GradingError(f"pair {n}: token_type_ids are {tt}, expected {want_tt} (0 for [CLS] A [SEP], including "
                               "that first [SEP]; 1 for B and the final [SEP]).")
        if any(x != 1 for x in am):
            raise GradingError(f"pair {n}: attention_mask should be all 1 (no padding inside a pair), got {am}.")
        unknown = [t for t in a + b if t not in where]
        if unknown:
            raise GradingError(f"pair {n} contains token id {unknown[0]}, which is in no document.")
        wa, wb = [where[t] for t in a], [where[t] for t in b]
        for seg, w in (("A", wa), ("B", wb)):
            if len({x[0] for x in w}) != 1:
                raise GradingError(f"pair {n}: segment {seg} mixes tokens of several documents; a segment is a run of "
                                   "consecutive sentences of one document.")
            idx = [x[3] for x in w]
            if idx != list(range(idx[0], idx[0] + len(idx))):
                raise GradingError(f"pair {n}: segment {seg} is not a contiguous run of its document's tokens "
                                   "(sentences skipped, reordered or tokens dropped from the middle).")
        a_last, b_first, b_last = wa[-1], wb[0], wb[-1]
        if a_last[2] != doc_len[(a_last[0], a_last[1])] - 1:
            raise GradingError(f"pair {n}: segment A does not end at the end of a sentence {what}. When A is too "
                               "long, cut tokens from its *start* (A[1:]), so the end of A — next to B — stays.")
        if b_first[2] != 0:
            raise GradingError(f"pair {n}: segment B does not start at the beginning of a sentence {what}. When B is "
                               "too long, cut tokens from its *end* (B[:-1]), so the start of B stays.")
        a_cut = wa[0][2] != 0
        b_cut = b_last[2] != doc_len[(b_last[0], b_last[1])] - 1
        if (a_cut or b_cut) and len(ids) != max_length:
            raise GradingError(f"pair {n} was truncated to {len(ids)} tokens, below max_length={max_length}: stop "
                               "cutting as soon as len(A) + len(B) <= max_length - 3.")
        if a_cut and len(a) < len(b):
            raise GradingError(f"pair {n}: A was cut to {len(a)} tokens while B kept {len(b)}: always cut the longer "
                               "segment first (as BERT's truncate_seq_pair).")
        if b_cut and len(b) < len(a) - 1:
            raise GradingError(f"pair {n}: B was cut to {len(b)} tokens while A kept {len(a)}: always cut the longer "
                               "segment first (as BERT's truncate_seq_pair).")
        if label == IS_NEXT:
            if wa[0][0] != wb[0][0] or b_first[3] != a_last[3] + 1:
                raise GradingError(f"pair {n} is labelled 0 (IsNext) but B is not the sentence right after A in the "
                                   "same document.")
        else:
            n_not += 1
            if wa[0][0] == wb[0][0]:
                raise GradingError(f"pair {n} is labelled 1 (NotNext) but B comes from the same document as A; take B "
                                   "from a different document.")
    frac = n_not / len(pairs)
    margin = 4 * math.sqrt(0.25 / len(pairs))
    if abs(frac - 0.5) > margin:
        raise GradingError(f"{n_not} of {len(pairs)} pairs ({frac:.0%}) are NotNext {what}; with a fair coin per pair "
                           f"that should be 50% ± {margin:.0%}.")


def check_make_nsp_pairs(student_fn, device="cpu", hidden_tests: bool = False) -> None:
    """The student's ``make_nsp_pairs(documents, cls_id, sep_id, max_length, seed)``: properties of the pairs.

    The documents are synthetic: every token id is unique, so the checker can tell where each token came from and
    verify that IsNext pairs really are consecutive, NotNext pairs cross documents, truncation keeps both segments
    (cutting the longer first, A at its start, B at its end) and the 50/50 split holds.
    """
    del device  # pure Python: no tensors involved
    cls_id, sep_id = 101, 102
    cases = [dict(seed=0, n_docs=150, max_length=40)]
    if hidden_tests:
        cases += [dict(seed=1, n_docs=120, max_length=12), dict(seed=2, n_docs=100, max_length=64),
                  dict(seed=3, n_docs=200, max_length=7), dict(seed=4, n_docs=60, max_length=128)]
    for case in cases:
        docs, where = _synthetic_documents(case["seed"], case["n_docs"])
        before = copy.deepcopy(docs)
        what = f"(for {case['n_docs']} documents, max_length={case['max_length']}, seed={case['seed']})"
        pairs = call_student(student_fn, docs, cls_id, sep_id, max_length=case["max_length"], seed=case["seed"],
                             name="make_nsp_pairs", reference=make_nsp_pairs)
        if docs != before:
            raise GradingError("make_nsp_pairs changed the documents it was given (e.g. popped tokens from a "
                               "sentence list); truncate copies: `a = list(a)`.")
        _check_pairs(pairs, docs, where, cls_id, sep_id, case["max_length"], what)
        again = call_student(student_fn, docs, cls_id, sep_id, max_length=case["max_length"], seed=case["seed"],
                             name="make_nsp_pairs", reference=make_nsp_pairs)
        if again != pairs:
            raise GradingError(f"make_nsp_pairs gave different pairs for the same seed {what}: draw every random "
                               "choice from `rng = random.Random(seed)`, not from the global `random` module.")
        if hidden_tests:
            other = call_student(student_fn, docs, cls_id, sep_id, max_length=case["max_length"],
                                 seed=case["seed"] + 100, name="make_nsp_pairs", reference=make_nsp_pairs)
            if [p["labels"] for p in other] == [p["labels"] for p in pairs] and [p["input_ids"] for p in other] == \
                    [p["input_ids"] for p in pairs]:
                raise GradingError("make_nsp_pairs gave the same pairs for two different seeds: use the `seed` "
                                   "argument (`random.Random(seed)`).")
    passed(f"make_nsp_pairs builds valid 50/50 IsNext/NotNext pairs in {len(cases)} setting(s)")
