"""Notebook 04 — multiple choice, the model side: one score per (question, choice) sequence.

A multiple-choice question has one question and ``num_choices`` candidate answers, one of them right. BERT reads each
(question, choice) pair as one sequence ``[CLS] question [SEP] choice [SEP]`` and the model gives each pair a single
score; the scores of one question's choices are compared with a softmax, and the loss is the cross-entropy over the
choices. The trick is in the shapes:

    input_ids (batch, num_choices, length) ──view──▶ (batch·num_choices, length)
        ──encoder──▶ pooled (batch·num_choices, hidden) ──dropout, Linear(hidden, 1)──▶ (batch·num_choices, 1)
        ──view──▶ logits (batch, num_choices)

The encoder never knows that sequences belong together: only the final ``view`` groups the scores back by question,
so the flatten and the un-flatten must use the same (row-major) order. Because the head has *one* output per pair, the
same head serves any number of choices.

Reference implementations:

* :class:`MultipleChoiceHead` — dropout + ``nn.Linear(hidden, 1)`` (transformers' ``dropout`` and ``classifier``).
* :func:`multiple_choice_logits` — the flatten → encode → pool → head → reshape pipeline above.
* :func:`multiple_choice_loss` — cross-entropy over the choices.
* :class:`MtBertForMultipleChoice` — encoder + head + loss, a :class:`~.base.CourseModel` equal to
  ``BertForMultipleChoice`` (``from_hf`` / ``to_hf`` map the state dict through :data:`HF_RULES`).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertForMultipleChoice, BertModel
from transformers.modeling_outputs import MultipleChoiceModelOutput

from .base import CourseModel
from .init import new_head_init

__all__ = [
    "MultipleChoiceHead",
    "multiple_choice_logits",
    "multiple_choice_loss",
    "MtBertForMultipleChoice",
    "HF_RULES",
]

#: transformers' ``BertForMultipleChoice`` keys → ours (``bert.*`` unchanged, ``classifier.*`` → ``head.classifier.*``).
HF_RULES = (("bert.", "bert."), ("classifier.", "head.classifier."))


class MultipleChoiceHead(nn.Module):
    """Dropout, then ``nn.Linear(hidden_size, 1)``: one score per (question, choice) sequence.

    ``forward(pooled_output)``: (n, hidden) → (n, 1). The parameter names ``classifier.weight`` (1, hidden) and
    ``classifier.bias`` (1,) are transformers'.
    """

    def __init__(self, hidden_size: int, dropout_prob: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout_prob)
        self.classifier = nn.Linear(hidden_size, 1)

    def forward(self, pooled_output: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(pooled_output))


def multiple_choice_logits(bert: BertModel, head: nn.Module, input_ids: torch.Tensor,
                           attention_mask: torch.Tensor | None = None,
                           token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
    """Scores of every choice: (batch, num_choices, length) inputs → (batch, num_choices) logits.

    The three inputs (any of the last two may be None) are flattened to (batch·num_choices, length) with ``view``, so
    that row ``b·num_choices + c`` is choice c of question b; the encoder's ``pooler_output`` (the [CLS] vector after
    the pooler's dense + tanh) goes through ``head`` → (batch·num_choices, 1), and ``view(batch, num_choices)`` puts
    each score back with its question. Raw scores: no softmax (the loss applies it).
    """
    batch, num_choices, length = input_ids.shape

    def flat(x):
        return None if x is None else x.reshape(batch * num_choices, length)

    out = bert(input_ids=flat(input_ids), attention_mask=flat(attention_mask), token_type_ids=flat(token_type_ids),
               return_dict=True)
    scores = head(out.pooler_output)                        # (batch·num_choices, 1)
    return scores.view(batch, num_choices)


def multiple_choice_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the choices: logits (batch, num_choices), labels (batch,) int → mean over the batch."""
    return F.cross_entropy(logits, labels.long())


class MtBertForMultipleChoice(CourseModel):
    """Encoder + :class:`MultipleChoiceHead` + :func:`multiple_choice_loss` — ``BertForMultipleChoice`` rebuilt.

    ``MtBertForMultipleChoice(config)`` (or :meth:`from_config`) builds random weights, :meth:`from_encoder` puts a
    new head on an existing encoder (with its pooler; shared, not copied), ``from_hf`` / ``to_hf`` convert from and
    to ``BertForMultipleChoice``. ``logits_fn`` (default :func:`multiple_choice_logits`) may be replaced by the
    student's function with the same signature; it is not part of the config, so ``from_pretrained`` uses the
    reference unless ``logits_fn=`` is passed again. ``forward`` returns a ``MultipleChoiceModelOutput`` (``.loss``
    when ``labels`` are given, ``.logits`` of shape (batch, num_choices)).
    """

    hf_class = BertForMultipleChoice
    hf_rules = HF_RULES

    def __init__(self, config: BertConfig, encoder: BertModel | None = None, dropout_prob: float | None = None,
                 logits_fn: Callable | None = None):
        super().__init__(config, encoder)                       # raises ValueError for an encoder without pooler
        if dropout_prob is None:
            dropout_prob = config.classifier_dropout if config.classifier_dropout is not None \
                else config.hidden_dropout_prob
        self.head = MultipleChoiceHead(config.hidden_size, dropout_prob)
        if self.bert.embeddings.word_embeddings.weight.device.type != "meta":
            new_head_init(self.head, config)                    # transformers' init of a new head, kept
        self.finish_init()
        self.logits_fn = logits_fn or multiple_choice_logits

    @classmethod
    def from_config(cls, config: BertConfig, **kwargs) -> "MtBertForMultipleChoice":
        return cls(config, **kwargs)

    @classmethod
    def from_encoder(cls, encoder: BertModel, **kwargs) -> "MtBertForMultipleChoice":
        return cls(encoder.config, encoder=encoder, **kwargs).to(next(encoder.parameters()).device)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, **_ignored):
        if input_ids.dim() != 3:
            raise ValueError(f"input_ids should have shape (batch, num_choices, seq_len), got {tuple(input_ids.shape)}; "
                             "a (batch, seq_len) batch has no choices: stack each question's choices in dimension 1")
        logits = self.logits_fn(self.bert, self.head, input_ids, attention_mask, token_type_ids)
        loss = None if labels is None else multiple_choice_loss(logits, labels)
        return MultipleChoiceModelOutput(loss=loss, logits=logits)
