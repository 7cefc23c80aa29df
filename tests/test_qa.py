"""Tests of mtbert_ref.qa: HF equivalence, features/decoding/metric edge cases, and the checkers."""
import gzip
import inspect
import json
import math
import sys
import textwrap

import pytest
import torch
from transformers import BertForQuestionAnswering

from mtbert_ref import qa
from mtbert_ref.backbone import load_tokenizer, tiny_bert_config
from mtbert_ref.checking import GradingError, fresh_copy
from mtbert_ref.data import data_path


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer()


def mutant(fn, old: str, new: str):
    """The reference ``fn`` with one piece of its source replaced: a plausible student bug."""
    src = textwrap.dedent(inspect.getsource(fn))
    assert old in src, old
    namespace = dict(sys.modules[fn.__module__].__dict__)
    namespace["__name__"] = "student_mutant"
    exec(compile(src.replace(old, new), f"<mutant of {fn.__name__}>", "exec"), namespace)  # noqa: S102
    return namespace[fn.__name__]


def ex(context, question, answer, start=None, id_="x"):
    if answer is None:
        return {"id": id_, "question": question, "context": context, "answers": {"text": [], "answer_start": []}}
    start = context.index(answer) if start is None else start
    return {"id": id_, "question": question, "context": context, "answers": {"text": [answer], "answer_start": [start]}}


# ------------------------------------------------------------------------------------------------ HF equivalence
@pytest.mark.parametrize("seed", [0, 1])
def test_qa_model_equals_bert_for_question_answering(seed):
    torch.manual_seed(seed)
    hf = BertForQuestionAnswering(tiny_bert_config()).eval()
    ours = qa.qa_model_from_hf(hf)
    ids = torch.randint(1, 99, (4, 12))
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0
    types = torch.zeros_like(ids)
    types[:, 5:] = 1
    starts = torch.tensor([1, 12, 3, 40])      # 12 == seq_len and 40 > seq_len: clamped and ignored
    ends = torch.tensor([[2], [4], [11], [5]])  # (batch, 1) is accepted too
    a = hf(input_ids=ids, attention_mask=mask, token_type_ids=types, start_positions=starts, end_positions=ends)
    b = ours(input_ids=ids, attention_mask=mask, token_type_ids=types, start_positions=starts, end_positions=ends)
    assert (a.start_logits - b.start_logits).abs().max() <= 1e-5
    assert (a.end_logits - b.end_logits).abs().max() <= 1e-5
    assert abs(a.loss.item() - b.loss.item()) <= 1e-5
    assert ours(input_ids=ids, attention_mask=mask).loss is None


def test_qa_loss_ignores_positions_outside_sequence():
    torch.manual_seed(0)
    s, e = torch.randn(3, 5), torch.randn(3, 5)
    full = qa.qa_loss(s, e, torch.tensor([1, 2, 9]), torch.tensor([1, 3, 9]))
    kept = qa.qa_loss(s[:2], e[:2], torch.tensor([1, 2]), torch.tensor([1, 3]))
    assert torch.allclose(full, kept)


