"""Notebook 02's checkers (next-sentence prediction, the pretraining loss, BERT as a causal LM).

* NSP: :func:`check_nsp_head`, :func:`check_make_nsp_pairs` (synthetic documents whose every token id is unique,
  so the checker can tell where each token of a pair came from);
* pretraining: :func:`check_pretraining_loss` (MLM + NSP, with a named reason for the usual mistakes);
* causal LM: :func:`check_causal_mask`, :func:`check_shift_labels`.

The reference answers are in :mod:`mtbert_ref.modeling.nsp`, :mod:`mtbert_ref.modeling.pretraining`,
:mod:`mtbert_ref.modeling.causal_lm` and :mod:`mtbert_ref.lessons.nsp`.
"""
from __future__ import annotations

import copy
import math
import random

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertForNextSentencePrediction

from ..backbone import tiny_bert_config
from ..device import seed_everything
from ..lessons.nsp import make_nsp_pairs
from ..modeling.causal_lm import causal_attention_mask, shift_labels
from ..modeling.nsp import IS_NEXT, MtBertForNextSentencePrediction, NSPHead
from ..modeling.pretraining import pretraining_loss
from .core import guard_checkers
from .core import GradingError, call_student, clone_inputs, expect_tensor, expect_unchanged, hidden_seed, passed

__all__ = ["check_nsp_head", "check_make_nsp_pairs", "check_pretraining_loss", "check_causal_mask",
           "check_shift_labels"]


# ============================================================================================== NSP
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
    for i, hidden in enumerate(sizes):
        cfg = tiny_bert_config(hidden_size=hidden, num_attention_heads=4)
        case_seed = hidden if i == 0 else hidden_seed("check_nsp_head", i)
        seed_everything(case_seed)
        head = _build_student_head(student_cls, cfg).to(device)
        ref = NSPHead(cfg).to(device)
        with torch.no_grad():
            ref.seq_relationship.weight.normal_()
            ref.seq_relationship.bias.normal_()
            head.seq_relationship.weight.copy_(ref.seq_relationship.weight)
            head.seq_relationship.bias.copy_(ref.seq_relationship.bias)
        pooled = torch.tanh(torch.randn(5, hidden, generator=torch.Generator().manual_seed(case_seed))).to(device)
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
        seed_everything(hidden_seed("check_nsp_head", 0))
        hf = BertForNextSentencePrediction(cfg).to(device).eval()
        with torch.no_grad():
            hf.cls.seq_relationship.weight.normal_()
            hf.cls.seq_relationship.bias.normal_()
        model = MtBertForNextSentencePrediction.from_hf(hf).eval()
        model.head = _build_student_head(student_cls, cfg).to(device)
        model.head.load_state_dict({k[len("cls."):]: v for k, v in hf.state_dict().items() if k.startswith("cls.")})
        g = torch.Generator().manual_seed(hidden_seed("check_nsp_head", 100))
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
    walks: dict[int, list[tuple[int, int, bool, int]]] = {}   # document -> (pair, first sentence, A cut, last sentence)
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
        walks.setdefault(wa[0][0], []).append((n, wa[0][1], len(ids) == max_length, a_last[1]))  # full: A may be cut
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
    _check_walk(walks, docs, what)
    frac = n_not / len(pairs)
    margin = 4 * math.sqrt(0.25 / len(pairs))
    if abs(frac - 0.5) > margin:
        raise GradingError(f"{n_not} of {len(pairs)} pairs ({frac:.0%}) are NotNext {what}; with a fair coin per pair "
                           f"that should be 50% ± {margin:.0%}.")


