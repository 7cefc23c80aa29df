"""The hidden cases come from the grading machine's secret (grading/core.hidden_seed): whatever the secret, a fresh
copy of every reference passes its checker's hidden cases — the one such test for all checkers (grading.checkers)."""
import pytest

from mtbert_ref import load_tokenizer
from mtbert_ref.grading.core import fresh_copy

from grading.checkers import CHECKS, module_of, run_check


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer()


@pytest.mark.parametrize("secret", ["first secret", "second secret", "third secret"])
@pytest.mark.parametrize("grade_id", sorted(CHECKS))
def test_reference_passes_the_hidden_cases_of_any_secret(grade_id, secret, monkeypatch, request):
    monkeypatch.setenv("MTBERT_GRADING_SECRET", secret)
    references = [fresh_copy(getattr(module_of(grade_id), name)) for name in CHECKS[grade_id][2]]
    run_check(grade_id, references, request.getfixturevalue, hidden=True)