# ------------------------------------------------------------------------------------------------ features
def test_prepare_features_windows_offsets_labels(tok):
    context = "The bridge opened in 1932. " + "Cars and trams crossed it every day for many years. " * 6 + \
              "It was repainted by the Harbour Trust in 1988."
    examples = [ex(context, "When did the bridge open?", "1932", id_="a"),
                ex(context, "Who repainted it?", "the Harbour Trust", id_="b")]
    f = qa.prepare_features(examples, tok, max_length=40, stride=10)
    n = len(f["input_ids"])
    assert n > 4 and sorted(set(f["example_index"])) == [0, 1]
    for w in range(n):
        ids, offs = f["input_ids"][w], f["offset_mapping"][w]
        assert len(ids) <= 40 and len(offs) == len(ids) == len(f["attention_mask"][w])
        assert ids[0] == tok.cls_token_id and offs[0] is None and offs[-1] is None
        ex_ = examples[f["example_index"][w]]
        st, en = f["start_positions"][w], f["end_positions"][w]
        ctx = [o for o in offs if o is not None]
        a0 = ex_["answers"]["answer_start"][0]
        a1 = a0 + len(ex_["answers"]["text"][0])
        if st == 0:
            assert en == 0
            assert not (ctx[0][0] <= a0 and ctx[-1][1] >= a1)      # the answer is not wholly in this window
        else:
            assert offs[st] is not None and offs[en] is not None and st <= en
            assert ex_["context"][offs[st][0]:offs[en][1]] == ex_["answers"]["text"][0]
    # each answer is found in at least one window, and windows overlap by `stride` tokens
    for i in (0, 1):
        assert any(f["start_positions"][w] for w in range(n) if f["example_index"][w] == i)
    w0 = [w for w in range(n) if f["example_index"][w] == 0]
    last_of_first = [o for o in f["offset_mapping"][w0[0]] if o is not None][-10:]
    first_of_second = [o for o in f["offset_mapping"][w0[1]] if o is not None][:10]
    assert last_of_first == first_of_second


def test_prepare_features_no_answer_and_border(tok):
    f = qa.prepare_features([ex("Nothing to find here at all.", "Who?", None)], tok, 32, 4)
    assert f["start_positions"] == [0] and f["end_positions"] == [0]
    cases = qa._border_cases(tok, hidden_tests=True)
    kinds = {c[0].split(" (")[0] for c in cases}
    assert len(kinds) == 2, "no window size found that puts the answer at/over a window border"
    for desc, examples, max_len, stride in cases:
        f = qa.prepare_features(examples, tok, max_len, stride)
        assert any(f["start_positions"]), desc                                # whole in some window
        if "crossing" in desc:
            assert 0 in f["start_positions"]


# ------------------------------------------------------------------------------------------------ decoding
def test_decode_spans_masks_and_constraints(tok):
    context = "Alpha beta gamma delta epsilon zeta eta theta."
    examples = [ex(context, "Which letter?", "delta")]
    f = qa.prepare_features(examples, tok, 64, 16)
    offs = f["offset_mapping"][0]
    n = len(offs)
    ctx = [i for i, o in enumerate(offs) if o is not None]
    s, e = torch.zeros(1, n + 3), torch.zeros(1, n + 3)
    s[0, 0] = e[0, 0] = 50.0                 # [CLS] is not a context token
    s[0, n:] = e[0, n:] = 80.0               # nor is padding
    s[0, ctx[5]] = 10.0                      # a high start after a high end: invalid
    e[0, ctx[1]] = 10.0
    s[0, ctx[2]], e[0, ctx[3]] = 6.0, 5.0    # the best valid span
    out = qa.decode_spans(s, e, f, examples, max_answer_length=30)
    assert out["x"]["text"] == context[offs[ctx[2]][0]:offs[ctx[3]][1]]
    assert out["x"]["score"] == pytest.approx(11.0)
    # too long for max_answer_length=1: falls back to the best single-token span
    short = qa.decode_spans(s, e, f, examples, max_answer_length=1)
    assert short["x"]["score"] < 11.0
    # no valid span at all (every context token masked by n_best=1 pointing at [CLS])
    none = qa.decode_spans(s, e, f, examples, max_answer_length=30, n_best=1)
    assert none["x"] == {"text": "", "score": -math.inf}


def test_decode_spans_uses_all_windows(tok):
    context = "Filler words go here again and again. " * 8 + "The answer is Zanzibar."
    examples = [ex(context, "What is the answer?", "Zanzibar")]
    f = qa.prepare_features(examples, tok, 40, 8)
    assert len(f["input_ids"]) > 2
    s = torch.full((len(f["input_ids"]), 40), -5.0)
    e = s.clone()
    for w, (st, en) in enumerate(zip(f["start_positions"], f["end_positions"])):
        if st:
            s[w, st], e[w, en] = 3.0, 3.0
    assert qa.decode_spans(s, e, f, examples)["x"]["text"] == "Zanzibar"


