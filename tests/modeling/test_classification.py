"""Tests of mtbert_ref.modeling.classification (notebook 05): the head, the loss of each problem type, the model —
equal to transformers' BertForSequenceClassification (from_hf / to_hf), saved and reloaded with its tokenizer and
model card, usable by transformers' pipeline."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
import torch.nn.functional as F
import transformers
from transformers import BertForSequenceClassification, BertModel

from mtbert_ref import load_tokenizer
from mtbert_ref.backbone import tiny_bert_config
from mtbert_ref.modeling.classification import MtBertForSequenceClassification, ClassificationHead, classification_loss
from mtbert_ref.modeling.losses import infer_problem_type
from mtbert_ref.modeling.weights import rename_keys


def hf_key_map(hf_keys):
    """transformers' state-dict key → ours, through the model's one mapping (``MtBertForSequenceClassification.hf_rules``)."""
    return {k: next(iter(rename_keys({k: None}, MtBertForSequenceClassification.hf_rules))) for k in hf_keys}


# --------------------------------------------------------------------------------------------- HF equivalence
def _pair(num_labels: int, problem_type=None, seed: int = 0):
    torch.manual_seed(seed)
    cfg = tiny_bert_config(num_labels=num_labels)
    if problem_type is not None:
        cfg.problem_type = problem_type
    hf = BertForSequenceClassification(cfg).eval()
    ours = MtBertForSequenceClassification.from_hf(hf).eval()
    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(1, 99, (5, 11), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    mask[3, 2:] = 0
    types = torch.zeros_like(ids)
    types[:, 5:] = 1
    return hf, ours, dict(input_ids=ids, attention_mask=mask, token_type_ids=types), g


@pytest.mark.parametrize("case", ["regression", "single_label", "single_label_int32", "multi_label",
                                  "explicit_regression_3_outputs"])
def test_equal_to_transformers(case):
    if case == "regression":
        hf, ours, inputs, g = _pair(1)
        labels = torch.randn(5, generator=g)
        want_type = "regression"
    elif case in ("single_label", "single_label_int32"):
        hf, ours, inputs, g = _pair(3)
        labels = torch.randint(0, 3, (5,), generator=g)
        want_type = "single_label_classification"
    elif case == "multi_label":
        hf, ours, inputs, g = _pair(4)
        labels = (torch.rand(5, 4, generator=g) > 0.5).float()
        want_type = "multi_label_classification"
    else:
        hf, ours, inputs, g = _pair(3, problem_type="regression")
        labels = torch.randn(5, 3, generator=g)
        want_type = "regression"
    with torch.no_grad():
        want = hf(**inputs, labels=labels)
        got = ours(**inputs, labels=labels.int() if case == "single_label_int32" else labels)
    assert hf.config.problem_type == want_type
    assert infer_problem_type(labels.shape[-1] if labels.dim() > 1 else hf.num_labels, labels,
                              ours.problem_type) == want_type
    assert (got.logits - want.logits).abs().max() <= 1e-5
    assert abs(float(got.loss) - float(want.loss)) <= 1e-5


def test_key_map_is_complete_and_gradients_match():
    hf, ours, inputs, g = _pair(3, seed=3)
    mapping = hf_key_map(list(hf.state_dict()))
    assert set(mapping.values()) == set(ours.state_dict())
    assert mapping["classifier.weight"] == "head.classifier.weight"
    labels = torch.randint(0, 3, (5,), generator=g)
    hf(**inputs, labels=labels).loss.backward()
    ours(**inputs, labels=labels).loss.backward()
    hf_grads = dict(hf.named_parameters())
    for name, p in ours.named_parameters():
        hf_name = name.replace("head.", "", 1)
        assert (p.grad - hf_grads[hf_name].grad).abs().max() <= 1e-5, name


def test_training_mode_dropout_matches_transformers():
    torch.manual_seed(0)
    cfg = tiny_bert_config(num_labels=3, hidden_dropout_prob=0.2, attention_probs_dropout_prob=0.2)
    hf = BertForSequenceClassification(cfg).train()
    ours = MtBertForSequenceClassification.from_hf(hf).train()
    ids = torch.randint(1, 99, (3, 8))
    torch.manual_seed(5)
    a = hf(input_ids=ids).logits
    torch.manual_seed(5)
    b = ours(input_ids=ids).logits
    assert (a - b).abs().max() <= 1e-5


# --------------------------------------------------------------------------------------------- loss details
def test_class_weights_are_a_weighted_mean_over_target_weights():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 3, generator=g)
    labels = torch.tensor([0, 0, 0, 1, 2, 2, 0])
    w = torch.tensor([0.2, 1.5, 3.0])
    nll = -torch.log_softmax(logits, -1)[torch.arange(7), labels]
    manual = (w[labels] * nll).sum() / w[labels].sum()
    assert torch.allclose(classification_loss(logits, labels, class_weights=w), manual, atol=1e-6)
    # equal weights change nothing
    assert torch.allclose(classification_loss(logits, labels, class_weights=torch.ones(3)),
                          classification_loss(logits, labels), atol=1e-6)


def test_class_weights_rejected_outside_single_label_and_bad_problem_type():
    with pytest.raises(ValueError, match="single-label"):
        classification_loss(torch.randn(3, 1), torch.randn(3), class_weights=torch.ones(1))
    with pytest.raises(ValueError, match="problem_type"):
        classification_loss(torch.randn(3, 2), torch.tensor([0, 1, 1]), problem_type="binary")


def test_model_with_class_weights_uses_them():
    torch.manual_seed(0)
    w = torch.tensor([1.0, 5.0, 0.5])
    m = MtBertForSequenceClassification.from_config(tiny_bert_config(), num_labels=3, class_weights=w).eval()
    ids = torch.randint(1, 99, (4, 6))
    labels = torch.tensor([0, 1, 2, 1])
    out = m(input_ids=ids, labels=labels)
    assert torch.allclose(out.loss, F.cross_entropy(out.logits, labels, weight=w), atol=1e-6)
    assert m(input_ids=ids).loss is None




# --------------------------------------------------------------------------------------------- CourseModel
TWEET_NAMES = ["negative", "neutral", "positive"]
SENTENCES = ["What a wonderful, sunny day!", "The flight was delayed again and nobody told us why."]


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer()   # the embedded offline tokenizer


def _course_model(tokenizer, num_labels=3, problem_type=None, labels=None, seed=0):
    """A tiny random classifier over the real vocabulary, its classifier weights made large enough that the two
    sentences get clearly different logits."""
    torch.manual_seed(seed)
    cfg = tiny_bert_config(vocab_size=len(tokenizer))
    model = MtBertForSequenceClassification.from_config(cfg, num_labels=num_labels, problem_type=problem_type, labels=labels)
    with torch.no_grad():
        model.head.classifier.weight.normal_(0.0, 1.0)
        model.head.classifier.bias.normal_(0.0, 0.1)
    return model.eval()


def _encode(tokenizer):
    return dict(tokenizer(SENTENCES, padding=True, return_tensors="pt"))


def test_is_a_course_model_with_the_labels_in_its_config(tokenizer):
    model = _course_model(tokenizer, labels=TWEET_NAMES)
    assert isinstance(model, transformers.PreTrainedModel)
    assert model.config.num_labels == 3 and model.num_labels == 3
    assert model.config.id2label == {0: "negative", 1: "neutral", 2: "positive"}
    assert model.config.label2id == {"negative": 0, "neutral": 1, "positive": 2}
    assert model.problem_type is None
    out = model(**_encode(tokenizer))
    assert isinstance(out, transformers.modeling_outputs.SequenceClassifierOutput) and out.loss is None
    with pytest.raises(ValueError, match="label names"):
        MtBertForSequenceClassification.from_config(tiny_bert_config(), num_labels=2, labels=TWEET_NAMES)


def test_from_encoder_keeps_the_encoder_weights_and_plugs_in_a_head_and_loss():
    torch.manual_seed(0)
    encoder = BertModel(tiny_bert_config())
    encoder.mtbert_source = "tiny test encoder"
    before = copy.deepcopy(encoder.state_dict())
    calls = []

    def loss_fn(logits, labels, problem_type=None, class_weights=None):
        calls.append((problem_type, class_weights))
        return classification_loss(logits, labels, problem_type, class_weights)

    head = ClassificationHead(encoder.config.hidden_size, 3, 0.0)
    model = MtBertForSequenceClassification.from_encoder(encoder, 3, head=head, loss_fn=loss_fn,
                                                class_weights=torch.tensor([1.0, 2.0, 3.0]))
    assert model.bert is encoder and model.head is head
    assert all(torch.equal(v, before[k]) for k, v in encoder.state_dict().items())
    assert encoder.config.num_labels == 2 and model.config.num_labels == 3   # the encoder's config is not changed
    model(input_ids=torch.randint(1, 99, (2, 5)), labels=torch.tensor([0, 2]))
    assert calls[0][0] is None and torch.equal(calls[0][1], torch.tensor([1.0, 2.0, 3.0]))
    assert "tiny test encoder" in model.model_card()


def test_from_hf_with_a_plugged_in_head_gives_equal_logits():
    """What the notebook does with the student's head and loss."""
    torch.manual_seed(0)
    hf = BertForSequenceClassification(tiny_bert_config(num_labels=3)).eval()
    ours = MtBertForSequenceClassification.from_hf(hf, head=ClassificationHead(32, 3, 0.1),
                                          loss_fn=classification_loss).eval()
    ids = torch.randint(1, 99, (4, 10))
    labels = torch.tensor([0, 2, 1, 2])
    with torch.no_grad():
        a, b = hf(input_ids=ids, labels=labels), ours(input_ids=ids, labels=labels)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.loss, b.loss)


