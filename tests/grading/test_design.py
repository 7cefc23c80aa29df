"""Tests of mtbert_ref.grading.design (notebook 07's open design exercise): the checker passes sound designs however
they are built, and fails each broken design with the sentence that names its problem."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mtbert_ref.grading.core import GradingError, fresh_copy
from mtbert_ref.grading.design import THRESHOLDS, TriageHeads, _Problem, check_triage_heads


def test_the_checker_accepts_a_copy_of_the_reference_design():
    check_triage_heads(fresh_copy(TriageHeads), hidden_tests=True)


def test_the_checker_rejects_the_reference_itself():
    with pytest.raises(GradingError, match="reference implementation"):
        check_triage_heads(TriageHeads)


def test_the_checker_rejects_what_is_not_a_module_class():
    with pytest.raises(GradingError, match="derived from torch.nn.Module"):
        check_triage_heads(lambda hidden_size: None)


def test_the_synthetic_problem_is_seeded_and_every_report_has_a_real_token():
    a, b = _Problem(3, 16).batch(20), _Problem(3, 16).batch(20)
    assert torch.equal(a[0], b[0]) and all(torch.equal(a[2][k], b[2][k]) for k in ("tags", "flags"))
    assert not torch.equal(a[0], _Problem(4, 16).batch(20)[0])
    assert bool((a[1].sum(1) >= 2).all())
    assert torch.isnan(a[2]["severity"]).any() and (a[2]["flags"] == -100).all(-1).any()


def _design(variant: str):
    """A design in the shape of a student's: ``variant`` names one deliberate flaw ("right" has none)."""

    class Heads(nn.Module):
        def __init__(self, hidden_size):
            super().__init__()
            self.tags = nn.Linear(hidden_size, 3)
            self.severity = nn.Linear(hidden_size, 1)
            self.flags = nn.Linear(hidden_size, 4)
            if variant == "unused_layer":
                self.spare = nn.Linear(hidden_size, 4)   # left over from an earlier idea, never called

        def forward(self, hidden, attention_mask, labels=None):
            m = attention_mask.to(hidden.dtype).unsqueeze(-1)
            if variant == "unmasked_pooling":
                pooled = hidden.mean(1)
            else:
                pooled = (hidden * m).sum(1) / m.sum(1)
            tags = self.tags(pooled).unsqueeze(1).expand(-1, hidden.shape[1], -1) if variant == "tags_from_pooled" \
                else self.tags(hidden)
            severity = self.severity(pooled).squeeze(-1)
            if variant == "severity_sigmoid":
                severity = torch.sigmoid(severity)
            out = {"tags": tags, "severity": severity, "flags": self.flags(pooled), "loss": None}
            if labels is None:
                return out
            terms = []
            known = labels["tags"] != -100
            if known.any():
                terms.append(F.cross_entropy(out["tags"][known], labels["tags"][known]))
            y = labels["severity"]
            known = torch.ones_like(y, dtype=torch.bool) if variant == "severity_nan" else ~torch.isnan(y)
            if variant == "severity_in_place":
                y[~known] = 0.0
            if known.any():
                terms.append(F.mse_loss(severity[known], y[known]))
            y = labels["flags"]
            known = torch.ones(len(y), dtype=torch.bool) if variant == "flags_unmasked" else (y != -100).all(-1)
            if known.any() and variant != "no_flags_loss":
                z = out["flags"][known]
                if variant == "flags_softmax":
                    target = y[known] / y[known].sum(-1, keepdim=True).clamp(min=1)
                    terms.append(F.cross_entropy(z, target))
                elif variant == "flags_scaled_by_batch":
                    terms.append(F.binary_cross_entropy_with_logits(z, y[known], reduction="sum") / y.numel())
                else:
                    terms.append(F.binary_cross_entropy_with_logits(z, y[known]))
            zero = (tags.sum() + severity.sum() + out["flags"].sum()) * 0.0
            out["loss"] = sum(terms) if terms else zero
            return out

    return Heads


def test_the_checker_accepts_the_students_version_of_the_reference_design():
    check_triage_heads(_design("right"))


@pytest.mark.parametrize("variant, match", [
    ("unmasked_pooling", "padding positions .* changed 'severity'"),
    ("severity_nan", "the loss is nan \\(it comes from .severity.\\)"),
    ("flags_unmasked", "changing the vectors of the unlabelled reports changed the loss: a missing .flags. label"),
    ("flags_scaled_by_batch", "removing the unlabelled reports changed the loss"),
    ("no_flags_loss", "changing the .flags. labels did not change the loss: the loss ignores the .flags. task"),
    ("severity_in_place", "labels\\['severity'\\] was modified in place"),
    ("unused_layer", "after training, loss.backward\\(\\) on a fully labelled batch gives the parameter\\(s\\) "
                     "\\['spare.weight', 'spare.bias'\\] no gradient"),
    ("tags_from_pooled", "token accuracy of 'tags' is .* below 0.8: a token's tag depends on that token's own vector"),
    ("severity_sigmoid", "R² of .severity. is .* below 0.6: severity is a real number"),
    ("flags_softmax", "flag accuracy of 'flags' is .* below 0.85: the 4 flags are independent"),
])
def test_the_checker_names_the_flaw_of_a_broken_design(variant, match):
    with pytest.raises(GradingError, match=match):
        check_triage_heads(_design(variant))


class _BlindSeverity(nn.Module):
    """Every rule of the contract kept, but the severity head sees a constant: it learns the mean and nothing else."""

    def __init__(self, hidden_size):
        super().__init__()
        self.heads = nn.Linear(hidden_size, 3 + 4)
        self.severity = nn.Linear(1, 1)

    def forward(self, hidden, attention_mask, labels=None):
        m = attention_mask.to(hidden.dtype).unsqueeze(-1)
        pooled = (hidden * m).sum(1) / m.sum(1)
        tags = self.heads(hidden)[..., :3]
        flags = self.heads(pooled)[:, 3:]
        severity = self.severity(torch.ones_like(pooled[:, :1])).squeeze(-1) + 0.0 * pooled.sum(-1)
        out = {"tags": tags, "severity": severity, "flags": flags, "loss": None}
        if labels is not None:
            known_t, known_s, known_f = labels["tags"] != -100, ~torch.isnan(labels["severity"]), \
                (labels["flags"] != -100).all(-1)
            terms = [F.cross_entropy(tags[known_t], labels["tags"][known_t])] if known_t.any() else []
            if known_s.any():
                terms.append(F.mse_loss(severity[known_s], labels["severity"][known_s]))
            if known_f.any():
                terms.append(F.binary_cross_entropy_with_logits(flags[known_f], labels["flags"][known_f]))
            out["loss"] = sum(terms) if terms else 0.0 * (tags.sum() + severity.sum() + flags.sum())
        return out


def test_a_head_that_ignores_its_input_fails_on_quality_not_on_the_contract():
    with pytest.raises(GradingError, match="R² of 'severity' is -?0\\.0"):
        check_triage_heads(_BlindSeverity)


def test_the_thresholds_are_what_the_notebook_states():
    assert THRESHOLDS == {"tags": 0.80, "severity": 0.60, "flags": 0.85}
