"""Notebook 09 references: mtbert_ref.lessons.speed (dynamic padding, bucketing, timing helpers, feature caching)."""
import random

import pytest
import torch
from transformers import BertModel

from mtbert_ref.backbone import tiny_bert_config
from mtbert_ref.data import LengthBucketSampler, PaddingCollator
from mtbert_ref.lessons import speed


def test_pad_batch_matches_the_collator():
    ex = [{"input_ids": [1, 5, 6, 2], "token_type_ids": [0, 0, 1, 1]}, {"input_ids": [1, 2], "token_type_ids": [0, 0]}]
    a = speed.pad_batch(ex, pad_token_id=0)
    b = PaddingCollator(0)(ex)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert a["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    with pytest.raises(ValueError):
        speed.pad_batch([])


def test_bucket_batches_properties_and_sampler_agree():
    lengths = [random.Random(i).randint(3, 90) for i in range(300)]
    batches = speed.bucket_batches(lengths, 16, bucket_factor=4, seed=1)
    assert sorted(i for b in batches for i in b) == list(range(300))
    assert speed.padding_fraction(lengths, batches) < 0.5 * speed.padding_fraction(
        lengths, [list(range(i, min(i + 16, 300))) for i in range(0, 300, 16)])
    assert speed.padding_fraction([2, 4], [[0, 1]]) == pytest.approx(0.25)
    assert speed.padding_fraction([2, 4], [[0, 1]], pad_to=8) == pytest.approx(1 - 6 / 16)
    # the DataLoader sampler of mtbert_ref.data implements the same recipe
    sampler_batches = list(LengthBucketSampler(lengths, 16, bucket_factor=4, seed=1))
    assert sorted(map(len, sampler_batches)) == sorted(map(len, batches))


def test_cache_features_equals_masked_mean_of_encoder():
    torch.manual_seed(0)
    enc = BertModel(tiny_bert_config()).eval()
    batch = speed.pad_batch([{"input_ids": [2, 5, 6, 3]}, {"input_ids": [2, 7, 3]}])
    feats = speed.cache_features(enc, [batch])
    with torch.no_grad():
        h = enc(**batch).last_hidden_state
    assert torch.allclose(feats[1], h[1, :3].mean(0), atol=1e-6)
    assert speed.time_it(lambda: None, repeat=3) >= 0
