"""Notebook 03's checkers: :func:`check_qa_head`, :func:`check_prepare_features`, :func:`check_decode_spans`,
:func:`check_squad_em_f1`."""
from __future__ import annotations

import collections.abc
import math
from collections import Counter

import torch
from torch import nn

from ..device import seed_everything
from ..lessons.qa import normalize_answer, prepare_features, squad_em_f1
from ..modeling.qa import QAHead, decode_spans
from .core import guard_checkers
from .core import (GradingError, call_student, clone_inputs, expect_equal, expect_tensor, expect_unchanged,
                   hidden_seed, passed)

__all__ = ["check_qa_head", "check_prepare_features", "check_decode_spans", "check_squad_em_f1"]


def check_qa_head(student_cls, device="cpu", hidden_tests: bool = False) -> None:
    """Build the student's ``QAHead(hidden_size)``, give it the reference weights, compare logits and loss."""
    device = torch.device(device)
    cases = [dict(seed=0, batch=3, seq=9, hidden=16)]
    if hidden_tests:
        cases += [dict(batch=1, seq=1, hidden=8), dict(batch=5, seq=17, hidden=32, pos_2d=True),
                  dict(batch=4, seq=6, hidden=12, dtype=torch.float64)]
        for i, case in enumerate(cases[1:]):
            case["seed"] = hidden_seed("check_qa_head", i)
    for case in cases:
        seed, batch, seq, hidden = case["seed"], case["batch"], case["seq"], case["hidden"]
        dtype = case.get("dtype", torch.float32)
        seed_everything(seed)
        ref = QAHead(hidden).to(device=device, dtype=dtype)
        head = call_student(student_cls, hidden, name="QAHead", reference=QAHead)
        if not isinstance(head, nn.Module):
            raise GradingError("QAHead(hidden_size) should build an nn.Module (subclass nn.Module and call "
                               "super().__init__()).")
        lin = getattr(head, "qa_outputs", None)
        if not isinstance(lin, nn.Linear) or (lin.in_features, lin.out_features) != (hidden, 2):
            raise GradingError(f"QAHead({hidden}) should have an attribute `qa_outputs = nn.Linear({hidden}, 2)` "
                               "(one layer giving the start and the end logit of every token; the name matches "
                               "transformers' BertForQuestionAnswering so its weights can be loaded).")
        n_params = sum(p.numel() for p in head.parameters())
        if n_params != 2 * hidden + 2:
            raise GradingError(f"QAHead({hidden}) has {n_params} parameters, expected {2 * hidden + 2} "
                               "(just the Linear(hidden, 2)); remove any extra layers.")
        head.load_state_dict(ref.state_dict())
        head.to(device=device, dtype=dtype).eval()
        g = torch.Generator().manual_seed(seed + 100)
        x = torch.randn(batch, seq, hidden, generator=g).to(device=device, dtype=dtype)
        starts = torch.randint(0, seq, (batch,), generator=g)
        ends = torch.randint(0, seq, (batch,), generator=g)
        if batch > 1:
            starts[-1] = seq + 3          # an answer outside the sequence: clamped to seq and ignored
        if batch > 2:
            ends[0] = seq
        starts, ends = starts.to(device), ends.to(device)
        if case.get("pos_2d"):
            starts, ends = starts[:, None], ends[:, None]
        want_s, want_e, want_loss = ref(x, starts, ends)
        before = clone_inputs((x, starts, ends))
        out = call_student(head, x, name="QAHead.forward", reference=QAHead)
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise GradingError("QAHead.forward should return a tuple (start_logits, end_logits, loss).")
        if out[2] is not None:
            raise GradingError("QAHead.forward(sequence_output) without positions should return loss None.")
        what = f"start_logits for sequence_output of shape {tuple(x.shape)}"
        if isinstance(out[0], torch.Tensor) and out[0].shape == want_s.shape and \
                torch.allclose(out[0].to(want_e.dtype), want_e) and not torch.allclose(want_s, want_e):
            raise GradingError("start_logits equal the expected end_logits: column 0 of qa_outputs is the start "
                               "logit and column 1 the end logit.")
        expect_tensor(out[0], want_s, what)
        expect_tensor(out[1], want_e, what.replace("start", "end"))
        out = call_student(head, x, starts, ends, name="QAHead.forward", reference=QAHead)
        expect_unchanged(before, (x, starts, ends), "An input of QAHead.forward")
        loss = out[2] if isinstance(out, (tuple, list)) and len(out) == 3 else None
        hint_ctx = (f"the loss with start_positions {starts.flatten().tolist()} and end_positions "
                    f"{ends.flatten().tolist()} (sequence length {seq})")
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
            raise GradingError(f"QAHead.forward should return a scalar loss tensor as its third value for {hint_ctx}.")
        if torch.isclose(loss.detach().to(want_loss.dtype), 2 * want_loss, rtol=1e-4) and want_loss.abs() > 1e-6:
            raise GradingError(f"{hint_ctx} is twice the expected value: average the two cross-entropies "
                               "((start_loss + end_loss) / 2), do not add them.")
        expect_tensor(loss, want_loss, hint_ctx + " — positions ≥ seq_len must be clamped to seq_len and ignored "
                      "(CrossEntropyLoss(ignore_index=seq_len)); positions of shape (batch, 1) squeezed")
    passed(f"QAHead matches the reference (logits and loss) on {len(cases)} case(s) on {device.type}")


