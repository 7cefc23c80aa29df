"""Tests of mtbert_ref.grading.qa (notebook 03): the checkers accept right answers and name the bugs."""
import inspect
import sys
import textwrap

import pytest

from mtbert_ref.backbone import load_tokenizer
from mtbert_ref.grading import qa
from mtbert_ref.grading.core import GradingError, fresh_copy
from mtbert_ref.lessons.qa import prepare_features, squad_em_f1
from mtbert_ref.modeling.qa import QAHead, decode_spans


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


# ------------------------------------------------------------------------------------------------ checkers
def test_check_qa_head_accepts_reference_copy():
    qa.check_qa_head(fresh_copy(QAHead), hidden_tests=True)


def test_check_qa_head_rejects_reference_itself():
    with pytest.raises(GradingError, match="reference implementation"):
        qa.check_qa_head(QAHead)


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
        qa.check_qa_head(mutant(QAHead, old, new), hidden_tests=True)


def test_check_prepare_features_accepts_reference_copy(tok):
    qa.check_prepare_features(fresh_copy(prepare_features), tok, hidden_tests=True)


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
        qa.check_prepare_features(mutant(prepare_features, old, new), tok, hidden_tests=True)


def test_check_decode_spans_accepts_reference_copy(tok):
    qa.check_decode_spans(fresh_copy(decode_spans), tok, hidden_tests=True)


@pytest.mark.parametrize("old,new", [
    ("if offsets[s] is None or offsets[e] is None or e < s",
     "if (offsets[s] is None and s > 0) or (offsets[e] is None and e > 0) or e < s"),            # [CLS] allowed
    ("or e < s or e - s + 1 > max_answer_length", "or e - s + 1 > max_answer_length"),          # end before start
    ("or e < s or e - s + 1 > max_answer_length", "or e < s"),                                   # no length limit
    ("for w, ex_i in enumerate(features[\"example_index\"]):",
     "for w, ex_i in list(enumerate(features[\"example_index\"]))[:1]:"),                        # first window only
    ("e - s + 1 > max_answer_length", "e - s + 1 >= max_answer_length"),                         # one token short
    ("e - s + 1 > max_answer_length", "e - s > max_answer_length"),                              # one token long
    ("if offsets[s] is None or offsets[e] is None",
     "if offsets[s] is None or offsets[e] is None or e + 1 >= n or offsets[e + 1] is None"),    # never the last token
    ("if offsets[s] is None or offsets[e] is None",
     "if offsets[s] is None or offsets[e] is None or offsets[s - 1] is None"),                   # never the first token
])
def test_check_decode_spans_rejects_bugs(tok, old, new):
    with pytest.raises(GradingError, match="decode_spans predicted|decode_spans` raised"):
        qa.check_decode_spans(mutant(decode_spans, old, new), tok, hidden_tests=True)


def test_check_squad_em_f1_accepts_reference_copy():
    qa.check_squad_em_f1(fresh_copy(squad_em_f1), hidden_tests=True)


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


def _f1_counting_every_hit(prediction, gold_answers):
    """Counts every predicted token found in the gold answer, however often: repeated tokens over-count."""
    golds = list(gold_answers) or [""]
    p = _norm(prediction).split()
    em, best = 0.0, 0.0
    for g in golds:
        q = _norm(g).split()
        em = max(em, float(p == q))
        if not p or not q:
            best = max(best, float(p == q))
            continue
        c = sum(1 for t in p if t in q)
        best = max(best, 0.0 if c == 0 else 2 * (c / len(p)) * (c / len(q)) / (c / len(p) + c / len(q)))
    return em, best


def _no_article_removal(prediction, gold_answers):
    import string as _s

    def norm(t):
        return " ".join("".join(ch for ch in t.lower() if ch not in _s.punctuation).split())
    g = list(gold_answers) or [""]
    em = max(float(norm(prediction) == norm(x)) for x in g)
    return em, em


_mutated_first_gold = mutant(squad_em_f1, "golds = list(gold_answers) or [\"\"]",
                             "golds = (list(gold_answers) or [\"\"])[:1]")


@pytest.mark.parametrize("student,match", [
    (_no_article_removal, "exact match of prediction 'The Eiffel Tower!'"),
    (_mutated_first_gold, "prediction '3' against"),
    (mutant(squad_em_f1, 'golds = list(gold_answers) or [""]', "golds = list(gold_answers)"), "squad_em_f1` raised"),
    (_f1_with_sets, "counts each common token once \\(a set\\)"),
    (_f1_counting_every_hit, "however often"),
])
def test_check_squad_em_f1_rejects_bugs(student, match):
    with pytest.raises(GradingError, match=match):
        qa.check_squad_em_f1(student, hidden_tests=True)
