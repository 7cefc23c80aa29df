"""Tests of mtbert_ref.lessons.qa (notebook 03): windows/offsets/labels, the SQuAD metric, baseline, shipped data."""
import gzip
import json

import pytest

from mtbert_ref.backbone import load_tokenizer
from mtbert_ref.data import data_path
from mtbert_ref.grading.qa import _border_cases
from mtbert_ref.lessons import qa


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer()


def ex(context, question, answer, start=None, id_="x"):
    if answer is None:
        return {"id": id_, "question": question, "context": context, "answers": {"text": [], "answer_start": []}}
    start = context.index(answer) if start is None else start
    return {"id": id_, "question": question, "context": context, "answers": {"text": [answer], "answer_start": [start]}}


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
    cases = _border_cases(tok, hidden_tests=True)
    kinds = {c[0].split(" (")[0] for c in cases}
    assert len(kinds) == 2, "no window size found that puts the answer at/over a window border"
    for desc, examples, max_len, stride in cases:
        f = qa.prepare_features(examples, tok, max_len, stride)
        assert any(f["start_positions"]), desc                                # whole in some window
        if "crossing" in desc:
            assert 0 in f["start_positions"]


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