@pytest.mark.parametrize("num_labels, problem_type", [(3, "single_label_classification"), (1, "regression"),
                                                      (4, "multi_label_classification"), (3, None)])
def test_to_hf_gives_equal_logits_and_loss(tokenizer, num_labels, problem_type):
    model = _course_model(tokenizer, num_labels=num_labels, problem_type=problem_type)
    hf = model.to_hf()
    assert type(hf) is BertForSequenceClassification and not hf.training
    assert hf.config.num_labels == num_labels and hf.config.problem_type == problem_type
    inputs = _encode(tokenizer)
    g = torch.Generator().manual_seed(3)
    if problem_type == "regression":
        labels = torch.randn(2, generator=g)
    elif problem_type == "multi_label_classification":
        labels = (torch.rand(2, num_labels, generator=g) > 0.5).float()
    else:
        labels = torch.tensor([2, 0])
    with torch.no_grad():
        a, b = model(**inputs, labels=labels), hf(**inputs, labels=labels)
    assert torch.equal(a.logits, b.logits)
    assert torch.allclose(a.loss, b.loss, atol=1e-6)
    back = MtBertForSequenceClassification.from_hf(hf).eval()
    with torch.no_grad():
        assert torch.equal(back(**inputs).logits, a.logits)


def test_to_hf_refuses_a_head_transformers_cannot_hold():
    class TwoLayerHead(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = torch.nn.Linear(32, 8)
            self.classifier = torch.nn.Linear(8, 3)

        def forward(self, x):
            return self.classifier(torch.relu(self.hidden(x)))

    torch.manual_seed(0)
    head = TwoLayerHead()
    own_init = copy.deepcopy(head.hidden.state_dict())
    model = MtBertForSequenceClassification.from_config(tiny_bert_config(), num_labels=3, head=head)
    assert all(torch.equal(v, own_init[k]) for k, v in head.hidden.state_dict().items())   # its own init is kept
    with pytest.raises(TypeError, match="cannot become a BertForSequenceClassification"):
        model.to_hf()


def test_from_pretrained_of_an_encoder_checkpoint_keeps_it_and_initialises_a_new_head(tmp_path):
    torch.manual_seed(0)
    encoder = BertModel(tiny_bert_config(initializer_range=0.5))
    encoder.save_pretrained(tmp_path)
    model = MtBertForSequenceClassification.from_pretrained(tmp_path, num_labels=3)
    assert model.config.num_labels == 3
    assert all(torch.equal(v, encoder.state_dict()[k]) for k, v in model.bert.state_dict().items())
    lin = model.head.classifier
    assert lin.weight.shape == (3, 32) and 0.3 < float(lin.weight.detach().std()) < 0.7   # normal(0, initializer_range)
    assert torch.equal(lin.bias, torch.zeros(3))


def test_save_pretrained_then_from_pretrained_gives_identical_logits(tokenizer, tmp_path):
    model = _course_model(tokenizer, labels=TWEET_NAMES, problem_type="single_label_classification")
    model.save_pretrained(tmp_path)
    again = MtBertForSequenceClassification.from_pretrained(tmp_path)
    assert type(again) is MtBertForSequenceClassification and not again.training
    assert again.config.id2label == model.config.id2label
    assert again.config.problem_type == "single_label_classification"
    inputs = _encode(tokenizer)
    with torch.no_grad():
        assert torch.equal(again(**inputs).logits, model(**inputs).logits)


def test_saving_with_the_tokenizer_writes_it_and_a_model_card_with_the_labels(tokenizer, tmp_path):
    model = _course_model(tokenizer, labels=TWEET_NAMES)
    model.tokenizer = tokenizer
    model.save_pretrained(tmp_path)
    files = {p.name for p in tmp_path.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer_config.json", "README.md"} <= files
    assert "tokenizer.json" in files or "vocab.txt" in files
    reloaded = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded(SENTENCES)["input_ids"] == tokenizer(SENTENCES)["input_ids"]
    card = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "MtBertForSequenceClassification" in card and "BertForSequenceClassification" in card
    assert "negative, neutral, positive" in card


def test_pipeline_returns_the_label_names_with_the_course_models_argmax(tokenizer):
    model = _course_model(tokenizer, labels=TWEET_NAMES)
    with torch.no_grad():
        want = model(**_encode(tokenizer)).logits.argmax(-1).tolist()
    classify = transformers.pipeline("text-classification", model=model.to_hf(), tokenizer=tokenizer, device="cpu")
    got = classify(SENTENCES)
    assert [r["label"] for r in got] == [TWEET_NAMES[i] for i in want]


def test_pipeline_on_the_saved_folder_uses_the_trained_head(tokenizer, tmp_path):
    """The course model's saved folder is a BertForSequenceClassification checkpoint: the pipeline reads its head
    (not a random one) and its label names; a head transformers cannot hold is saved in the course layout."""
    model = _course_model(tokenizer, labels=TWEET_NAMES, seed=1).eval()
    with torch.no_grad():
        want = model(**_encode(tokenizer)).logits
    model.save_pretrained(tmp_path, tokenizer=tokenizer)
    classify = transformers.pipeline("text-classification", model=str(tmp_path), device="cpu", top_k=None)
    for scores, row in zip(classify(SENTENCES), want.softmax(-1)):
        by_label = {r["label"]: r["score"] for r in scores}
        assert [by_label[n] for n in TWEET_NAMES] == pytest.approx(row.tolist(), abs=1e-5)
    config = transformers.AutoConfig.from_pretrained(tmp_path)
    assert config.architectures == ["BertForSequenceClassification"] and config.mtbert_class == "MtBertForSequenceClassification"

    class TwoLayerHead(nn.Module):
        def __init__(self, hidden, n):
            super().__init__()
            self.proj, self.out = nn.Linear(hidden, hidden), nn.Linear(hidden, n)

        def forward(self, pooled):
            return self.out(torch.tanh(self.proj(pooled)))

    own = MtBertForSequenceClassification.from_config(model.config, head=TwoLayerHead(model.config.hidden_size, 3)).eval()
    own.save_pretrained(tmp_path / "own")
    assert transformers.AutoConfig.from_pretrained(tmp_path / "own").architectures == ["MtBertForSequenceClassification"]
    again = MtBertForSequenceClassification.from_pretrained(tmp_path / "own", head=TwoLayerHead(model.config.hidden_size, 3))
    with torch.no_grad():
        enc = _encode(tokenizer)
        assert torch.equal(again.eval()(**enc).logits, own(**enc).logits)
