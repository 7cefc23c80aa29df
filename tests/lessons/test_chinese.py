"""Tests of mtbert_ref.lessons.chinese (notebook 05, sections 8-9): the Chinese data sets, their character
vocabularies, [UNK] rates, the backbone fallback and the character TF-IDF baseline."""
from __future__ import annotations

import numpy as np
import pytest

from mtbert_ref.lessons.chinese import (PACKAGE_LABELS, chinese_backbone, chinese_tokenizer, load_chinese_packages,
                                        load_chinese_reviews, small_bert_config, unk_rate)
from mtbert_ref.lessons.classification import tfidf_logreg_baseline


def test_chinese_data_vocabulary_and_unk_rates():
    train, test = load_chinese_reviews("train"), load_chinese_reviews("test")
    assert (len(train), len(test)) == (5000, 1000)
    assert np.bincount([ex["label"] for ex in test]).tolist() == [500, 500]
    assert not {ex["text"] for ex in train} & {ex["text"] for ex in test}
    tok = chinese_tokenizer()
    assert tok.tokenize("这本书很好") == ["这", "本", "书", "很", "好"]
    texts = [ex["text"] for ex in test[:200]]
    ours = unk_rate(tok, texts)
    assert ours["unk_share"] < 0.02 and 0.8 < ours["tokens_per_char"] < 1.1
    cfg = small_bert_config(len(tok))
    assert cfg.vocab_size == len(tok) and cfg.num_labels == 2
    tok2, enc, desc = chinese_backbone("no-such-model-for-mtbert-tests")
    assert enc is None and "not reachable" in desc


def test_chinese_packages_multiclass_data_and_vocabulary():
    train, test = load_chinese_packages("train"), load_chinese_packages("test")
    assert (len(train), len(test)) == (872, 269)
    for split in (train, test):
        assert {ex["label"] for ex in split} == set(range(10))        # every class on both sides
        assert all(PACKAGE_LABELS[ex["label"]] == ex["label_name"] for ex in split)
    assert not {ex["text"] for ex in train} & {ex["text"] for ex in test}
    y_test = np.bincount([ex["label"] for ex in test])
    assert y_test.max() / len(test) < 0.35                          # majority baseline well below 50 %
    tok = chinese_tokenizer("chinese_packages")
    assert tok.tokenize("开发文件") == ["开", "发", "文", "件"]
    assert unk_rate(tok, [ex["text"] for ex in test])["unk_share"] < 0.03
    assert chinese_backbone(dataset="chinese_packages")[0].vocab == tok.vocab
    with pytest.raises(ValueError, match="dataset must be one of"):
        chinese_tokenizer("chinese_poems")
    with pytest.raises(ValueError, match="split"):
        load_chinese_packages("val")


def test_char_tfidf_baseline_reads_chinese_and_rejects_unknown_analyzers():
    train, test = load_chinese_packages("train"), load_chinese_packages("test")
    pred = tfidf_logreg_baseline([ex["text"] for ex in train], [ex["label"] for ex in train],
                                 [ex["text"] for ex in test], analyzer="char")
    acc = np.mean(np.array(pred) == np.array([ex["label"] for ex in test]))
    assert acc > 0.6                                                # majority: 0.28
    with pytest.raises(ValueError, match="analyzer"):
        tfidf_logreg_baseline(["a"], [0], ["a"], analyzer="bytes")
