"""Notebook 00 references: mtbert_ref.lessons.anatomy (and the pooling it teaches, mtbert_ref.modeling.pooling)."""
import torch
from transformers import BertForMaskedLM, BertForSequenceClassification, BertModel

from mtbert_ref.backbone import tiny_bert_config
from mtbert_ref.lessons import anatomy
from mtbert_ref.modeling import pooling


def test_masked_mean_pool_by_hand():
    h = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]], [[5.0, 6.0], [7.0, 8.0], [9.0, 10.0]]])
    m = torch.tensor([[1, 1, 0], [1, 1, 1]])
    out = pooling.masked_mean_pool(h, m)
    assert torch.allclose(out, torch.tensor([[2.0, 3.0], [7.0, 8.0]]))
    assert torch.equal(pooling.masked_mean_pool(h, torch.zeros(2, 3)), torch.zeros(2, 2))
    assert pooling.masked_mean_pool(h.double(), m.bool()).dtype == torch.float64


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


def test_the_zoo_causal_lm_computes_its_loss_without_transformers_loss_type_warning(capfd):
    """transformers warns "`loss_type=None` ... unrecognized" for BertLMHeadModel (notebook 00's output showed it,
    issue #14): the zoo names the causal-LM loss, and the loss is the one transformers would fall back to."""
    torch.manual_seed(0)
    zoo = anatomy.build_head_zoo(BertModel(tiny_bert_config()), num_labels=3)
    model = zoo["BertLMHeadModel"]
    ids = torch.randint(5, 90, (2, 7))
    with torch.no_grad():
        loss = model(input_ids=ids, labels=ids).loss
    logits = model(input_ids=ids).logits.detach()
    want = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
    assert torch.allclose(loss, want, atol=1e-5)
    assert "loss_type" not in capfd.readouterr().err
