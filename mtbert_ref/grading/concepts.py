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

__all__ = ["check_concept", "QUESTIONS", "normalise", "digest"]

_SALT = "mtbert-concept-check/v1"


@dataclass(frozen=True)
class Question:
    """One concept question: what kind of value answers it, its key (a digest) and what to say when it is wrong."""

    notebook: str
    kind: str                 # "choice" (a letter of `options`), "int", "number" (2 decimals), "shape" (tuple of ints)
    key: str                  # digest(question id, the right answer)
    explanation: str          # shown with a wrong answer: the concept, in one or two sentences
    options: tuple = ()       # for "choice"


def normalise(kind: str, answer, options: tuple = ()) -> str:
    """The canonical text of an answer, or a GradingError that says what format is expected."""
    if kind == "choice":
        if not isinstance(answer, str) or answer.strip().lower() not in options:
            raise GradingError(f"The answer should be one of the letters {', '.join(repr(o) for o in options)} "
                               f"(a string), got {answer!r}.")
        return answer.strip().lower()
    if kind == "int":
        if isinstance(answer, bool) or not isinstance(answer, int):
            raise GradingError(f"The answer should be a whole number (a Python int), got {answer!r} "
                               f"({type(answer).__name__}).")
        return str(int(answer))
    if kind == "number":
        if isinstance(answer, bool) or not isinstance(answer, (int, float)):
            raise GradingError(f"The answer should be a number (an int or a float such as 0.25), got {answer!r} "
                               f"({type(answer).__name__}).")
        return f"{float(answer):.2f}"
    if kind == "shape":
        if isinstance(answer, (list, tuple)) and all(isinstance(d, int) and not isinstance(d, bool) for d in answer):
            return "(" + ", ".join(str(int(d)) for d in answer) + ")"
        raise GradingError(f"The answer should be a shape: a tuple of ints such as (2, 3), got {answer!r} "
                           f"({type(answer).__name__}).")
    raise ValueError(f"unknown question kind {kind!r}")


def digest(question_id: str, canonical: str) -> str:
    """The salted digest a question stores instead of its answer."""
    return hashlib.sha256(f"{_SALT}/{question_id}/{canonical}".encode()).hexdigest()


_ABCD = ("a", "b", "c", "d")

QUESTIONS: dict[str, Question] = {
    "01.gradient_positions": Question(
        "01_masked_lm", "choice", "8ae53df170403b8d059c84896d3dc538727c1e2b76d7060ea32e60e5daa06d34",
        "The loss is the mean cross-entropy over the positions whose label is not -100, and mask_tokens gives a "
        "label to every *chosen* position, whatever its input became: [MASK], a random token or the unchanged "
        "token. Logits at unchosen positions (and at special tokens and padding) are ignored by the loss, so no "
        "gradient flows from them.", _ABCD),
    "02.causal_allowed": Question(
        "02_nsp_pretraining_clm", "int", "2c8312f09201fa3102b72dabb0589fd4e7affe489cc8f258d2524e2c5c3e2a14",
        "Count row by row: query i may attend to key j when j <= i (the lower triangle, diagonal included) AND key "
        "j is a real token. The padding position is masked as a key (its column), not as a query: the padding "
        "query's row still allows the real keys before it."),
}


def check_concept(question_id: str, answer, hidden_tests: bool = False) -> None:
    """Check the format of ``answer`` to the concept question ``question_id``; with ``hidden_tests=True`` also
    whether it is right (a wrong answer gets the question's explanation)."""
    if question_id not in QUESTIONS:
        raise GradingError(f"There is no concept question {question_id!r}; the notebook's test cell names one of "
                           f"{sorted(QUESTIONS)}.")
    q = QUESTIONS[question_id]
    canonical = normalise(q.kind, answer, q.options)
    if not hidden_tests:
        passed(f"answer {canonical} has the right format; whether it is right is checked when your instructor grades")
        return
    if digest(question_id, canonical) != q.key:
        raise GradingError(f"Your answer {canonical} is not right. {q.explanation}")
    passed(f"concept check {question_id}: right")


guard_checkers(globals())  # warnings and stderr while checking cost no points (core.checker)