def _check_walk(walks, docs, what):
    """Recipe steps 1 and 6: in each document the A segments start at sentence 0 and follow each other (the next A
    starts at sentence i + k, right after the previous A) until fewer than two sentences are left."""
    for d, doc in enumerate(docs):
        kept = [j for j, s in enumerate(doc) if s]  # empty sentences are skipped: count only the others
        ordinal = {j: k for k, j in enumerate(kept)}
        n_sent = len(kept)
        steps = [(n, ordinal[first], cut, ordinal[last]) for n, first, cut, last in walks.get(d, [])]
        if n_sent >= 2 and not steps:
            raise GradingError(f"document {d} has {n_sent} sentences but no pair has its segment A there {what}: walk "
                               "through every document with at least two sentences.")
        expected = 0
        for n, first, cut, last in steps:
            if last < expected or (not cut and first != expected):
                step = ("overlaps the previous A (did you continue at i + 1?)" if first < expected else
                        "skips a sentence after the previous A (did you continue at i + k + 1?)")
                raise GradingError(f"pair {n}: segment A starts at sentence {first} of document {d}, but the walk is at "
                                   f"sentence {expected} {what}: it {step}. After a pair, continue at sentence i + k "
                                   "(the sentence right after A: for IsNext that is B, for NotNext the sentence not "
                                   "used).")
            expected = last + 1
        if steps and expected != n_sent - 1:
            raise GradingError(f"the segments A of document {d} end at sentence {expected - 1} of its {n_sent} "
                               f"sentences {what}: keep walking while at least two sentences are left (i < "
                               "len(doc) - 1), so that the last A ends at the second-to-last sentence.")


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
        hidden = [dict(n_docs=120, max_length=12), dict(n_docs=100, max_length=64), dict(n_docs=200, max_length=7),
                  dict(n_docs=60, max_length=128)]
        cases += [dict(c, seed=hidden_seed("check_make_nsp_pairs", i)) for i, c in enumerate(hidden)]
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


