"""Tests of mtbert_ref.lessons.classification (notebook 05): class weights, metrics against scikit-learn, the
training step, the tweets data."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import f1_score
from sklearn.utils.class_weight import compute_class_weight
from transformers import BertForSequenceClassification

from mtbert_ref.backbone import tiny_bert_config
from mtbert_ref.lessons.classification import (class_weights_from_labels, confusion_matrix, load_tweets, macro_f1,
                                               majority_baseline, training_step)


def test_class_weights_from_labels_matches_sklearn_balanced():
    labels = [0] * 50 + [1] * 30 + [2] * 20
    ours = class_weights_from_labels(labels, 3)
    sk = compute_class_weight("balanced", classes=np.arange(3), y=np.array(labels))
    assert np.allclose(ours.numpy(), sk, atol=1e-6)
    assert class_weights_from_labels([0, 0, 1], 3)[2] == 0


# --------------------------------------------------------------------------------------------- metrics
def test_macro_f1_matches_sklearn():
    rng = np.random.default_rng(0)
    for k in range(30):
        n = int(rng.integers(1, 40))
        t, p = rng.integers(0, 4, n), rng.integers(0, 4, n)
        assert macro_f1(t, p) == pytest.approx(f1_score(t, p, average="macro", zero_division=0), abs=1e-12)
        assert macro_f1(torch.tensor(t), torch.tensor(p).tolist(), num_labels=6) == pytest.approx(
            f1_score(t, p, labels=list(range(6)), average="macro", zero_division=0), abs=1e-12)
    assert isinstance(macro_f1([0, 1], [0, 1]), float)
    assert macro_f1([0, 0, 1], [0, 0, 0]) == pytest.approx(0.4)   # class 1 never predicted: F1 0
    with pytest.raises(ValueError, match="same length"):
        macro_f1([0, 1], [0])


def test_confusion_matrix_and_majority():
    rng = np.random.default_rng(1)
    t, p = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
    assert np.array_equal(confusion_matrix(t, p, 3).numpy(), sk_confusion_matrix(t, p, labels=[0, 1, 2]))
    assert majority_baseline([2, 1, 2, 0], 3) == [2, 2, 2]


def test_training_step_lowers_the_loss():
    torch.manual_seed(0)
    model = BertForSequenceClassification(tiny_bert_config(num_labels=2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = {"input_ids": torch.randint(1, 99, (8, 7)), "labels": torch.tensor([0, 1] * 4)}
    losses = [training_step(model, batch, opt, "cpu") for _ in range(15)]
    assert all(isinstance(x, float) for x in losses)
    assert losses[-1] < losses[0] * 0.75
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.parameters())


# --------------------------------------------------------------------------------------------- data
def test_tweets_data():
    train, test = load_tweets("train"), load_tweets("test")
    assert (len(train), len(test)) == (4000, 1000)
    assert np.bincount([ex["label"] for ex in test]).tolist() == [425, 375, 200]
    assert not {ex["text"] for ex in train} & {ex["text"] for ex in test}
    assert all(ex["text"].isascii() and not re.search(r"@(?!user\b)\w", ex["text"]) for ex in train)
    assert not any("http://" in ex["text"] for ex in train)
    with pytest.raises(ValueError):
        load_tweets("val")