def _normalise_features(feats) -> dict:
    """Lists of tuples/ints, so that lists vs tuples or numpy ints do not matter when comparing."""
    out = {}
    for k, v in dict(feats).items():
        if k == "offset_mapping":
            out[k] = [[None if o is None else (int(o[0]), int(o[1])) for o in win] for win in v]
        elif k in ("example_index", "start_positions", "end_positions"):
            out[k] = [int(x) for x in v]
        else:
            out[k] = [[int(t) for t in win] for win in v]
    return out


def _qa_examples(hidden_tests: bool) -> list[tuple[str, list[dict], int, int]]:
    """Small examples built so that some answers sit at or across a window border, others outside a window."""
    filler = ("The river runs past old mills and quiet farms before it reaches the sea near a small harbour town. "
              "Fishing boats leave the harbour every morning and return with the evening tide. ")
    answer_ctx = filler * 2 + "The lighthouse on the cliff was built in 1874 by local masons. " + filler * 2
    ex1 = {"id": "a", "question": "When was the lighthouse built?", "context": answer_ctx,
           "answers": {"text": ["1874"], "answer_start": [answer_ctx.index("1874")]}}
    ctx2 = "Early on, 12 workers built the dam. " + filler * 3
    ex2 = {"id": "b", "question": "How many workers built the dam?", "context": ctx2,
           "answers": {"text": ["12 workers"], "answer_start": [ctx2.index("12 workers")]}}
    cases = [("a long context whose answer is in the middle (several windows)", [ex1], 48, 16),
             ("a batch of two examples", [ex1, ex2], 64, 24)]
    if hidden_tests:
        ctx3 = filler * 3 + "The museum opened in the capital, Wellington."
        ex3 = {"id": "c", "question": "Where did the museum open?", "context": ctx3,
               "answers": {"text": ["Wellington"], "answer_start": [ctx3.index("Wellington")]}}
        ex4 = {"id": "d", "question": "Who owns the mill?", "context": filler,
               "answers": {"text": [], "answer_start": []}}
        ex5 = {"id": "e", "question": "What is short?", "context": "Short text, one window.",
               "answers": {"text": ["one window"], "answer_start": [12]}}
        cases += [("an answer at the very end of a long context", [ex3], 40, 10),
                  ("an example without an answer", [ex4, ex5], 40, 8),
                  ("a phrase answer spanning several tokens, with a small stride", [ex1, ex2, ex3], 36, 4)]
    return cases


def _border_cases(tokenizer, hidden_tests: bool) -> list[tuple[str, list[dict], int, int]]:
    """Window sizes at which a multi-token answer touches or crosses a window border (found with the reference)."""
    filler = "Fishing boats leave the harbour every morning and return with the evening tide. "
    ctx = filler * 3 + "The pier was rebuilt by the Northern Lighthouse Board after the storm. " + filler * 2
    ex = {"id": "f", "question": "Who rebuilt the pier?", "context": ctx,
          "answers": {"text": ["the Northern Lighthouse Board"],
                      "answer_start": [ctx.index("the Northern Lighthouse")]}}
    crossing, at_end = "crossing the border of", "ending exactly at the last context token of"
    found = {crossing: [], at_end: []}
    for max_len in range(28, 72):
        feats = prepare_features([ex], tokenizer, max_len, 6)
        a0 = ex["answers"]["answer_start"][0]
        a1 = a0 + len(ex["answers"]["text"][0])
        for offs, st, en in zip(feats["offset_mapping"], feats["start_positions"], feats["end_positions"]):
            ctx_offs = [o for o in offs if o is not None]
            partial = any(o[0] < a1 and o[1] > a0 for o in ctx_offs) and st == 0
            if partial and max_len not in found[crossing]:
                found[crossing].append(max_len)
            last_ctx = max(i for i, o in enumerate(offs) if o is not None)
            if st != 0 and en == last_ctx and max_len not in found[at_end]:
                found[at_end].append(max_len)
    cases = []
    for kind, sizes in found.items():
        for max_len in sizes[: (3 if hidden_tests else 1)]:
            cases.append((f"an answer {kind} of a window (max_length={max_len})", [ex], max_len, 6))
    return cases