# ============================================================================================== pretraining loss
def _loss_inputs(seed, device, batch=3, seq=6, vocab=11, masked_frac=0.3, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    pred = (torch.randn(batch, seq, vocab, generator=g) * 2).to(dtype)
    nsp = (torch.randn(batch, 2, generator=g) * 2).to(dtype)
    tokens = torch.randint(vocab, (batch, seq), generator=g)
    chosen = torch.rand(batch, seq, generator=g) < masked_frac
    chosen[0, 1] = True  # at least one masked token
    chosen[-1] = False   # one row with nothing masked
    chosen[-1, 2] = batch == 1
    labels = torch.where(chosen, tokens, torch.full_like(tokens, -100))
    nsl = torch.randint(2, (batch,), generator=g)
    nsl[0] = 0
    if batch > 1:
        nsl[1] = 1
    return pred.to(device), nsp.to(device), labels.to(device), nsl.to(device)


def check_pretraining_loss(student_fn, device="cpu", hidden_tests: bool = False) -> None:
    """The student's ``pretraining_loss(prediction_logits, seq_relationship_logits, labels, next_sentence_label)``
    against the reference (= BertForPreTraining's loss)."""
    device = torch.device(device)
    cases = [dict(seed=0)]
    if hidden_tests:
        hidden = [dict(batch=1, seq=4, vocab=7), dict(batch=8, seq=12, vocab=50, masked_frac=0.15),
                  dict(batch=4, seq=5, vocab=9, masked_frac=0.9), dict(dtype=torch.float64)]
        cases += [dict(c, seed=hidden_seed("check_pretraining_loss", i)) for i, c in enumerate(hidden)]
    for case in cases:
        inputs = _loss_inputs(device=device, **case)
        before = clone_inputs(inputs)
        got = call_student(student_fn, *inputs, name="pretraining_loss", reference=pretraining_loss)
        expect_unchanged(before, inputs, "An input of pretraining_loss")
        pred, nsp, labels, nsl = inputs
        want = pretraining_loss(*inputs)
        if isinstance(got, torch.Tensor) and got.numel() == 1 and got.dim() > 0:
            raise GradingError(f"pretraining_loss returned a tensor of shape {tuple(got.shape)}; return a scalar "
                               "(shape ()), e.g. the sum of two `F.cross_entropy(...)` results.")
        if isinstance(got, torch.Tensor) and got.shape == () and not torch.isclose(got.double().cpu(),
                                                                                  want.double().cpu(), atol=1e-5):
            vocab = pred.shape[-1]
            mlm = F.cross_entropy(pred.reshape(-1, vocab).float(), labels.reshape(-1))
            nspl = F.cross_entropy(nsp.float(), nsl)
            g = float(got)
            keep = labels.reshape(-1) != -100
            all_pos = F.cross_entropy(pred.reshape(-1, vocab).float(), labels.reshape(-1).clamp(min=0))
            hints = [
                (float((mlm + nspl) / 2), "you averaged the two losses; BertForPreTraining *adds* them"),
                (float(mlm), "that is the MLM loss alone; add the NSP loss"),
                (float(nspl), "that is the NSP loss alone; add the MLM loss"),
                (float(F.cross_entropy(nsp.float(), 1 - nsl) + mlm), "the NSP labels look inverted (0 = IsNext is "
                 "column 0 of the logits)"),
                (float(all_pos + nspl), "positions labelled -100 were counted; they must be ignored "
                 "(`ignore_index=-100`)"),
                (float(F.cross_entropy(pred.reshape(-1, vocab).float(), labels.reshape(-1), reduction="sum")
                       / labels.numel() + nspl), "the MLM sum was divided by all positions; divide by the number of "
                 "masked positions (the mean over labels != -100)"),
                (float(F.cross_entropy(pred.reshape(-1, vocab).float()[keep], labels.reshape(-1)[keep],
                                       reduction="sum") + F.cross_entropy(nsp.float(), nsl, reduction="sum")),
                 "you summed the per-token / per-pair losses; BertForPreTraining takes means"),
            ]
            for value, hint in hints:
                if abs(g - value) < 1e-4 * max(1.0, abs(value)):
                    raise GradingError(f"pretraining_loss returned {g:.6g}, expected {float(want):.6g}: {hint}.")
        desc = (f"pretraining_loss for prediction_logits {tuple(pred.shape)}, seq_relationship_logits "
                f"{tuple(nsp.shape)} ({pred.dtype})")
        expect_tensor(got, want, desc)
    passed(f"pretraining_loss equals BertForPreTraining's loss on {len(cases)} batch(es) on {device.type}")


# ============================================================================================== causal LM
def _padding_masks(seed, batch, seq, left=False, mask_dtype=torch.long):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, seq + 1, (batch,), generator=g)
    lengths[0] = seq
    if batch > 1:
        lengths[-1] = max(1, seq // 2)
    pos = torch.arange(seq)[None, :]
    m = (pos >= seq - lengths[:, None]) if left else (pos < lengths[:, None])
    return m.to(mask_dtype)


def check_causal_mask(student_fn, device="cpu", hidden_tests: bool = False) -> None:
    """The student's ``causal_attention_mask(attention_mask, dtype)`` against the reference."""
    device = torch.device(device)
    cases = [dict(seed=0, batch=3, seq=6)]
    if hidden_tests:
        hidden = [dict(batch=1, seq=1), dict(batch=4, seq=9, left=True), dict(batch=2, seq=5, mask_dtype=torch.bool),
                  dict(batch=3, seq=7, dtype=torch.float16),
                  dict(batch=2, seq=8, dtype=torch.bfloat16, mask_dtype=torch.int32),
                  dict(batch=2, seq=4, dtype=torch.float64)]
        cases += [dict(c, seed=hidden_seed("check_causal_mask", i)) for i, c in enumerate(hidden)]
    for case in cases:
        dtype = case.pop("dtype", torch.float32)
        am = _padding_masks(**case).to(device)
        before = clone_inputs(am)
        got = call_student(student_fn, am, dtype, name="causal_attention_mask", reference=causal_attention_mask)
        expect_unchanged(before, am, "The attention_mask given to causal_attention_mask")
        want = causal_attention_mask(am, dtype)
        desc = (f"causal_attention_mask for an attention_mask of shape {tuple(am.shape)} "
                f"({'left' if case.get('left') else 'right'}-padded) and dtype={dtype}")
        if isinstance(got, torch.Tensor):
            if got.dtype == torch.bool:
                raise GradingError(f"{desc} returned a bool tensor; BERT's attention *adds* the mask to its scores, "
                                   "so return floats: 0.0 where allowed, torch.finfo(dtype).min where not.")
            if got.dim() == 3 and got.shape == want.shape[:1] + want.shape[2:]:
                raise GradingError(f"{desc} has shape {tuple(got.shape)}, expected {tuple(want.shape)}: add the "
                                   "size-1 head dimension (`mask[:, None]`) so it broadcasts over the heads.")
            if got.shape == want.shape and got.dtype == want.dtype and not torch.equal(got, want):
                allowed = want == 0
                got_allowed = got == 0
                lower = torch.ones(want.shape[-1], want.shape[-1], dtype=torch.bool, device=device).tril()
                keys = am.bool()[:, None, None, :]
                queries = am.bool()[:, None, :, None]
                if torch.isinf(got).any():
                    raise GradingError(f"{desc} uses -inf; use torch.finfo(dtype).min instead (-inf turns a row "
                                       "with nothing to attend to into NaN after the softmax).")
                if torch.equal(got_allowed, lower.T[None, None] & keys):
                    raise GradingError(f"{desc}: your mask lets each token see the *future* (upper triangle); "
                                       "query i may attend to keys j <= i (use .tril()).")
                if torch.equal(got_allowed, lower[None, None].expand_as(allowed)):
                    raise GradingError(f"{desc}: the lower triangle is right but padding is not masked; combine it "
                                       "with the attention_mask of the *keys* (attention_mask[:, None, None, :]).")
                if torch.equal(got_allowed, lower[None, None] & queries):
                    raise GradingError(f"{desc}: you masked padding *queries* (rows) instead of padding *keys* "
                                       "(columns): use attention_mask[:, None, None, :].")
                if torch.equal(got_allowed, (~lower | torch.eye(lower.shape[0], dtype=torch.bool,
                                                                device=device))[None, None] & keys):
                    raise GradingError(f"{desc}: the triangle is on the wrong side of the diagonal (upper "
                                       "instead of lower).")
                if torch.equal(got_allowed, lower.tril(-1)[None, None] & keys):
                    raise GradingError(f"{desc}: a token must be able to attend to itself — keep the diagonal "
                                       "(tril(), not tril(-1)).")
                if torch.equal(got == 1, allowed) or torch.equal(got == 1, ~allowed):
                    raise GradingError(f"{desc} holds 1/0 values; return an *additive* mask: 0.0 where allowed, "
                                       "torch.finfo(dtype).min where not.")
        expect_tensor(got, want, desc)
    passed(f"causal_attention_mask matches the reference in {len(cases)} case(s) on {device.type}")


def check_shift_labels(student_fn, device="cpu", hidden_tests: bool = False) -> None:
    """The student's ``shift_labels(labels)`` against the reference."""
    device = torch.device(device)
    cases = [dict(seed=0, batch=2, seq=6)]
    if hidden_tests:
        hidden = [dict(batch=1, seq=1), dict(batch=5, seq=11), dict(batch=3, seq=2)]
        cases += [dict(c, seed=hidden_seed("check_shift_labels", i)) for i, c in enumerate(hidden)]
    for case in cases:
        g = torch.Generator().manual_seed(case["seed"])
        labels = torch.randint(5, 500, (case["batch"], case["seq"]), generator=g)
        am = _padding_masks(case["seed"], case["batch"], case["seq"])
        labels = labels.masked_fill(am == 0, -100).to(device)
        before = clone_inputs(labels)
        got = call_student(student_fn, labels, name="shift_labels", reference=shift_labels)
        if not torch.equal(before, labels):
            raise GradingError("shift_labels changed its input `labels` in place; build a new tensor (torch.cat, or "
                               "labels.clone() first).")
        want = shift_labels(labels)
        desc = f"shift_labels on labels of shape {tuple(labels.shape)}"
        if isinstance(got, torch.Tensor) and labels.shape[1] > 1:
            if tuple(got.shape) == (labels.shape[0], labels.shape[1] - 1):
                raise GradingError(f"{desc} returned shape {tuple(got.shape)}: keep the sequence length — fill the "
                                   "last position with -100 instead of dropping it, so the targets line up with "
                                   "every logit.")
            if got.shape == want.shape and not torch.equal(got, want):
                right = torch.cat([torch.full_like(labels[:, :1], -100), labels[:, :-1]], dim=1)
                if torch.equal(got, right):
                    raise GradingError(f"{desc}: the shift goes the wrong way; position t must hold labels[:, t + 1] "
                                       "(the *next* token), not the previous one.")
                if torch.equal(got[:, :-1], want[:, :-1]):
                    raise GradingError(f"{desc}: the last position should be -100 (there is no next token to "
                                       f"predict), got {got[:, -1].tolist()}.")
        expect_tensor(got, want, desc)
    passed(f"shift_labels matches the reference in {len(cases)} case(s) on {device.type}")


guard_checkers(globals())  # warnings and stderr while checking cost no points (core.checker)