# ------------------------------------------------------------------------------------------------ metrics
@pytest.mark.parametrize("pred,golds,em,f1", [
    ("The Eiffel Tower!", ["eiffel tower"], 1.0, 1.0),
    ("an apple", ["apple"], 1.0, 1.0),
    ("in Paris", ["Paris"], 0.0, 2 / 3),
    ("", ["1874"], 0.0, 0.0),
    ("", [], 1.0, 1.0),
    ("1874", [], 0.0, 0.0),
    ("3 million", ["3 million", "3"], 1.0, 1.0),
    ("3", ["3 million", "3"], 1.0, 1.0),
    ("cat cat dog", ["cat dog dog"], 0.0, 2 / 3),
    ("Theatre", ["the atre"], 0.0, 0.0),
])
def test_squad_em_f1_edge_cases(pred, golds, em, f1):
    got = qa.squad_em_f1(pred, golds)
    assert got[0] == em and got[1] == pytest.approx(f1)


def test_evaluate_squad_and_baseline():
    e1 = ex("Rome was founded long ago. It grew in 753 BC.", "It grew in what year?", "753")
    e2 = dict(ex("No answer here.", "Why?", None), id="y")
    res = qa.evaluate_squad({"x": {"text": "753"}, "y": ""}, [e1, e2])
    assert res == {"exact_match": 100.0, "f1": 100.0, "n": 2}
    assert qa.sentence_baseline(e1) == "It grew in 753 BC."


# ------------------------------------------------------------------------------------------------ data
def test_shipped_qa_data():
    counts = {}
    titles = {}
    for split in ("train", "test"):
        with gzip.open(data_path("qa", f"{split}.jsonl.gz"), "rt", encoding="utf-8") as fh:
            recs = [json.loads(line) for line in fh]
        counts[split] = len(recs)
        titles[split] = {r["title"] for r in recs}
        for r in recs:
            for t, s in zip(r["answers"]["text"], r["answers"]["answer_start"]):
                assert r["context"][s:s + len(t)] == t
            assert r["question"].endswith("?")
        assert len({r["id"] for r in recs}) == len(recs)
    assert counts["train"] + counts["test"] >= 300 and counts["test"] >= 100
    assert not titles["train"] & titles["test"]          # split by article


# ------------------------------------------------------------------------------------------------ checkers
def test_check_qa_head_accepts_reference_copy():
    qa.check_qa_head(fresh_copy(qa.QAHead), hidden_tests=True)


def test_check_qa_head_rejects_reference_itself():
    with pytest.raises(GradingError, match="reference implementation"):
        qa.check_qa_head(qa.QAHead)


@pytest.mark.parametrize("old,new,match", [
    ("loss = qa_loss(start_logits, end_logits, start_positions, end_positions)",
     "loss = 2 * qa_loss(start_logits, end_logits, start_positions, end_positions)", "twice"),
    ("start_logits = logits[..., 0]", "start_logits = logits[..., 1]", "column 0"),
    ("self.qa_outputs = nn.Linear(hidden_size, 2)", "self.out = nn.Linear(hidden_size, 2)", "qa_outputs"),
    ("loss = qa_loss(start_logits, end_logits, start_positions, end_positions)",
     "loss = (F.cross_entropy(start_logits, start_positions.clamp(0, start_logits.size(1) - 1)) + "
     "F.cross_entropy(end_logits, end_positions.clamp(0, start_logits.size(1) - 1))) / 2", "ignored"),
])
def test_check_qa_head_rejects_bugs(old, new, match):
    with pytest.raises(GradingError, match=match):
        qa.check_qa_head(mutant(qa.QAHead, old, new), hidden_tests=True)


def test_check_prepare_features_accepts_reference_copy(tok):
    qa.check_prepare_features(fresh_copy(qa.prepare_features), tok, hidden_tests=True)


