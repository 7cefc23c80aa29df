"""Next-sentence prediction (notebook 02) — the modeling part, in the shape of transformers'
``BertForNextSentencePrediction``.

BERT was pretrained on two tasks at once. Masked language modelling (notebook 01) teaches it words in context;
next-sentence prediction teaches the ``[CLS]`` vector something about the *relation between two segments*: given
``[CLS] A [SEP] B [SEP]``, is B the text that really followed A (label 0, ``IsNext``) or a segment taken from
another document (label 1, ``NotNext``)? The label convention is transformers'.

* :class:`NSPHead` — pooled ``[CLS]`` vector → ``Linear(hidden, 2)`` (transformers' ``cls.seq_relationship``);
* :func:`nsp_loss` — cross-entropy over the two classes, mean over the batch;
* :class:`MtBertForNextSentencePrediction` — ``BertModel`` (with its pooler) + :class:`NSPHead`, a :class:`~.base.CourseModel` mirroring
  ``BertForNextSentencePrediction`` through :data:`HF_RULES` (``from_hf`` / ``to_hf`` give the same logits and loss).

The sentence pairs themselves (:func:`mtbert_ref.lessons.nsp.make_nsp_pairs`) live in :mod:`mtbert_ref.lessons.nsp`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertForNextSentencePrediction, BertModel
from transformers.modeling_outputs import NextSentencePredictorOutput

from .base import CourseModel

__all__ = ["IS_NEXT", "NOT_NEXT", "NSPHead", "nsp_loss", "HF_RULES", "MtBertForNextSentencePrediction"]

IS_NEXT = 0   # B really followed A (transformers' label 0)
NOT_NEXT = 1  # B comes from another document (label 1)

#: transformers' ``BertForNextSentencePrediction`` → :class:`MtBertForNextSentencePrediction` (see :mod:`.weights`).
HF_RULES = (("bert.", "bert."), ("cls.seq_relationship.", "head.seq_relationship."))


class NSPHead(nn.Module):
    """The NSP classifier: one linear layer from the pooled ``[CLS]`` vector to two logits.

    The pooled vector is ``tanh(W h_[CLS] + b)`` — BertModel's pooler, itself pretrained by NSP in the original
    BERT — so the head adds only ``2 * (hidden + 1)`` parameters. Logit 0 scores IsNext, logit 1 NotNext.
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.seq_relationship = nn.Linear(config.hidden_size, 2)

    def forward(self, pooled_output: torch.Tensor) -> torch.Tensor:
        """pooled_output: (batch, hidden) → logits (batch, 2) in the same dtype."""
        return self.seq_relationship(pooled_output)


def nsp_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the (batch, 2) logits against labels (batch,) in {0 = IsNext, 1 = NotNext}."""
    return F.cross_entropy(logits.view(-1, 2), labels.view(-1))


class MtBertForNextSentencePrediction(CourseModel):
    """``BertModel`` (with its pooler) + :class:`NSPHead` (``self.head``) — our ``BertForNextSentencePrediction``.

    ``MtBertForNextSentencePrediction(config)`` builds random weights, ``MtBertForNextSentencePrediction(encoder=bert)`` puts a head on an existing encoder
    (shared, not copied), ``from_hf`` converts a transformers ``BertForNextSentencePrediction``. ``head_cls`` plugs in
    another head class with :class:`NSPHead`'s constructor. ``forward`` returns a ``NextSentencePredictorOutput``:
    ``logits`` (batch, 2) and, when ``labels`` is given, ``loss``.
    """

    hf_class = BertForNextSentencePrediction
    hf_rules = HF_RULES

    def __init__(self, config: BertConfig | None = None, encoder: BertModel | None = None,
                 head_cls: type[nn.Module] = NSPHead):
        super().__init__(config, encoder=encoder)
        self.head = head_cls(self.config)
        self.finish_init()   # the encoder and the head keep their own init

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None,
                **_ignored) -> NextSentencePredictorOutput:
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        logits = self.head(out.pooler_output)
        loss = nsp_loss(logits, labels) if labels is not None else None
        return NextSentencePredictorOutput(loss=loss, logits=logits)
