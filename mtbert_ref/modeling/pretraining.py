"""BERT's pretraining objective (notebook 02): masked language modelling + next-sentence prediction together, in
the shape of transformers' ``BertForPreTraining``.

``BertForPreTraining`` runs the encoder once and puts two heads on it: the MLM head on every token vector
(notebook 01) and the NSP head on the pooled ``[CLS]`` vector. Its loss is the plain *sum* of two means::

    loss = CE(prediction_logits over positions whose label != -100)  +  CE(seq_relationship_logits, next_sentence_label)

Each mean has its own denominator (the number of masked tokens, the number of pairs), so neither task drowns the
other however many tokens are masked.

* :func:`pretraining_loss` — that sum, from the two logits tensors and the two label tensors;
* :class:`MtBertForPreTraining` — ``BertModel`` + :class:`~mtbert_ref.modeling.mlm.MLMHead` (``self.head``) +
  :class:`~mtbert_ref.modeling.nsp.NSPHead` (``self.nsp``), a :class:`~.base.CourseModel` mirroring
  ``BertForPreTraining``. Its weight mapping is the MLM one (:data:`mtbert_ref.modeling.mlm.HF_RULES`) plus the NSP
  classifier (:data:`HF_RULES`).

The batches (NSP pairs masked for MLM) come from :class:`mtbert_ref.lessons.pretraining.PretrainingCollator`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import BertConfig, BertForPreTraining, BertModel
from transformers.models.bert.modeling_bert import BertForPreTrainingOutput

from . import mlm
from .base import CourseModel
from .losses import IGNORE_INDEX
from .nsp import NSPHead, nsp_loss

__all__ = ["pretraining_loss", "PretrainingOutput", "HF_RULES", "HF_SKIP", "MtBertForPreTraining"]


def pretraining_loss(prediction_logits: torch.Tensor, seq_relationship_logits: torch.Tensor, labels: torch.Tensor,
                     next_sentence_label: torch.Tensor) -> torch.Tensor:
    """BertForPreTraining's loss: masked-LM cross-entropy + NSP cross-entropy (a scalar).

    prediction_logits: (batch, seq, vocab) float; seq_relationship_logits: (batch, 2) float;
    labels: (batch, seq) long, the original token id at masked positions and -100 elsewhere;
    next_sentence_label: (batch,) long, 0 = IsNext, 1 = NotNext.
    """
    vocab = prediction_logits.shape[-1]
    mlm_term = F.cross_entropy(prediction_logits.reshape(-1, vocab), labels.reshape(-1), ignore_index=IGNORE_INDEX)
    nsp_term = F.cross_entropy(seq_relationship_logits.reshape(-1, 2), next_sentence_label.reshape(-1))
    return mlm_term + nsp_term


@dataclass
class PretrainingOutput(BertForPreTrainingOutput):
    """transformers' ``BertForPreTrainingOutput`` plus the two terms of the loss (``loss = mlm_loss + nsp_loss``)."""

    mlm_loss: torch.Tensor | None = None
    nsp_loss: torch.Tensor | None = None


#: ``BertForPreTraining`` → :class:`MtBertForPreTraining`: the MLM mapping (``bert.*``, ``cls.predictions.*`` →
#: ``head.*``) plus the NSP classifier. Skipped: only the MLM head's alias (the decoder bias); the pooler and the NSP
#: classifier are loaded here.
HF_RULES = (*mlm.HF_RULES, ("cls.seq_relationship.", "nsp.seq_relationship."))
HF_SKIP = tuple(key for key in mlm.HF_SKIP if key.startswith("cls.predictions."))


class MtBertForPreTraining(CourseModel):
    """Our ``BertForPreTraining``: one encoder pass, the MLM head on every token, the NSP head on the pooled vector.

    ``MtBertForPreTraining(config)`` builds random weights, ``MtBertForPreTraining(encoder=bert)`` reuses an encoder
    (it needs the pooler). ``forward`` returns a :class:`PretrainingOutput`: ``prediction_logits`` (batch, seq, vocab),
    ``seq_relationship_logits`` (batch, 2) and, when both ``labels`` and ``next_sentence_label`` are given, ``loss``
    (their sum), ``mlm_loss`` and ``nsp_loss``.
    """

    hf_class = BertForPreTraining
    hf_rules = HF_RULES
    hf_skip = HF_SKIP
    _tied_weights_keys = mlm.MtBertForMaskedLM._tied_weights_keys     # the decoder is the word-embedding matrix
    hf_may_miss = mlm.MtBertForMaskedLM.hf_may_miss

    def __init__(self, config: BertConfig | None = None, encoder: BertModel | None = None):
        super().__init__(config, encoder=encoder)
        self.head = mlm.MLMHead(self.config, self.bert.embeddings.word_embeddings)
        self.nsp = NSPHead(self.config)
        self.finish_init()   # the encoder and both heads keep their own init

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, next_sentence_label=None,
                **_ignored) -> PretrainingOutput:
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        prediction_logits = self.head(out.last_hidden_state)
        seq_relationship_logits = self.nsp(out.pooler_output)
        result = PretrainingOutput(prediction_logits=prediction_logits,
                                   seq_relationship_logits=seq_relationship_logits)
        if labels is not None and next_sentence_label is not None:
            result["mlm_loss"] = mlm.mlm_loss(prediction_logits, labels)
            result["nsp_loss"] = nsp_loss(seq_relationship_logits, next_sentence_label)
            result["loss"] = result["mlm_loss"] + result["nsp_loss"]
        return result
