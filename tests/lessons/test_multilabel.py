"""Tests of mtbert_ref.lessons.multilabel (notebook 06): the debtags data, the demos, thresholds and metrics."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from mtbert_ref.lessons.multilabel import (
    label_matrix,
    load_debtags,
    multilabel_metrics,
    saturation_demo,
    softmax_vs_sigmoid,
    tune_thresholds,
)


# --------------------------------------------------------------------------------------------- demos, thresholds, metrics
def test_saturation_demo_shows_vanishing_gradient():
    rows = {r["logit"]: r for r in saturation_demo((0.0, 30.0, 120.0), target=0.0)}
    assert rows[30.0]["naive_grad"] == 0.0 and abs(rows[30.0]["stable_grad"] - 1.0) < 1e-6
    assert rows[30.0]["naive_loss"] == pytest.approx(100.0) and rows[30.0]["stable_loss"] == pytest.approx(30.0)
    assert rows[0.0]["naive_loss"] == pytest.approx(rows[0.0]["stable_loss"], rel=1e-6)
    half = {r["logit"]: r for r in saturation_demo((10.0,), target=0.0, dtype=torch.float16)}
    g = half[10.0]["naive_grad"]                    # float16 saturates much earlier: 0 or even NaN
    assert g == 0.0 or g != g
    assert abs(half[10.0]["stable_grad"] - 1.0) < 1e-3


def test_softmax_vs_sigmoid():
    out = softmax_vs_sigmoid(torch.tensor([[4.0, 4.0, -3.0]]))
    assert torch.allclose(out["softmax_row_sums"], torch.ones(1))
    assert (out["softmax"][0, :2] < 0.5).all() and (out["sigmoid"][0, :2] > 0.9).all()


def test_tune_thresholds_against_sklearn():
    g = torch.Generator().manual_seed(0)
    y = (torch.rand(80, 4, generator=g) < 0.3).float()
    y[:, 3] = 0
    probs = torch.sigmoid(3 * (y - 0.5) + torch.randn(80, 4, generator=g))
    cand = torch.linspace(0.05, 0.95, 19)
    g_t, per_t = tune_thresholds(probs, y, cand)
    micro = [f1_score(y.numpy(), (probs >= t).numpy(), average="micro", zero_division=0) for t in cand]
    assert g_t == pytest.approx(float(cand[int(np.argmax(micro))]))
    for j in range(3):
        col = [f1_score(y[:, j].numpy(), (probs[:, j] >= t).numpy(), zero_division=0) for t in cand]
        assert float(per_t[j]) == pytest.approx(float(cand[int(np.argmax(col))]))
    assert float(per_t[3]) == pytest.approx(g_t)          # no positives: falls back to the global threshold
    assert per_t.dtype == cand.dtype and isinstance(g_t, float)


def test_metrics():
    yt = np.array([[1, 0, 1], [0, 1, 0]])
    yp = np.array([[1, 0, 0], [0, 1, 0]])
    m = multilabel_metrics(yt, yp)
    assert m["subset_accuracy"] == 0.5 and m["hamming_loss"] == pytest.approx(1 / 6)
    assert m["micro_precision"] == 1.0 and m["micro_recall"] == pytest.approx(2 / 3)


# --------------------------------------------------------------------------------------------- data
def test_debtags_data():
    records, meta = load_debtags()
    assert 3000 <= len(records) <= 12000
    labels = meta["labels"]
    assert len(labels) == len(set(labels)) >= 20
    assert set(meta["facets"]) >= {"interface", "implemented-in", "works-with", "use"}
    assert sum(len(v) for v in meta["facets"].values()) == len(labels)
    splits = {r["split"] for r in records}
    assert splits == {"train", "val", "test"}
    names = [r["package"] for r in records]
    assert len(names) == len(set(names))
    y = label_matrix(records, labels)
    assert (y.sum(1) >= 1).all()                    # every package carries at least one target tag
    assert (y[[r["split"] == "test" for r in records]].sum(0) > 0).all()
    assert max(len(r["text"]) for r in records) <= 200
    test_texts = {r["text"].split(": ", 1)[1] for r in records if r["split"] == "test"}
    train_texts = {r["text"].split(": ", 1)[1] for r in records if r["split"] == "train"}
    assert len(test_texts & train_texts) <= 0.01 * len(test_texts)
    assert "other" in meta["sections"]
    assert len(load_debtags("val")[0]) == sum(r["split"] == "val" for r in records)