def check_prepare_features(student_fn, tokenizer=None, device="cpu", hidden_tests: bool = False) -> None:
    """Compare the student's ``prepare_features(examples, tokenizer, max_length, stride)`` with the reference."""
    if tokenizer is None:
        from ..backbone import load_tokenizer
        tokenizer = load_tokenizer()
    cases = _qa_examples(hidden_tests) + _border_cases(tokenizer, hidden_tests)
    for desc, examples, max_len, stride in cases:
        want = _normalise_features(prepare_features(examples, tokenizer, max_len, stride))
        got = call_student(student_fn, examples, tokenizer, max_length=max_len, stride=stride,
                           name="prepare_features", reference=prepare_features)
        if not isinstance(got, collections.abc.Mapping):
            raise GradingError(f"prepare_features should return a dict of lists, got a {type(got).__name__}.")
        missing = [k for k in want if k not in got]
        if missing:
            raise GradingError(f"prepare_features' result has no key(s) {missing} (for {desc}).")
        try:
            got = _normalise_features({k: got[k] for k in want})
        except (TypeError, ValueError, IndexError) as exc:
            raise GradingError(f"prepare_features returned values of an unexpected form ({exc}); see the expected "
                               "types in the instructions.") from None
        where = f"for {desc} (max_length={max_len}, stride={stride})"
        n_want, n_got = len(want["input_ids"]), len(got["input_ids"])
        if n_got != n_want:
            raise GradingError(f"prepare_features made {n_got} windows {where}, expected {n_want}. Use "
                               "truncation='only_second', return_overflowing_tokens=True and the given stride.")
        for key in ("input_ids", "token_type_ids", "attention_mask", "example_index", "offset_mapping",
                    "start_positions", "end_positions"):
            if got[key] != want[key]:
                w = next(i for i, (a, b) in enumerate(zip(got[key], want[key])) if a != b)
                hint = ""
                if key == "example_index":
                    hint = " Use the tokenizer's overflow_to_sample_mapping."
                elif key == "offset_mapping":
                    hint = (" Context tokens keep their (start, end) character offsets; question and special tokens "
                            "get None (use sequence_ids(window) == 1 to find the context).")
                elif key in ("start_positions", "end_positions"):
                    ex = examples[want["example_index"][w]]
                    if not ex["answers"]["text"]:
                        hint = " This example has no answer: label the window with 0 ([CLS])."
                    elif got[key][w] != 0 and want[key][w] == 0:
                        hint = (" The answer is not wholly inside this window, so both labels must be 0 (the [CLS] "
                                "token).")
                    else:
                        hint = (" The start is the last context token whose start offset ≤ answer_start; the end is "
                                "the first context token whose end offset ≥ answer_start + len(answer).")
                shown_g = got[key][w] if not isinstance(got[key][w], list) else got[key][w][:12]
                shown_w = want[key][w] if not isinstance(want[key][w], list) else want[key][w][:12]
                raise GradingError(f"prepare_features: `{key}` of window {w} is wrong {where}: got {shown_g}, "
                                   f"expected {shown_w}.{hint}")
    passed(f"prepare_features matches the reference on {len(cases)} case(s) (windows, offsets and labels)")


def _decode_case(seed: int, examples: list[dict], tokenizer, max_len: int, stride: int, pad_to: int | None = None):
    feats = prepare_features(examples, tokenizer, max_len, stride)
    g = torch.Generator().manual_seed(seed)
    n = len(feats["input_ids"])
    width = pad_to or max(len(x) for x in feats["input_ids"])
    s = torch.randn(n, width, generator=g)
    e = torch.randn(n, width, generator=g)
    for w, offs in enumerate(feats["offset_mapping"]):
        # the largest logits sit on [CLS]/question tokens and the padding: a decoder that does not mask them fails
        q_tokens = [i for i, o in enumerate(offs) if o is None]
        s[w, q_tokens] += 4.0
        e[w, q_tokens] += 4.0
        s[w, len(offs):] += 6.0
        e[w, len(offs):] += 6.0
        # an end before a high start: start <= end must be enforced
        ctx = [i for i, o in enumerate(offs) if o is not None]
        if len(ctx) > 4:
            s[w, ctx[-2]] += 2.5
            e[w, ctx[1]] += 2.5
    return feats, s, e


