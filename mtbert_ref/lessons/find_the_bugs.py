"""Notebook 06 — the find-the-bugs exercise: a broken multi-label tagger and its repaired version.

* :data:`BUGGY_TAGGER_SOURCE` — the source the notebook prints: a ``DebtagsTagger`` with seven bugs.
* :class:`DebtagsTagger` — what it meant to be (the reference answer of exercise 3, checked by
  :func:`mtbert_ref.grading.multilabel.check_fixed_model`). Deliberately a plain ``nn.Module`` returning a dict,
  as the student writes it; the course's full model is
  :class:`mtbert_ref.modeling.multilabel.MtBertForMultiLabelClassification`.
"""
from __future__ import annotations

from torch import nn
from transformers import BertConfig, BertModel

__all__ = ["BUGGY_TAGGER_SOURCE", "DebtagsTagger"]


BUGGY_TAGGER_SOURCE = '''\
import torch
from torch import nn
from transformers import BertModel, BertForMultiLabelClassification


class DebtagsTagger(BertForMultiLabelClassification):
    """Tags a Debian package description with any number of debtags."""

    def __init__(self, config, num_labels):
        super().__init__(config)
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, num_labels)
        self.sigmoid = nn.functional.sigmoid()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        sequence_output, all_layers = self.bert(input_ids, attention_mask=attention_mask,
                                                token_type_ids=token_type_ids, output_hidden_states=True)
        cls_vector = all_layers[0][:, 0]                     # the [CLS] token's vector
        pooled = self.bert.pooler.activation(self.bert.pooler.dense(cls_vector))
        logits = self.classifier(self.dropout(logits))
        probs = self.sigmoid(logits)
        loss = None
        if labels is not None:
            loss = nn.CrossEntropyLoss()(probs, labels)
        return {"loss": loss, "logits": probs}
'''


class DebtagsTagger(nn.Module):
    """The repaired ``DebtagsTagger``: what the buggy version above meant to be.

    Fixes: (1) transformers has no ``BertForMultiLabelClassification`` — build on ``nn.Module`` and own a
    ``BertModel``; (2) the encoder returns a ``ModelOutput`` object, read its fields by name (unpacking it yields its
    *keys*, or fails); (3) ``all_layers[0]`` is the embedding layer's output, the input of layer 1 — the [CLS] vector
    to pool is the last layer's (``last_hidden_state[:, 0]``, which is what ``pooler_output`` is built from);
    (4) ``logits`` was used before it existed: the classifier reads the pooled vector; (5) ``nn.functional.sigmoid``
    is a function, not a module class — nothing to instantiate, and no sigmoid is needed in forward at all;
    (6) the loss for independent labels is ``BCEWithLogitsLoss`` on the raw logits with float 0/1 targets of shape
    (batch, num_labels) — ``CrossEntropyLoss`` expects one class per example, and feeding it probabilities
    squashes the gradient; (7) ``"logits"`` must be the raw scores.
    """

    def __init__(self, config: BertConfig, num_labels: int):
        super().__init__()
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, num_labels)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        out = self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        logits = self.classifier(self.dropout(out.pooler_output))
        loss = None
        if labels is not None:
            loss = nn.BCEWithLogitsLoss()(logits, labels.to(logits.dtype))
        return {"loss": loss, "logits": logits}

