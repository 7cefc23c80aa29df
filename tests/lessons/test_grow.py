"""Tests of mtbert_ref.lessons.grow (notebook 08): the head's input features and the replay mix."""
from __future__ import annotations

import pytest
import torch

from mtbert_ref.lessons.grow import head_inputs, replay_mix
from mtbert_ref.modeling.grow import grow_classifier
from modeling.test_grow import _batch, _bert  # noqa: E402  (tests/modeling helpers)


def test_imprint_through_head_inputs_on_bert():
    model = _bert(4)
    batch = _batch(3)
    feats = head_inputs(model, [batch])
    assert feats.shape == (6, 32)
    with torch.no_grad():
        want = model.bert(**batch).pooler_output
    assert torch.allclose(feats, want, atol=1e-6)
    grow_classifier(model, ["p", "q"], init="imprint", features=feats, feature_labels=["p", "q", "p", "q", "p", "q"])
    w = model.classifier.weight[4:]
    assert torch.allclose(w.norm(dim=1), model.classifier.weight[:4].norm(dim=1).mean().expand(2), atol=1e-5)


def test_replay_mix_reference():
    new, old = list(range(10)), list(range(100, 200))
    mix = replay_mix(new, old, 2.0, seed=0)
    assert len(mix) == 30 and sorted(x for x in mix if x < 100) == new
    assert mix == replay_mix(new, old, 2.0, seed=0) and mix != replay_mix(new, old, 2.0, seed=1)
    assert len(replay_mix(new, old[:5], 3.0, 0)) == 15
    assert new == list(range(10)) and old == list(range(100, 200))
    with pytest.raises(ValueError):
        replay_mix(new, old, -1, 0)