def check_decode_spans(student_fn, tokenizer=None, device="cpu", hidden_tests: bool = False) -> None:
    """Compare the student's ``decode_spans`` with the reference on random logits over real windows."""
    if tokenizer is None:
        from ..backbone import load_tokenizer
        tokenizer = load_tokenizer()
    device = torch.device(device)
    ex_cases = _qa_examples(hidden_tests)
    cases = [(0, ex_cases[1], 30, 20)]
    if hidden_tests:
        hidden = [(ex_cases[0], 5, 20), (ex_cases[1], 1, 20), (ex_cases[4], 30, 20), (ex_cases[1], 8, 3),
                  (ex_cases[2], 3, 10)]
        cases += [(hidden_seed("check_decode_spans", i), *c) for i, c in enumerate(hidden)]
    for seed, (desc, examples, max_len, stride), max_ans, n_best in cases:
        feats, s, e = _decode_case(seed, examples, tokenizer, max_len, stride, pad_to=max_len + 2)
        s, e = s.to(device), e.to(device)
        want = decode_spans(s, e, feats, examples, max_answer_length=max_ans, n_best=n_best)
        before = clone_inputs((s, e))
        got = call_student(student_fn, s, e, feats, examples, max_answer_length=max_ans, n_best=n_best,
                           name="decode_spans", reference=decode_spans)
        expect_unchanged(before, (s, e), "The logits given to decode_spans")
        _expect_spans(got, want, feats, examples, desc, max_ans, n_best)
    if hidden_tests:
        _check_span_boundaries(student_fn, tokenizer, device)
    passed(f"decode_spans picks the same spans as the reference in {len(cases) + (3 if hidden_tests else 0)} case(s)")


def _check_span_boundaries(student_fn, tokenizer, device) -> None:
    """Spans at the limits the spec defines, in one window: exactly max_answer_length tokens long (one token more
    scores higher but is too long), and a span from the first to the last context token."""
    _, examples, max_len, stride = _qa_examples(True)[3]           # "Short text, one window."
    feats = prepare_features(examples[1:], tokenizer, max_len, stride)
    offs = feats["offset_mapping"][0]
    ctx = [i for i, o in enumerate(offs) if o is not None]
    width = max_len + 2
    for desc, max_ans, starts, ends in (
            ("a span exactly max_answer_length=3 tokens long beside a higher-scoring one of 4", 3,
             {ctx[1]: 8.0}, {ctx[3]: 8.0, ctx[4]: 8.5}),
            ("a span exactly max_answer_length=1 token long beside a higher-scoring one of 2", 1,
             {ctx[2]: 8.0}, {ctx[2]: 7.0, ctx[3]: 8.5}),
            ("a span from the first to the last context token", len(ctx), {ctx[0]: 9.0}, {ctx[-1]: 9.0})):
        s = torch.full((1, width), -5.0)
        e = torch.full((1, width), -5.0)
        q = [i for i, o in enumerate(offs) if o is None]
        s[0, q] = e[0, q] = 20.0                                    # question tokens and [CLS]/[SEP]: never a span
        s[0, len(offs):] = e[0, len(offs):] = 30.0                  # padding: never a span
        for i, v in starts.items():
            s[0, i] = v
        for i, v in ends.items():
            e[0, i] = v
        s, e = s.to(device), e.to(device)
        want = decode_spans(s, e, feats, examples[1:], max_answer_length=max_ans, n_best=20)
        got = call_student(student_fn, s, e, feats, examples[1:], max_answer_length=max_ans, n_best=20,
                           name="decode_spans", reference=decode_spans)
        _expect_spans(got, want, feats, examples[1:], desc, max_ans, 20)


def _expect_spans(got, want, feats, examples, desc, max_ans, n_best) -> None:
    """The student's decode_spans output against the reference's, example by example."""
    if not isinstance(got, collections.abc.Mapping):
        raise GradingError("decode_spans should return a dict id -> {'text': str, 'score': float}, got a "
                           f"{type(got).__name__}.")
    for ex in examples:
        w, g_ = want[ex["id"]], got.get(ex["id"])
        where = (f"for example {ex['id']!r} ({desc}; {len(feats['input_ids'])} windows, max_answer_length="
                 f"{max_ans}, n_best={n_best})")
        if not isinstance(g_, collections.abc.Mapping) or "text" not in g_ or "score" not in g_:
            raise GradingError(f"decode_spans should give a dict {{'text': str, 'score': float}} {where}; got "
                               f"{g_!r}.")
        if g_["text"] != w["text"]:
            raise GradingError(f"decode_spans predicted {g_['text']!r} {where}, expected {w['text']!r} (score "
                               f"{w['score']:.4f}). Only context tokens (offset not None) may start or end a span; "
                               "start <= end; at most max_answer_length tokens; best start+end logit over all "
                               "windows of the example; the text is context[offsets[start][0]:offsets[end][1]].")
        expect_equal(float(g_["score"]) if not math.isinf(w["score"]) else g_["score"], w["score"],
                     f"decode_spans' score {where}")


