"""Tests of mtbert_ref.modeling.multitask (notebook 07): task spec, heads, the task-masked loss, the PreTrainedModel."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertForSequenceClassification, BertModel

from mtbert_ref.backbone import tiny_bert_config
from mtbert_ref.modeling.multitask import (
    IGNORE, MtBertForMultiTask, MultiTaskConfig, MtBertForMultiTask, MultiTaskOutput, TaskSpec, build_heads, make_tasks,
    multitask_loss,
)

CLASSIC = {"A": list("abcd"), "B": list("efgh"), "C": list("ijkl"), "D": list("mnop")}
MIXED = {"topic": ["sport", "politics", "science"], "tags": ("multi_label", ["x", "y", "z", "w"], 0.5),
         "score": ("regression", ["value"])}


def tiny_model(tasks=MIXED, seed=0, **cfg) -> MtBertForMultiTask:
    torch.manual_seed(seed)
    config = MultiTaskConfig(encoder=tiny_bert_config().to_dict(), tasks=[t.to_dict() for t in make_tasks(tasks)],
                             classifier_dropout=0.0, **cfg)
    return MtBertForMultiTask(config).eval()


def tiny_batch(batch=4, seq=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 99, (batch, seq), generator=g)
    mask = torch.ones_like(ids)
    mask[-1, seq - 3:] = 0
    ids[-1, seq - 3:] = 0
    return ids, mask


class ToyTokenizer:
    """Whitespace tokenizer on a fixed vocabulary (ids < 99), enough for the tiny config."""
    def __call__(self, texts, truncation=True, max_length=16, padding=False, return_tensors=None):
        ids = [[2] + [3 + (sum(map(ord, w)) % 90) for w in t.split()][:max_length - 2] + [4] for t in texts]
        if return_tensors == "pt":
            width = max(map(len, ids))
            mask = [[1] * len(x) + [0] * (width - len(x)) for x in ids]
            ids = [x + [0] * (width - len(x)) for x in ids]
            return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask)}
        return {"input_ids": ids}

# ----------------------------------------------------------------------------------------------- task spec
def test_classic_spec_four_tasks():
    tasks = make_tasks(CLASSIC)
    assert [t.name for t in tasks] == list("ABCD")
    assert all(t.kind == "multi_class" and t.num_outputs == 4 for t in tasks)
    assert tasks[3].id2label == {0: "m", 1: "n", 2: "o", 3: "p"}
    model = tiny_model(CLASSIC)
    ids, mask = tiny_batch()
    out = model(input_ids=ids, attention_mask=mask)
    assert set(out.logits) == set("ABCD") and all(v.shape == (4, 4) for v in out.logits.values())
    preds = model.predict(["one sentence in", "and another one"], tokenizer=ToyTokenizer())
    assert len(preds) == 2 and set(preds[0]) == set("ABCD")
    assert preds[0]["A"] in "abcd" and preds[1]["D"] in "mnop"


@pytest.mark.parametrize("bad, match", [
    ({"A": ["only"]}, "at least 2 labels"),
    ({"A": ["x", "x", "y"]}, "duplicate label"),
    ({"A": ("sideways", ["x", "y"])}, "kind must be one of"),
    ([{"name": "A", "labels": ["a", "b"]}, {"name": "A", "labels": ["c", "d"]}], "unique"),
    ({"A": {"labels": ["a", "b"], "weight": -1}}, "weight"),
])
def test_spec_validation(bad, match):
    with pytest.raises(ValueError, match=match):
        make_tasks(bad)


def test_build_heads_and_duplicates():
    heads, id2label = build_heads(make_tasks(MIXED), 16)
    assert isinstance(heads, nn.ModuleDict) and list(heads) == ["topic", "tags", "score"]
    assert [(h.in_features, h.out_features) for h in heads.values()] == [(16, 3), (16, 4), (16, 1)]
    assert id2label["tags"] == {0: "x", 1: "y", 2: "z", 3: "w"}
    with pytest.raises(ValueError, match="named"):
        build_heads([TaskSpec("a", labels=["x", "y"]), TaskSpec("a", labels=["z", "w"])], 4)


# ----------------------------------------------------------------------------------------------- HF equivalence
def _copy_into_hf(model: MtBertForMultiTask, hf, task: str):
    state = {f"bert.{k}": v for k, v in model.bert.state_dict().items()}
    state["classifier.weight"] = model.heads[task].weight
    state["classifier.bias"] = model.heads[task].bias
    missing, unexpected = hf.load_state_dict(state, strict=False)
    assert not unexpected and not [m for m in missing if "position_ids" not in m and "token_type_ids" not in m]
    return hf.eval()


@pytest.mark.parametrize("kind, problem_type, n", [("multi_class", "single_label_classification", 3),
                                                  ("multi_label", "multi_label_classification", 4),
                                                  ("regression", "regression", 1)])
def test_equals_bert_for_sequence_classification(kind, problem_type, n):
    """One task with pooler pooling is exactly BertForSequenceClassification (logits and loss)."""
    labels_names = [f"l{i}" for i in range(n)]
    model = tiny_model({"t": {"kind": kind, "labels": labels_names}}, pooling="pooler")
    hf = _copy_into_hf(model, BertForSequenceClassification(tiny_bert_config(num_labels=n, problem_type=problem_type)),
                       "t")
    ids, mask = tiny_batch()
    g = torch.Generator().manual_seed(3)
    if kind == "multi_class":
        y = torch.randint(0, n, (4,), generator=g)
    elif kind == "multi_label":
        y = (torch.rand(4, n, generator=g) < 0.5).float()
    else:
        y = torch.randn(4, generator=g)
    ours = model(input_ids=ids, attention_mask=mask, labels={"t": y})
    theirs = hf(input_ids=ids, attention_mask=mask, labels=y)
    assert (ours.logits["t"] - theirs.logits).abs().max() <= 1e-5
    assert abs(ours.loss.item() - theirs.loss.item()) <= 1e-5


def test_mean_pooling_equals_bertmodel():
    model = tiny_model(CLASSIC)
    bert = BertModel(tiny_bert_config(), add_pooling_layer=False)
    bert.load_state_dict(model.bert.state_dict())
    ids, mask = tiny_batch()
    h = bert.eval()(input_ids=ids, attention_mask=mask).last_hidden_state
    want = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    out = model(input_ids=ids, attention_mask=mask)
    assert (out.pooled - want).abs().max() <= 1e-5
    assert (out.logits["B"] - model.heads["B"](want)).abs().max() <= 1e-5
    # cached features give the same logits without the encoder
    again = model(features=want)
    assert all((again.logits[k] - out.logits[k]).abs().max() <= 1e-6 for k in out.logits)


# ----------------------------------------------------------------------------------------------- the loss
def _mixed_labels():
    return {"topic": torch.tensor([2, IGNORE, 0, IGNORE]),
            "tags": torch.tensor([[1., 0, 0, 1], [IGNORE] * 4, [0, 1, IGNORE, 0], [0, 0, 0, 0]]),
            "score": torch.tensor([[0.5], [float("nan")], [float("nan")], [-1.0]])}


def test_multitask_loss_masks_and_weights():
    tasks = make_tasks(MIXED)
    g = torch.Generator().manual_seed(0)
    logits = {t.name: torch.randn(4, t.num_outputs, generator=g, requires_grad=True) for t in tasks}
    labels = _mixed_labels()
    total, per = multitask_loss(logits, labels, tasks)
    want_topic = F.cross_entropy(logits["topic"][[0, 2]], torch.tensor([2, 0]))
    keep = labels["tags"] != IGNORE
    want_tags = F.binary_cross_entropy_with_logits(logits["tags"][keep], labels["tags"][keep])
    want_score = F.mse_loss(logits["score"][[0, 3]], labels["score"][[0, 3]])
    assert torch.allclose(per["topic"], want_topic) and torch.allclose(per["tags"], want_tags)
    assert torch.allclose(per["score"], want_score)
    assert torch.allclose(total, want_topic + 0.5 * want_tags + want_score)
    total.backward()
    # unlabelled rows receive no gradient
    assert logits["topic"].grad[[1, 3]].abs().sum() == 0
    assert logits["tags"].grad[1].abs().sum() == 0 and logits["tags"].grad[2, 2] == 0
    assert logits["score"].grad[[1, 2]].abs().sum() == 0


def test_multitask_loss_absent_and_empty_tasks():
    tasks = make_tasks(MIXED)
    logits = {t.name: torch.randn(2, t.num_outputs, requires_grad=True) for t in tasks}
    total, per = multitask_loss(logits, {"topic": torch.tensor([IGNORE, IGNORE])}, tasks)
    assert per == {} and total.item() == 0.0 and total.requires_grad
    total.backward()
    total, per = multitask_loss(logits, {"score": torch.tensor([1.0, 2.0])}, tasks)  # (batch,) regression
    assert list(per) == ["score"] and torch.isfinite(total)


def test_task_mask_equals_markers():
    model = tiny_model()
    ids, mask = tiny_batch()
    labels = _mixed_labels()
    full = {"topic": torch.tensor([2, 1, 0, 1]), "tags": torch.tensor([[1., 0, 0, 1], [0, 1, 1, 0], [0, 1, 1, 0],
                                                                       [0, 0, 0, 0]]),
            "score": torch.tensor([[0.5], [3.0], [3.0], [-1.0]])}
    tm = torch.tensor([[1, 1, 1], [0, 0, 0], [1, 1, 0], [0, 1, 1]], dtype=torch.bool)
    a = model(input_ids=ids, attention_mask=mask, labels=full, task_mask=tm)
    labels["tags"][2, 2] = 1.0  # the mask cannot express single unknown entries; make the two batches agree
    b = model(input_ids=ids, attention_mask=mask, labels=labels)
    assert isinstance(a, MultiTaskOutput) and torch.allclose(a.loss, b.loss)
    assert set(a.task_losses) == {"topic", "tags", "score"}


# ----------------------------------------------------------------------------------------------- transformers API
def test_init_head_biases_start_at_the_label_frequencies():
    model = tiny_model()
    head_w = {k: h.weight.clone() for k, h in model.heads.items()}
    score_bias = model.heads["score"].bias.clone()
    targets = [{"topic": "sport", "tags": ["x", "y"]}, {"topic": "sport", "tags": []}, {"topic": "science"},
               {"tags": ["x"], "score": 0.3}, {"topic": None, "tags": ["x", "z"]}]
    priors = model.init_head_biases(targets)
    assert set(priors) == {"topic", "tags"}                          # regression left alone
    ids, mask = tiny_batch()
    with torch.no_grad():
        feats = torch.zeros(2, model.config.encoder.hidden_size)     # zero features: the bias alone speaks
        out = model(features=feats)
    assert torch.allclose(out.logits["topic"].softmax(-1)[0], torch.tensor([2 / 3, 1e-3, 1 / 3]), atol=2e-3)
    assert torch.allclose(torch.sigmoid(out.logits["tags"][0]), torch.tensor([0.75, 0.25, 0.25, 1e-3]), atol=1e-6)
    assert torch.equal(model.heads["score"].bias, score_bias)
    assert all(torch.equal(model.heads[k].weight, w) for k, w in head_w.items())
    with pytest.raises(ValueError, match="unknown label"):
        model.init_head_biases([{"topic": "cooking"}])
    with pytest.raises(ValueError, match="no labelled example"):
        model.init_head_biases([{"tags": ["x"]}])


def test_save_pretrained_round_trip(tmp_path):
    model = tiny_model(shared_layer_size=8)
    ids, mask = tiny_batch()
    before = model(input_ids=ids, attention_mask=mask, labels=_mixed_labels())
    model.save_pretrained(tmp_path)
    again = MtBertForMultiTask.from_pretrained(tmp_path).eval()
    after = again(input_ids=ids, attention_mask=mask, labels=_mixed_labels())
    for k in before.logits:
        assert torch.equal(before.logits[k], after.logits[k])
    assert torch.equal(before.loss, after.loss)
    a, b = model.config.to_dict(), again.config.to_dict()
    for d in (a, b):
        d.pop("_name_or_path", None)
        d["encoder"].pop("dtype", None)
    assert a == b
    assert again.config.model_type == "mtbert-multitask"
    assert again.config.task_id2label("tags") == {0: "x", 1: "y", 2: "z", 3: "w"}
    from transformers import AutoModel
    assert isinstance(AutoModel.from_pretrained(tmp_path), MtBertForMultiTask)


def test_grow_one_task_survives_reload(tmp_path):
    """What the label-growing helper does: more rows in one head, new id2label; the config follows on reload."""
    model = tiny_model()
    head = model.heads["topic"]
    new = nn.Linear(head.in_features, head.out_features + 1)
    with torch.no_grad():
        new.weight[:-1] = head.weight
        new.bias[:-1] = head.bias
    model.heads["topic"] = new
    model.config.set_task_labels("topic", ["sport", "politics", "science", "music"])
    model.save_pretrained(tmp_path)
    again = MtBertForMultiTask.from_pretrained(tmp_path)
    assert again.heads["topic"].out_features == 4
    assert again.config.task_id2label("topic")[3] == "music"


def test_from_encoder_minilm():
    model = MtBertForMultiTask.from_encoder(None, CLASSIC)
    assert model.config.encoder.hidden_size == 384 and list(model.heads) == list("ABCD")
    preds = model.predict(["A terminal text editor."])
    assert set(preds[0]) == set("ABCD") and preds[0]["C"] in "ijkl"


# ----------------------------------------------------------------------------------------------- phase 2
def test_bert_attribute():
    model = tiny_model()
    assert model.base_model_prefix == "bert"
    assert isinstance(model.bert, BertModel) and model.base_model is model.bert


def test_save_writes_tokenizer_and_model_card(tmp_path):
    from mtbert_ref.backbone import load_tokenizer
    model = tiny_model()
    model.tokenizer = load_tokenizer()
    model.save_pretrained(tmp_path)
    card = (tmp_path / "README.md").read_text()
    assert "tags" in card and "multi_label" in card and "x, y, z, w" in card and "encoder" in card
    assert (tmp_path / "tokenizer_config.json").exists()


def test_fresh_subprocess_automodel_loads_a_saved_folder(tmp_path):
    import subprocess
    import sys
    tiny_model().save_pretrained(tmp_path)
    code = ("import mtbert_ref, sys; from transformers import AutoModel; "
            f"m = AutoModel.from_pretrained({str(tmp_path)!r}); print(type(m).__name__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("MtBertForMultiTask")


def test_predict_accepts_one_string():
    preds = tiny_model(CLASSIC).predict("one sentence", tokenizer=ToyTokenizer())
    assert len(preds) == 1 and set(preds[0]) == set("ABCD")


@pytest.mark.parametrize("labels, err, match", [
    ({"topik": torch.tensor([0, 1, 2, 0])}, KeyError, "topik.*tasks are"),
    ({"topic": torch.tensor([[0], [1], [2], [0]])}, ValueError, "'topic' is multi_class.*shape \\(4,\\)"),
    ({"tags": torch.zeros(4, 3)}, ValueError, "'tags' is multi_label.*\\(4, 4\\)"),
    ({"topic": torch.tensor([0, 1, 3, -100])}, ValueError, "'topic' has 3 classes.*\\[3\\]"),
    ({"topic": torch.tensor([0.0, 1.0, 2.0, 0.0])}, TypeError, "'topic' is multi_class.*int64"),
])
def test_forward_bad_labels_name_the_task(labels, err, match):
    ids, mask = tiny_batch()
    with pytest.raises(err, match=match):
        tiny_model()(input_ids=ids, attention_mask=mask, labels=labels)
