"""Tests of mtbert_ref.multiple_choice (notebook 04): HF equivalence, encoding, accuracy, data, checkers."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from transformers import BertForMultipleChoice

from mtbert_ref.backbone import load_tokenizer, tiny_bert_config
from mtbert_ref.checking import GradingError, fresh_copy
from mtbert_ref.data import PaddingCollator
from mtbert_ref.multiple_choice import (
    BertMultipleChoiceModel,
    check_encode_choices,
    check_mc_accuracy,
    check_mc_head,
    encode_choices,
    encode_dataset,
    hf_key_map,
    load_hf_multiple_choice,
    load_multiple_choice,
    mc_accuracy,
    multiple_choice_logits,
)


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer()


# --------------------------------------------------------------------------------------------- HF equivalence
def _pair(seed=0, dropout=0.0):
    torch.manual_seed(seed)
    cfg = tiny_bert_config(hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    hf = BertForMultipleChoice(cfg).eval()
    ours = load_hf_multiple_choice(BertMultipleChoiceModel.from_config(cfg), hf).eval()
    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(1, 99, (3, 4, 10), generator=g)
    mask = torch.ones_like(ids)
    mask[0, 1, 6:] = 0
    mask[2, 3, 3:] = 0
    ids = ids * mask
    types = torch.zeros_like(ids)
    types[..., 5:] = 1
    labels = torch.tensor([2, 0, 3])
    return hf, ours, dict(input_ids=ids, attention_mask=mask, token_type_ids=types), labels


def test_equal_to_transformers():
    hf, ours, inputs, labels = _pair()
    with torch.no_grad():
        want = hf(**inputs, labels=labels)
        got = ours(**inputs, labels=labels)
    assert got.logits.shape == (3, 4)
    assert (got.logits - want.logits).abs().max() <= 1e-5
    assert abs(float(got.loss) - float(want.loss)) <= 1e-5
    assert abs(float(got.loss) - float(F.cross_entropy(want.logits, labels))) <= 1e-6


def test_key_map_complete_and_gradients_match():
    hf, ours, inputs, labels = _pair(seed=4)
    mapping = hf_key_map(list(hf.state_dict()))
    assert set(mapping.values()) == set(ours.state_dict())
    assert mapping["classifier.weight"] == "head.classifier.weight"
    hf(**inputs, labels=labels).loss.backward()
    ours(**inputs, labels=labels).loss.backward()
    hf_params = dict(hf.named_parameters())
    for name, p in ours.named_parameters():
        q = hf_params[name.replace("head.", "", 1)]
        assert (p.grad - q.grad).abs().max() <= 1e-5, name


def test_train_mode_dropout_matches_transformers():
    hf, ours, inputs, labels = _pair(seed=2, dropout=0.2)
    hf.train()
    ours.train()
    torch.manual_seed(9)
    a = hf(**inputs).logits
    torch.manual_seed(9)
    b = ours(**inputs).logits
    assert (a - b).abs().max() <= 1e-5


def test_student_logits_fn_plugs_in():
    hf, ours, inputs, labels = _pair(seed=6)
    ours.logits_fn = fresh_copy(multiple_choice_logits)
    with torch.no_grad():
        assert (ours(**inputs).logits - hf(**inputs).logits).abs().max() <= 1e-5


def test_any_number_of_choices_and_missing_optional_inputs():
    hf, ours, inputs, _ = _pair(seed=8)
    for c in (1, 2, 7):
        ids = torch.randint(1, 99, (2, c, 6))
        with torch.no_grad():
            assert (ours(input_ids=ids).logits - hf(input_ids=ids).logits).abs().max() <= 1e-5


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


# --------------------------------------------------------------------------------------------- check_mc_head
def test_check_mc_head_accepts_reference():
    check_mc_head(fresh_copy(multiple_choice_logits), hidden_tests=True)


def test_check_mc_head_accepts_consistent_transpose():
    def transposed(bert, head, input_ids, attention_mask=None, token_type_ids=None):
        b, c, n = input_ids.shape

        def flat(x):
            return None if x is None else x.transpose(0, 1).reshape(c * b, n)

        pooled = bert(input_ids=flat(input_ids), attention_mask=flat(attention_mask),
                      token_type_ids=flat(token_type_ids)).pooler_output
        return head(pooled).view(c, b).T            # un-flattened in the same order: correct

    check_mc_head(transposed, hidden_tests=True)


def _mixed(bert, head, input_ids, attention_mask=None, token_type_ids=None):
    b, c, n = input_ids.shape

    def flat(x):
        return None if x is None else x.transpose(0, 1).reshape(-1, n)      # choice-major flatten ...

    pooled = bert(input_ids=flat(input_ids), attention_mask=flat(attention_mask),
                  token_type_ids=flat(token_type_ids)).pooler_output
    return head(pooled).view(b, c)                                          # ... read back batch-major


def _choices_by_batch(bert, head, input_ids, attention_mask=None, token_type_ids=None):
    b, c, n = input_ids.shape
    pooled = bert(input_ids=input_ids.view(-1, n), attention_mask=attention_mask.view(-1, n),
                  token_type_ids=token_type_ids.view(-1, n)).pooler_output
    return head(pooled).view(c, b)


def _raw_cls(bert, head, input_ids, attention_mask=None, token_type_ids=None):
    b, c, n = input_ids.shape
    h = bert(input_ids=input_ids.view(-1, n), attention_mask=attention_mask.view(-1, n),
             token_type_ids=token_type_ids.view(-1, n)).last_hidden_state[:, 0]
    return head(h).view(b, c)


def _no_mask(bert, head, input_ids, attention_mask=None, token_type_ids=None):
    b, c, n = input_ids.shape
    pooled = bert(input_ids=input_ids.view(-1, n), token_type_ids=token_type_ids.view(-1, n)).pooler_output
    return head(pooled).view(b, c)


_STUDENT_COPY = fresh_copy(multiple_choice_logits)


def _softmaxed(bert, head, input_ids, attention_mask=None, token_type_ids=None):
    return torch.softmax(_STUDENT_COPY(bert, head, input_ids.clone(), attention_mask, token_type_ids), -1)


def _flat_output(bert, head, input_ids, attention_mask=None, token_type_ids=None):
    b, c, n = input_ids.shape
    return head(bert(input_ids=input_ids.view(-1, n), attention_mask=attention_mask.view(-1, n),
                     token_type_ids=token_type_ids.view(-1, n)).pooler_output)


def _stub(bert, head, input_ids, attention_mask=None, token_type_ids=None):
    raise NotImplementedError()


@pytest.mark.parametrize("fn, pattern", [
    (_mixed, "mixed the batch and choice dimensions"),
    (_choices_by_batch, r"shape \(4, 3\).*mixed the batch and choice dimensions"),
    (_raw_cls, "pooler_output"),
    (_no_mask, "attention_mask"),
    (_softmaxed, "probabilities"),
    (_flat_output, r"shape \(12, 1\).*view\(batch, num_choices\)"),
    (_stub, "not implemented yet"),
    (multiple_choice_logits, "reference implementation"),
])
def test_check_mc_head_rejects(fn, pattern):
    with pytest.raises(GradingError, match=pattern):
        check_mc_head(fn)


def test_check_mc_head_hidden_catches_ignored_token_types():
    def no_types(bert, head, input_ids, attention_mask=None, token_type_ids=None):
        b, c, n = input_ids.shape
        am = None if attention_mask is None else attention_mask.reshape(-1, n)
        return head(bert(input_ids=input_ids.reshape(-1, n), attention_mask=am).pooler_output).view(b, c)

    with pytest.raises(GradingError, match="token_type_ids"):
        check_mc_head(no_types, hidden_tests=True)


# --------------------------------------------------------------------------------------------- check_encode_choices
def test_check_encode_choices_accepts_reference_and_tokenizer_pairs(tokenizer):
    check_encode_choices(fresh_copy(encode_choices), tokenizer, hidden_tests=True)

    def with_pairs(tok, question, choices, max_length=64):
        return tok([question] * len(choices), list(choices), truncation="only_first", max_length=max_length)

    def padded_to_longest(tok, question, choices, max_length=64):
        return tok([question] * len(choices), list(choices), truncation="only_first", max_length=max_length,
                   padding="longest")

    check_encode_choices(with_pairs, tokenizer, hidden_tests=True)
    check_encode_choices(padded_to_longest, tokenizer, hidden_tests=True)


def _swapped(tok, question, choices, max_length=64):
    return tok(list(choices), [question] * len(choices), truncation="only_second", max_length=max_length)


def _no_types(tok, question, choices, max_length=64):
    enc = tok([question] * len(choices), list(choices), truncation="only_first", max_length=max_length)
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
            "token_type_ids": [[0] * len(r) for r in enc["input_ids"]]}


def _cut_choice(tok, question, choices, max_length=64):
    return tok([question] * len(choices), list(choices), truncation="longest_first", max_length=max_length)


def _max_length_padding(tok, question, choices, max_length=64):
    return tok([question] * len(choices), list(choices), truncation="only_first", max_length=max_length,
               padding="max_length")


def _no_truncation(tok, question, choices, max_length=64):
    return tok([question] * len(choices), list(choices))


def _joined(tok, question, choices, max_length=64):
    return tok([f"{question} {c}" for c in choices], truncation=True, max_length=max_length)


@pytest.mark.parametrize("fn, pattern, hidden", [
    (_swapped, "choice comes first", False),
    (_no_types, "token_type_ids", False),
    (_max_length_padding, "Do not pad to max_length", False),
    (_cut_choice, "question first", True),
    (_no_truncation, "more than max_length", True),
    (_joined, "two \\[SEP\\]", False),
])
def test_check_encode_choices_rejects(tokenizer, fn, pattern, hidden):
    with pytest.raises(GradingError, match=pattern):
        check_encode_choices(fn, tokenizer, hidden_tests=hidden)


# --------------------------------------------------------------------------------------------- check_mc_accuracy
def test_check_mc_accuracy_accepts_reference():
    check_mc_accuracy(fresh_copy(mc_accuracy), hidden_tests=True)


@pytest.mark.parametrize("fn, pattern", [
    (lambda lg, lb: (lg.argmax(-1) == lb).float().mean(), "Python float"),
    (lambda lg, lb: float((lg.argmax(-1) == lb).sum()), "number of right answers"),
    (lambda lg, lb: 100.0 * float((lg.argmax(-1) == lb).float().mean()), "percentage"),
    (lambda lg, lb: float((lg.argmax(0) == lb).float().mean()), "argmax over the choices|dim=-1|raised"),
    (lambda lg, lb: float((lg.argmin(-1) == lb).float().mean()), "argmax\\(dim=-1\\)"),
])
def test_check_mc_accuracy_rejects(fn, pattern):
    with pytest.raises(GradingError, match=pattern):
        check_mc_accuracy(fn, hidden_tests=True)