def _f1_multiplicity_hint(got, pred: str, golds: list) -> str:
    """Say so when the F1 equals counting common tokens once (a set) or every predicted token found in the gold."""
    if not isinstance(got, (tuple, list)) or len(got) != 2 or not isinstance(got[1], (int, float)):
        return ""
    p = normalize_answer(pred).split()

    def f1(common, g):
        return 0.0 if not common or not p or not g else 2 * common / (len(p) + len(g))

    golds_t = [normalize_answer(g).split() for g in golds] or [[]]
    exact = max(f1(sum((Counter(p) & Counter(g)).values()), g) for g in golds_t)
    as_set = max(f1(len(set(p) & set(g)), g) for g in golds_t)
    sets_only = max(0.0 if not p or not g else 2 * len(set(p) & set(g)) / (len(set(p)) + len(set(g)))
                    for g in golds_t)
    in_gold = max(f1(sum(1 for t in p if t in g), g) for g in golds_t)
    if any(math.isclose(got[1], v) and not math.isclose(v, exact) for v in (as_set, sets_only)):
        return ("Your F1 counts each common token once (a set): a token that appears twice in both answers is two "
                "common tokens; count with multiplicity (`sum((Counter(pred) & Counter(gold)).values())`).")
    if math.isclose(got[1], in_gold) and not math.isclose(in_gold, exact):
        return ("Your F1 counts every predicted token that occurs in the gold answer, however often: a common token "
                "counts at most as often as it appears on BOTH sides (`Counter(pred) & Counter(gold)`).")
    return ""


def check_squad_em_f1(student_fn, device="cpu", hidden_tests: bool = False) -> None:
    """Compare the student's ``squad_em_f1(prediction, gold_answers)`` with the reference on tricky cases."""
    cases = [
        ("1912", ["1912"]),
        ("The Eiffel Tower!", ["eiffel tower"]),
        ("in Paris", ["Paris"]),
        ("3 million", ["3 million", "3"]),
        ("3", ["3 million", "3"]),
        ("", ["1874"]),
    ]
    if hidden_tests:
        cases += [
            ("", []),
            ("1874", []),
            ("an apple, a pear", ["the apple and pear"]),
            ("the the the", ["the"]),
            ("New  York\tCity", ["new york city"]),
            ("about 20 percent", ["20 percent", "20"]),
            ("a b a b", ["a b"]),
            ("cat cat dog", ["cat dog dog"]),
            ("U.S.", ["US"]),
            ("Theatre", ["the atre"]),
            # tokens repeated on both sides: common tokens count with their multiplicity (min of the two counts)
            ("cat cat", ["cat cat dog"]),
            ("red red red", ["red red blue"]),
        ]
    for pred, golds in cases:
        want = squad_em_f1(pred, golds)
        got = call_student(student_fn, pred, list(golds), name="squad_em_f1", reference=squad_em_f1)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise GradingError(f"squad_em_f1 should return a pair (em, f1), got {got!r}.")
        hint = _f1_multiplicity_hint(got, pred, golds) or (
            "Normalise both sides: lower-case, remove punctuation, remove the words a/an/the, collapse "
            "whitespace; F1 counts common tokens with multiplicity (collections.Counter &); take the max over "
            "gold answers; an empty gold list means the gold answer is ''; if either side has no token, F1 is "
            "1 when both are empty and 0 otherwise.")
        expect_equal(float(got[0]) if isinstance(got[0], (int, float)) else got[0], want[0],
                     f"exact match of prediction {pred!r} against gold {golds!r}", hint)
        expect_equal(float(got[1]) if isinstance(got[1], (int, float)) else got[1], want[1],
                     f"F1 of prediction {pred!r} against gold {golds!r}", hint)
    passed(f"squad_em_f1 agrees with the reference on {len(cases)} cases")


guard_checkers(globals())  # warnings and stderr while checking cost no points (core.checker)
