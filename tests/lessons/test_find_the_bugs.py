"""Tests of mtbert_ref.lessons.find_the_bugs (notebook 06): the buggy source is broken, the repaired tagger is the
course's multi-label classifier."""
from __future__ import annotations

import pytest
import torch

from mtbert_ref import tiny_bert_config
from mtbert_ref.device import seed_everything
from mtbert_ref.lessons.find_the_bugs import BUGGY_TAGGER_SOURCE, DebtagsTagger
from mtbert_ref.modeling.multilabel import MtBertForMultiLabelClassification


def test_repaired_tagger_equals_reference_classifier():
    seed_everything(2)
    tagger = DebtagsTagger(tiny_bert_config(), 4).eval()
    ref = MtBertForMultiLabelClassification(tiny_bert_config(), 4).eval()
    ref.load_state_dict(tagger.state_dict(), strict=True)
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(5, 99, (4, 10), generator=g)
    mask = torch.ones(4, 10, dtype=torch.long)
    mask[1:, 7:] = 0
    ids[mask == 0] = 0
    labels = (torch.rand(4, 4, generator=g) < 0.4).float()
    with torch.no_grad():
        a, b = tagger(ids, attention_mask=mask, labels=labels), ref(ids, attention_mask=mask, labels=labels)
    assert torch.allclose(a["logits"], b["logits"], atol=1e-6) and abs(float(a["loss"] - b["loss"])) < 1e-6
    assert tagger(ids, attention_mask=mask)["loss"] is None


def test_buggy_source_is_really_broken():
    with pytest.raises(ImportError, match="BertForMultiLabelClassification"):
        exec(compile(BUGGY_TAGGER_SOURCE, "<buggy>", "exec"), {})
