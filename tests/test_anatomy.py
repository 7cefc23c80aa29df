"""Notebook 00 references and checkers."""
import pytest
import torch
from torch import nn
from transformers import BertForMaskedLM, BertForSequenceClassification, BertModel

from mtbert_ref import anatomy
from mtbert_ref.backbone import tiny_bert_config
from mtbert_ref.checking import GradingError, fresh_copy


def test_masked_mean_pool_by_hand():
    h = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]], [[5.0, 6.0], [7.0, 8.0], [9.0, 10.0]]])
    m = torch.tensor([[1, 1, 0], [1, 1, 1]])
    out = anatomy.masked_mean_pool(h, m)
    assert torch.allclose(out, torch.tensor([[2.0, 3.0], [7.0, 8.0]]))
    assert torch.equal(anatomy.masked_mean_pool(h, torch.zeros(2, 3)), torch.zeros(2, 2))
    assert anatomy.masked_mean_pool(h.double(), m.bool()).dtype == torch.float64


def test_count_and_head_parameters_with_tied_weights():
    cfg = tiny_bert_config()
    mlm = BertForMaskedLM(cfg)
    enc = BertModel(cfg, add_pooling_layer=False)
    head = cfg.hidden_size * cfg.hidden_size + cfg.hidden_size + 2 * cfg.hidden_size + cfg.vocab_size
    assert anatomy.count_parameters(mlm) == anatomy.count_parameters(enc) + head
    assert anatomy.head_parameters(mlm) == head
    clf = BertForSequenceClassification(tiny_bert_config(num_labels=5))
    assert anatomy.head_parameters(clf) == 32 * 5 + 5
    for p in clf.bert.parameters():
        p.requires_grad_(False)
    assert anatomy.count_parameters(clf, trainable_only=True) == 32 * 5 + 5


def test_head_zoo_builds_every_class_on_an_encoder():
    torch.manual_seed(0)
    enc = BertModel(tiny_bert_config())
    zoo = anatomy.build_head_zoo(enc, num_labels=3)
    assert list(zoo) == list(anatomy.HEAD_CLASSES)
    for name, model in zoo.items():
        assert torch.equal(model.bert.embeddings.word_embeddings.weight, enc.embeddings.word_embeddings.weight), name
    assert zoo["BertForQuestionAnswering"].qa_outputs.out_features == 2
    assert zoo["BertLMHeadModel"].config.is_decoder
    parts = anatomy.component_parameters(zoo["BertForMaskedLM"])
    assert sum(parts.values()) == anatomy.count_parameters(zoo["BertForMaskedLM"])


def test_checkers_accept_a_correct_student_solution():
    anatomy.check_masked_mean_pool(fresh_copy(anatomy.masked_mean_pool), hidden_tests=True)
    anatomy.check_count_parameters(fresh_copy(anatomy.count_parameters), hidden_tests=True)
    anatomy.check_head_parameters(fresh_copy(anatomy.head_parameters), hidden_tests=True)


@pytest.mark.parametrize("wrong, message", [
    (lambda h, m: h.mean(dim=1), "values differ"),                                # ignores the mask
    (lambda h, m: (h * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True), "NaN"),  # no clamp (hidden test)
    (lambda h, m: (h * m.unsqueeze(-1)).sum(1), "values differ"),                 # sum, not mean
    (lambda h, m: h[:, 0], "values differ"),                                      # [CLS] instead of mean
    (lambda h, m: anatomy.masked_mean_pool(h, m).double(), "dtype torch.float64"),
    (lambda h, m: (h * m.unsqueeze(-1)).sum(1, keepdim=True) / m.sum(1).clamp(min=1)[:, None, None], "shape"),
])
def test_masked_mean_pool_checker_rejects(wrong, message):
    if "anatomy.masked_mean_pool" in repr(wrong.__code__.co_names) or "masked_mean_pool" in wrong.__code__.co_names:
        message = "reference implementation"
    with pytest.raises(GradingError, match=message):
        anatomy.check_masked_mean_pool(wrong, hidden_tests=True)


def test_masked_mean_pool_in_place_is_rejected():
    def in_place(h, m):
        h.mul_(m.unsqueeze(-1).to(h.dtype))
        return h.sum(1) / m.sum(1, keepdim=True).clamp(min=1)

    with pytest.raises(GradingError, match="modified in place"):
        anatomy.check_masked_mean_pool(in_place)


@pytest.mark.parametrize("wrong, message", [
    (lambda m, trainable_only=False: sum(p.numel() for p in m.parameters()), "trainable_only=True"),
    (lambda m, trainable_only=False: len(list(m.parameters())), "got"),
    (lambda m, trainable_only=False: torch.tensor(sum(p.numel() for p in m.parameters())), "torch.Tensor"),
    (lambda m, trainable_only=False: sum(p.numel() for p in m.parameters() if p.requires_grad or not trainable_only)
     + (m.cls.predictions.decoder.weight.numel() if hasattr(m, "cls") else 0), "tied"),
])
def test_count_parameters_checker_rejects(wrong, message):
    with pytest.raises(GradingError, match=message):
        anatomy.check_count_parameters(wrong, hidden_tests=True)


@pytest.mark.parametrize("wrong, message", [
    (lambda model: sum(p.numel() for p in model.parameters()), "got"),
    (lambda model: sum(p.numel() for n, p in model.named_parameters(remove_duplicate=False)
                       if not n.startswith("bert.")), "tied"),
    (lambda model: sum(p.numel() for c in model.children() if c is not model.bert for p in c.parameters()) - 1, "got"),
])
def test_head_parameters_checker_rejects(wrong, message):
    with pytest.raises(GradingError, match=message):
        anatomy.check_head_parameters(wrong, hidden_tests=True)
