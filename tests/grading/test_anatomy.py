"""Tests of mtbert_ref.grading.anatomy (notebook 00): the reference passes, plausible mistakes fail."""
import pytest
import torch

from mtbert_ref.grading.anatomy import check_count_parameters, check_head_parameters, check_masked_mean_pool
from mtbert_ref.grading.core import GradingError, fresh_copy
from mtbert_ref.lessons import anatomy
from mtbert_ref.modeling import pooling


def test_checkers_accept_a_correct_student_solution():
    check_masked_mean_pool(fresh_copy(pooling.masked_mean_pool), hidden_tests=True)
    check_count_parameters(fresh_copy(anatomy.count_parameters), hidden_tests=True)
    check_head_parameters(fresh_copy(anatomy.head_parameters), hidden_tests=True)


@pytest.mark.parametrize("wrong, message", [
    (lambda h, m: h.mean(dim=1), "values differ"),                                # ignores the mask
    (lambda h, m: (h * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True), "NaN"),  # no clamp (hidden test)
    (lambda h, m: (h * m.unsqueeze(-1)).sum(1), "values differ"),                 # sum, not mean
    (lambda h, m: h[:, 0], "values differ"),                                      # [CLS] instead of mean
    (lambda h, m: pooling.masked_mean_pool(h, m).double(), "dtype torch.float64"),
    (lambda h, m: (h * m.unsqueeze(-1)).sum(1, keepdim=True) / m.sum(1).clamp(min=1)[:, None, None], "shape"),
])
def test_masked_mean_pool_checker_rejects(wrong, message):
    if "pooling.masked_mean_pool" in repr(wrong.__code__.co_names) or "masked_mean_pool" in wrong.__code__.co_names:
        message = "reference implementation"
    with pytest.raises(GradingError, match=message):
        check_masked_mean_pool(wrong, hidden_tests=True)


def test_masked_mean_pool_in_place_is_rejected():
    def in_place(h, m):
        h.mul_(m.unsqueeze(-1).to(h.dtype))
        return h.sum(1) / m.sum(1, keepdim=True).clamp(min=1)

    with pytest.raises(GradingError, match="modified in place"):
        check_masked_mean_pool(in_place)


@pytest.mark.parametrize("wrong, message", [
    (lambda m, trainable_only=False: sum(p.numel() for p in m.parameters()), "trainable_only=True"),
    (lambda m, trainable_only=False: len(list(m.parameters())), "got"),
    (lambda m, trainable_only=False: torch.tensor(sum(p.numel() for p in m.parameters())), "torch.Tensor"),
    (lambda m, trainable_only=False: sum(p.numel() for p in m.parameters() if p.requires_grad or not trainable_only)
     + (m.cls.predictions.decoder.weight.numel() if hasattr(m, "cls") else 0), "tied"),
    (lambda m, trainable_only=False: sum(p.numel() for p in m.parameters() if not p.requires_grad or not trainable_only),
     "FROZEN parameters: the condition is the wrong way round"),                  # flipped comparison
    (lambda m, trainable_only=False: sum(p.numel() for p in m.parameters() if p.dim() > 1), "too few"),  # no biases
])
def test_count_parameters_checker_rejects(wrong, message):
    with pytest.raises(GradingError, match=message):
        check_count_parameters(wrong, hidden_tests=True)


@pytest.mark.parametrize("wrong, message", [
    (lambda model: sum(p.numel() for p in model.parameters()), "every parameter of the model"),
    (lambda model: sum(p.numel() for n, p in model.named_parameters(remove_duplicate=False)
                       if not n.startswith("bert.")), "tied"),
    (lambda model: sum(p.numel() for c in model.children() if c is not model.bert for p in c.parameters()) - 1,
     "1 too few"),                                                              # an under-count is not the tie
])
def test_head_parameters_checker_rejects(wrong, message):
    with pytest.raises(GradingError, match=message):
        check_head_parameters(wrong, hidden_tests=True)
