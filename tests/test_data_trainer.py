"""Shared data helpers and the course's training loop."""
from torch.utils.data import DataLoader
from transformers import BertForSequenceClassification

import pytest

from mtbert_ref.backbone import tiny_bert_config
from mtbert_ref.data import EncodedDataset, LengthBucketSampler, PaddingCollator, train_val_test_split
from mtbert_ref.device import seed_everything
from mtbert_ref.trainer import evaluate_loss, param_groups, predict, train


def test_padding_collator_pads_to_longest_in_batch():
    col = PaddingCollator(pad_token_id=0)
    batch = col([{"input_ids": [5, 6, 7], "labels": 1}, {"input_ids": [5], "labels": 0}])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [5, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [1, 0]
    fixed = PaddingCollator(pad_token_id=0, pad_to=6)([{"input_ids": [5, 6]}])
    assert fixed["input_ids"].shape == (1, 6)
    with pytest.raises(ValueError, match="more than pad_to"):
        PaddingCollator(pad_to=2)([{"input_ids": [1, 2, 3]}])


def test_padding_collator_token_labels_and_choices():
    col = PaddingCollator(pad_token_id=0, label_is_sequence=True)
    b = col([{"input_ids": [1, 2], "labels": [3, 4]}, {"input_ids": [1], "labels": [5]}])
    assert b["labels"].tolist() == [[3, 4], [5, -100]]
    mc = PaddingCollator(0)([{"input_ids": [[1, 2, 3], [1, 2]], "labels": 1}])
    assert mc["input_ids"].shape == (1, 2, 3) and mc["attention_mask"].tolist() == [[[1, 1, 1], [1, 1, 0]]]


def test_bucket_sampler_covers_everything_once_and_groups_lengths():
    lengths = [((i * 37) % 50) + 1 for i in range(103)]
    sampler = LengthBucketSampler(lengths, batch_size=8, bucket_factor=4, seed=1)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(103))
    assert len(batches) == len(sampler)
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 15  # random batches would spread ~40
    assert list(LengthBucketSampler(lengths, 8, seed=1)) == list(LengthBucketSampler(lengths, 8, seed=1))


def test_split_is_deterministic_and_complete():
    tr, va, te = train_val_test_split(range(100), 0.1, 0.2, seed=3)
    assert len(tr) == 70 and len(va) == 10 and len(te) == 20
    assert sorted(tr + va + te) == list(range(100))
    assert train_val_test_split(range(100), 0.1, 0.2, seed=3)[2] == te


def test_trainer_learns_a_separable_toy_task():
    seed_everything(0)
    examples = [{"input_ids": [2] + [10 + (i % 2)] * (2 + i % 4) + [3], "labels": i % 2} for i in range(64)]
    ds = EncodedDataset(examples)
    loader = DataLoader(ds, batch_sampler=LengthBucketSampler(ds.lengths(), 16, seed=0), collate_fn=PaddingCollator(0))
    model = BertForSequenceClassification(tiny_bert_config(num_labels=2))
    before = evaluate_loss(model, loader)
    hist = train(model, loader, epochs=15, lr=3e-3, progress=False, grad_accum_steps=2, warmup_ratio=0.0)
    after = evaluate_loss(model, loader)
    assert after < 0.2 < before
    assert len(hist["loss"]) == 15 * 2 and hist["samples"] == 64 * 15
    preds = predict(model, loader).argmax(-1)
    assert preds.shape == (64,)


def test_trainer_max_steps_and_eval_fn():
    seed_everything(0)
    examples = [{"input_ids": [2, 5 + i % 3, 3], "labels": i % 3} for i in range(40)]
    loader = DataLoader(EncodedDataset(examples), batch_size=8, collate_fn=PaddingCollator(0))
    model = BertForSequenceClassification(tiny_bert_config(num_labels=3))
    hist = train(model, loader, max_steps=7, epochs=5, progress=False, eval_fn=lambda m: {"x": 1.0}, eval_every=3)
    assert len(hist["loss"]) == 7 and [e["step"] for e in hist["eval"]] == [3, 6, 7]


def test_param_groups_give_the_head_its_own_learning_rate_and_no_decay_to_biases():
    model = BertForSequenceClassification(tiny_bert_config(num_labels=3))
    groups = param_groups(model, lr=5e-5, weight_decay=0.01, head_lr=1e-2)
    by_id = {id(p): g for g in groups for p in g["params"]}
    named = dict(model.named_parameters())
    assert len(by_id) == len(named)                                   # every parameter exactly once
    assert by_id[id(named["classifier.weight"])]["lr"] == 1e-2
    assert by_id[id(named["classifier.bias"])]["weight_decay"] == 0.0
    assert by_id[id(named["bert.encoder.layer.0.attention.self.query.weight"])]["lr"] == 5e-5
    assert by_id[id(named["bert.encoder.layer.0.attention.self.query.weight"])]["weight_decay"] == 0.01
    assert by_id[id(named["bert.embeddings.LayerNorm.weight"])]["weight_decay"] == 0.0
    assert {g["lr"] for g in param_groups(model, lr=5e-5)} == {5e-5}  # without head_lr: one learning rate
    with pytest.raises(ValueError, match="head_prefixes"):
        param_groups(model, lr=5e-5, head_lr=1e-2, head_prefixes=("decoder",))


def test_trainer_schedule_scales_the_head_learning_rate_too():
    seed_everything(0)
    model = BertForSequenceClassification(tiny_bert_config(num_labels=2))
    ds = EncodedDataset([{"input_ids": [2, 5 + i % 7, 3], "labels": i % 2} for i in range(16)])
    loader = DataLoader(ds, batch_size=4, collate_fn=PaddingCollator(0))
    head_before = model.classifier.weight.detach().clone()
    body_before = model.bert.embeddings.word_embeddings.weight.detach().clone()
    h = train(model, loader, max_steps=4, lr=1e-5, head_lr=1e-2, warmup_ratio=0.0, progress=False)
    assert len(h["loss"]) == 4
    head_step = (model.classifier.weight - head_before).abs().max()
    body_step = (model.bert.embeddings.word_embeddings.weight - body_before).abs().max()
    assert head_step > 50 * body_step                                 # Adam steps are ~lr in size
