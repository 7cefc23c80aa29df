"""Tests of mtbert_ref.lessons.multiple_choice (notebook 04): encoding, collation, accuracy, data."""
from __future__ import annotations

import pytest
import torch

from mtbert_ref.backbone import load_tokenizer
from mtbert_ref.data import PaddingCollator
from mtbert_ref.lessons.multiple_choice import encode_choices, encode_dataset, load_multiple_choice, mc_accuracy


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer()


# --------------------------------------------------------------------------------------------- encoding
def test_encode_choices_matches_tokenizer_pairs(tokenizer):
    q = "Which planet is the hottest in the solar system?"
    choices = ["Venus", "Mars", "The Andromeda Galaxy"]
    for max_length in (64, 14, 9):
        got = encode_choices(tokenizer, q, choices, max_length)
        want = tokenizer([q] * 3, choices, truncation="only_first", max_length=max_length)
        assert got["input_ids"] == want["input_ids"]
        assert got["token_type_ids"] == want["token_type_ids"]
        assert got["attention_mask"] == want["attention_mask"]
        assert all(len(r) <= max_length for r in got["input_ids"])


def test_encode_choices_keeps_the_choice_and_cuts_an_overlong_one(tokenizer):
    enc = encode_choices(tokenizer, "a b c d e f", ["one two three four five six seven"], max_length=6)
    ids = enc["input_ids"][0]
    assert len(ids) == 6 and ids[0] == tokenizer.cls_token_id and ids.count(tokenizer.sep_token_id) == 2
    assert enc["token_type_ids"][0] == [0, 0, 1, 1, 1, 1]          # empty question, choice cut to 3 tokens
    with pytest.raises(ValueError):
        encode_choices(tokenizer, "q", ["c"], max_length=3)


def test_collator_pads_choices_per_batch(tokenizer):
    items = load_multiple_choice("test")[:5]
    ds = encode_dataset(tokenizer, items, max_length=32)
    batch = PaddingCollator(pad_token_id=tokenizer.pad_token_id)([ds[i] for i in range(5)])
    longest = max(len(r) for i in range(5) for r in ds[i]["input_ids"])
    assert batch["input_ids"].shape == (5, 4, longest)
    assert batch["labels"].tolist() == [it["label"] for it in items]
    assert int(batch["attention_mask"].sum()) == sum(len(r) for i in range(5) for r in ds[i]["input_ids"])


# --------------------------------------------------------------------------------------------- accuracy & data
def test_mc_accuracy():
    logits = torch.tensor([[0.1, 0.9, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 0.0], [1.0, 3.0, 2.0]])
    assert mc_accuracy(logits, torch.tensor([1, 0, 2, 2])) == pytest.approx(0.5)   # tie → choice 0
    assert isinstance(mc_accuracy(logits, torch.tensor([1, 0, 0, 1])), float)
    with pytest.raises(ValueError):
        mc_accuracy(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))


def test_data_is_well_formed():
    train, test = load_multiple_choice("train"), load_multiple_choice("test")
    assert len(train) > 1000 and len(test) > 250
    assert {it["source"] for it in test} == {"trivia", "debian"}
    train_q = {it["question"] for it in train}
    assert not train_q & {it["question"] for it in test}
    for it in train + test:
        assert len(it["choices"]) == 4 and 0 <= it["label"] < 4
        assert len({c.lower() for c in it["choices"]}) == 4, it
    assert len(load_multiple_choice("test", source="trivia")) + len(load_multiple_choice("test", "debian")) == len(test)
    with pytest.raises(ValueError):
        load_multiple_choice("val")