@pytest.mark.parametrize("old,new,match", [
    ("if offsets[first][0] <= a_start and offsets[last][1] >= a_end:\n"
     "                start_tok = max(i for i in ctx_tokens if offsets[i][0] <= a_start)\n"
     "                end_tok = min(i for i in ctx_tokens if offsets[i][1] >= a_end)",
     "if offsets[first][0] <= a_start <= offsets[last][1]:\n"                  # a partial answer is labelled
     "                start_tok = max(i for i in ctx_tokens if offsets[i][0] <= a_start)\n"
     "                end_tok = min((i for i in ctx_tokens if offsets[i][1] >= a_end), default=last)",
     "not wholly inside"),
    ("tuple(o) if s == 1 else None", "tuple(o)", "offset_mapping"),
    ("stride=stride,", "stride=0,", "windows"),
    ("end_tok = min(i for i in ctx_tokens if offsets[i][1] >= a_end)",
     "end_tok = min(i for i in ctx_tokens if offsets[i][1] > a_end)", "end_positions"),
])
def test_check_prepare_features_rejects_bugs(tok, old, new, match):
    with pytest.raises(GradingError, match=match):
        qa.check_prepare_features(mutant(qa.prepare_features, old, new), tok, hidden_tests=True)


def test_check_decode_spans_accepts_reference_copy(tok):
    qa.check_decode_spans(fresh_copy(qa.decode_spans), tok, hidden_tests=True)


@pytest.mark.parametrize("old,new", [
    ("if offsets[s] is None or offsets[e] is None or e < s",
     "if (offsets[s] is None and s > 0) or (offsets[e] is None and e > 0) or e < s"),            # [CLS] allowed
    ("or e < s or e - s + 1 > max_answer_length", "or e - s + 1 > max_answer_length"),          # end before start
    ("or e < s or e - s + 1 > max_answer_length", "or e < s"),                                   # no length limit
    ("for w, ex_i in enumerate(features[\"example_index\"]):",
     "for w, ex_i in list(enumerate(features[\"example_index\"]))[:1]:"),                        # first window only
])
def test_check_decode_spans_rejects_bugs(tok, old, new):
    with pytest.raises(GradingError, match="decode_spans predicted|decode_spans` raised"):
        qa.check_decode_spans(mutant(qa.decode_spans, old, new), tok, hidden_tests=True)


def test_check_squad_em_f1_accepts_reference_copy():
    qa.check_squad_em_f1(fresh_copy(qa.squad_em_f1), hidden_tests=True)


def _norm(text):
    import re
    import string
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def _f1_with_sets(prediction, gold_answers):
    def norm(t):
        return _norm(t).split()
    golds = list(gold_answers) or [""]
    em = max(float(norm(prediction) == norm(g)) for g in golds)
    best = 0.0
    for g in golds:
        p, q = set(norm(prediction)), set(norm(g))
        if not p or not q:
            best = max(best, float(p == q))
            continue
        c = len(p & q)
        best = max(best, 0.0 if c == 0 else 2 * c / (len(p) + len(q)))
    return em, best


def _no_article_removal(prediction, gold_answers):
    import string as _s

    def norm(t):
        return " ".join("".join(ch for ch in t.lower() if ch not in _s.punctuation).split())
    g = list(gold_answers) or [""]
    em = max(float(norm(prediction) == norm(x)) for x in g)
    return em, em


_mutated_first_gold = mutant(qa.squad_em_f1, "golds = list(gold_answers) or [\"\"]",
                             "golds = (list(gold_answers) or [\"\"])[:1]")


@pytest.mark.parametrize("student,match", [
    (_no_article_removal, "exact match of prediction 'The Eiffel Tower!'"),
    (_mutated_first_gold, "prediction '3' against"),
    (mutant(qa.squad_em_f1, 'golds = list(gold_answers) or [""]', "golds = list(gold_answers)"), "squad_em_f1` raised"),
    (_f1_with_sets, "F1 of prediction"),
])
def test_check_squad_em_f1_rejects_bugs(student, match):
    with pytest.raises(GradingError, match=match):
        qa.check_squad_em_f1(student, hidden_tests=True)
