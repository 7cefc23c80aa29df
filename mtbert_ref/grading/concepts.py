"""The concept checks: one short question per notebook, answered as a value (a letter, a number, a shape).

A notebook asks, for example, "which positions' logits receive a gradient from the MLM loss?" and the student
writes ``answer_mlm_gradient = "c"`` in a solution cell. :func:`check_concept` grades it:

* visibly (``hidden_tests=False``) it only checks the *format* — one of the offered letters, an int, a tuple of
  ints — so a student can see that the answer will be read, not whether it is right;
* with ``hidden_tests=True`` (run only when the instructor grades) it compares the answer with the key, and a wrong
  answer gets a sentence that explains the concept, not just "wrong".

The key is not in this file as plain text: each question stores a salted SHA-256 digest of its normalised answer,
so reading the installed package tells a student the question and the explanation, not the answer. (With four
options a determined student can still try them all; the check is worth 1 point and is about thinking it through.)
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .core import GradingError, guard_checkers, passed
from .i18n import say

__all__ = ["check_concept", "QUESTIONS", "normalise", "digest"]

_SALT = "mtbert-concept-check/v1"


@dataclass(frozen=True)
class Question:
    """One concept question: what kind of value answers it, its key (a digest) and what to say when it is wrong
    (:attr:`explanation`, kept in the message catalogue under the notebook's name)."""

    notebook: str
    kind: str                 # "choice" (a letter of `options`), "int", "number" (2 decimals), "shape" (tuple of ints)
    key: str                  # digest(question id, the right answer)
    options: tuple = ()       # for "choice"

    @property
    def explanation(self) -> str:
        """Shown with a wrong answer: the concept, in one or two sentences, in the current language."""
        return say(f"concepts.explain.{self.notebook}")


def normalise(kind: str, answer, options: tuple = ()) -> str:
    """The canonical text of an answer, or a GradingError that says what format is expected."""
    if kind == "choice":
        if not isinstance(answer, str) or answer.strip().lower() not in options:
            raise GradingError(say("concepts.choice_format", options=", ".join(repr(o) for o in options),
                                   answer=repr(answer)))
        return answer.strip().lower()
    if kind == "int":
        if isinstance(answer, bool) or not isinstance(answer, int):
            raise GradingError(say("concepts.int_format", answer=repr(answer), type=type(answer).__name__))
        return str(int(answer))
    if kind == "number":
        if isinstance(answer, bool) or not isinstance(answer, (int, float)):
            raise GradingError(say("concepts.number_format", answer=repr(answer), type=type(answer).__name__))
        return f"{float(answer):.2f}"
    if kind == "shape":
        if isinstance(answer, (list, tuple)) and all(isinstance(d, int) and not isinstance(d, bool) for d in answer):
            return "(" + ", ".join(str(int(d)) for d in answer) + ")"
        raise GradingError(say("concepts.shape_format", answer=repr(answer), type=type(answer).__name__))
    raise ValueError(f"unknown question kind {kind!r}")


def digest(question_id: str, canonical: str) -> str:
    """The salted digest a question stores instead of its answer."""
    return hashlib.sha256(f"{_SALT}/{question_id}/{canonical}".encode()).hexdigest()


_ABCD = ("a", "b", "c", "d")

QUESTIONS: dict[str, Question] = {
    "00.hidden_states_shape": Question(
        "00_bert_anatomy", "shape", "911768a0dc374e8defc12b41a033610c88c8c313c06c8556cc3be55ccdbedf10"),
    "01.gradient_positions": Question(
        "01_masked_lm", "choice", "8ae53df170403b8d059c84896d3dc538727c1e2b76d7060ea32e60e5daa06d34", _ABCD),
    "02.causal_allowed": Question(
        "02_nsp_pretraining_clm", "int", "2c8312f09201fa3102b72dabb0589fd4e7affe489cc8f258d2524e2c5c3e2a14"),
    "03.stride_overlap": Question(
        "03_extractive_qa", "int", "b818b6c3aaf8d6efab40de64f9d681c96b972a7634f5a2b69c3dc168a1d7104b"),
    "04.flat_shape": Question(
        "04_multiple_choice", "shape", "e33037364ebfd4ce0902d74d70c5217c5470af749ff582c1fe6b20a619ee672c"),
    "05.macro_f1_majority": Question(
        "05_sequence_classification", "number", "19f6a9dcdedfda41cc57b05b957bc50af3ba0c8914987c7f23d67d3688db53c2"),
    "06.zero_logits": Question(
        "06_multi_label", "choice", "94f0dbc7e91db93033921d695e146931989f7b75b28dd4557e6623cdc79eded6", ("a", "b", "c", "d")),
    "07.temperature_share": Question(
        "07_multi_task", "number", "950919321da135fc7638032c40e43ecf09eb562fc20e25b7c18c462171715f99"),
    "08.grown_weight_shape": Question(
        "08_growing_a_classifier", "shape", "6b3946f3d2a9562ddff907e673646f7a1c556421f2df046894e6b2f7f1c3e4e9"),
    "09.padding_positions": Question(
        "09_making_it_fast", "int", "977706571f40bd70ffca449d4072ac265248bd6748d1045bdc2563ad3942261a"),
}


def check_concept(question_id: str, answer, hidden_tests: bool = False) -> None:
    """Check the format of ``answer`` to the concept question ``question_id``; with ``hidden_tests=True`` also
    whether it is right (a wrong answer gets the question's explanation)."""
    if question_id not in QUESTIONS:
        raise GradingError(say("concepts.unknown_question", question=repr(question_id), known=sorted(QUESTIONS)))
    q = QUESTIONS[question_id]
    canonical = normalise(q.kind, answer, q.options)
    if not hidden_tests:
        passed(say("concepts.format_passed", answer=canonical))
        return
    if digest(question_id, canonical) != q.key:
        raise GradingError(say("concepts.not_right", answer=canonical, explanation=q.explanation))
    passed(say("concepts.right", question=question_id))


guard_checkers(globals())  # warnings and stderr while checking cost no points (core.checker)
