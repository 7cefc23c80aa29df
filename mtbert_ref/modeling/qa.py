"""Notebook 03 — the extractive-QA model: the span head, its loss, the model and span decoding.

Extractive QA (SQuAD style) answers a question with a *span* of a given context. BERT reads
``[CLS] question [SEP] context [SEP]`` and a head scores every token twice: how likely it is to be the first token of
the answer (start logit) and the last one (end logit).

* :class:`QAHead` — ``Linear(hidden, 2)`` giving start/end logits of shape (batch, seq) and the loss that
  ``BertForQuestionAnswering`` computes (:func:`qa_loss`: mean of two cross-entropies; positions outside the
  sequence are ignored).
* :class:`MtBertForQuestionAnswering` puts an encoder (``BertModel``, as ``self.bert``) and the head together, a
  :class:`~.base.CourseModel`; its state dict maps one-to-one onto ``BertForQuestionAnswering`` (``bert.*`` stays,
  ``qa_outputs.*`` → ``head.qa_outputs.*``): ``from_hf`` / ``to_hf`` (:func:`qa_model_from_hf`), ``save_pretrained``.
* :func:`decode_spans` — from the logits of all windows of an example, the best valid span (start ≤ end, not too
  long, inside the context, n-best candidates by start + end logit), mapped back to the characters of the context.

The windows themselves (:func:`mtbert_ref.lessons.qa.prepare_features`) and the SQuAD metric live in
:mod:`mtbert_ref.lessons.qa`.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F
from transformers import BertConfig, BertForQuestionAnswering, BertModel
from transformers.modeling_outputs import QuestionAnsweringModelOutput

from .base import CourseModel

__all__ = ["QAHead", "qa_loss", "MtBertForQuestionAnswering", "HF_QA_RULES", "qa_model_from_hf", "decode_spans"]

#: ``BertForQuestionAnswering`` → :class:`MtBertForQuestionAnswering` (transformers prefix, course prefix).
HF_QA_RULES = (("bert.", "bert."), ("qa_outputs.", "head.qa_outputs."))


# --------------------------------------------------------------------------------------------- the head
def qa_loss(start_logits: torch.Tensor, end_logits: torch.Tensor, start_positions: torch.Tensor,
            end_positions: torch.Tensor) -> torch.Tensor:
    """The loss of ``BertForQuestionAnswering``: mean of the start and the end cross-entropy.

    Positions may come as (batch,) or (batch, 1). A position outside the sequence (e.g. an answer cut away by
    truncation) is clamped to ``seq_len`` and then *ignored* (``ignore_index=seq_len``) — it neither helps nor hurts.
    """
    if start_positions.dim() > 1:
        start_positions = start_positions.squeeze(-1)
    if end_positions.dim() > 1:
        end_positions = end_positions.squeeze(-1)
    ignored = start_logits.size(1)
    start_positions = start_positions.clamp(0, ignored)
    end_positions = end_positions.clamp(0, ignored)
    start_loss = F.cross_entropy(start_logits, start_positions, ignore_index=ignored)
    end_loss = F.cross_entropy(end_logits, end_positions, ignore_index=ignored)
    return (start_loss + end_loss) / 2


class QAHead(nn.Module):
    """Span head: one linear layer maps every token vector to two numbers, its start and its end logit.

    forward(sequence_output (batch, seq, hidden) float, start_positions=None, end_positions=None (batch,) long)
    returns ``(start_logits, end_logits, loss)``: two (batch, seq) tensors and the loss (None without positions).
    The layer is called ``qa_outputs`` as in transformers, so its weights load from ``BertForQuestionAnswering``.
    """

    def __init__(self, hidden_size: int):
        super().__init__()
        self.qa_outputs = nn.Linear(hidden_size, 2)

    def forward(self, sequence_output, start_positions=None, end_positions=None):
        logits = self.qa_outputs(sequence_output)                       # (batch, seq, 2)
        start_logits = logits[..., 0].contiguous()                      # (batch, seq)
        end_logits = logits[..., 1].contiguous()
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = qa_loss(start_logits, end_logits, start_positions, end_positions)
        return start_logits, end_logits, loss


class MtBertForQuestionAnswering(CourseModel):
    """An encoder (``BertModel``; a pooler, if it has one, is not used) with a span head on its last hidden states —
    ``BertForQuestionAnswering`` rebuilt; returns transformers' ``QuestionAnsweringModelOutput``.

    ``MtBertForQuestionAnswering(config)`` builds random weights; :meth:`from_encoder` puts a head on an existing encoder (shared, not
    copied); ``head=`` plugs in the student's span head (same forward as :class:`QAHead`; it is not part of the
    config, so ``from_pretrained`` rebuilds the reference :class:`QAHead` unless ``head=`` is passed again).
    """

    hf_class = BertForQuestionAnswering
    hf_rules = HF_QA_RULES
    hf_skip = ("bert.pooler.",)          # an encoder's pooler (load_encoder's has one) is no part of the QA model
    add_pooling_layer = False

    def __init__(self, config: BertConfig, encoder: BertModel | None = None, head: nn.Module | None = None):
        super().__init__(config, encoder)
        self.head = head if head is not None else QAHead(config.hidden_size)
        self.finish_init()   # the encoder and the head keep their own init

    @classmethod
    def from_encoder(cls, encoder: BertModel, head: nn.Module | None = None) -> "MtBertForQuestionAnswering":
        return cls(encoder.config, encoder=encoder, head=head).to(next(encoder.parameters()).device)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, start_positions=None, end_positions=None,
                **_ignored):
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids).last_hidden_state
        start_logits, end_logits, loss = self.head(hidden, start_positions, end_positions)
        return QuestionAnsweringModelOutput(loss=loss, start_logits=start_logits, end_logits=end_logits)


def qa_model_from_hf(hf_model: BertForQuestionAnswering) -> MtBertForQuestionAnswering:
    """A :class:`MtBertForQuestionAnswering` holding exactly the weights of ``hf_model`` (``MtBertForQuestionAnswering.from_hf``), in eval mode."""
    return MtBertForQuestionAnswering.from_hf(hf_model).eval()


# --------------------------------------------------------------------------------------------- decoding
def decode_spans(start_logits, end_logits, features: dict, examples: list[dict], max_answer_length: int = 30,
                 n_best: int = 20) -> dict:
    """The best answer of every example, over all of its windows.

    start_logits, end_logits: (num_windows, seq) tensors (any padding beyond a window's tokens is ignored), in the
    order of ``features`` (the output of :func:`prepare_features`: ``example_index`` and ``offset_mapping`` are used).
    In each window, candidates are the pairs of one of the ``n_best`` highest start logits and one of the ``n_best``
    highest end logits (ties: the lower index first) such that both tokens are context tokens (offset not None),
    start ≤ end and ``end - start + 1 ≤ max_answer_length``; their score is start logit + end logit. The example's
    answer is the highest-scoring candidate of all its windows (a strictly higher score replaces the best so far;
    windows are visited in order), its text ``context[offsets[start][0]:offsets[end][1]]``.

    Returns ``{example id: {"text": str, "score": float}}`` for every example; ``{"text": "", "score": -inf}`` when an
    example has no valid candidate.
    """
    start_logits = torch.as_tensor(start_logits).detach().float().cpu()
    end_logits = torch.as_tensor(end_logits).detach().float().cpu()
    best = {ex["id"]: {"text": "", "score": -math.inf} for ex in examples}
    for w, ex_i in enumerate(features["example_index"]):
        offsets = features["offset_mapping"][w]
        n = len(offsets)
        s_log, e_log = start_logits[w, :n], end_logits[w, :n]
        k = min(n_best, n)
        s_idx = sorted(range(n), key=lambda i: (-float(s_log[i]), i))[:k]
        e_idx = sorted(range(n), key=lambda i: (-float(e_log[i]), i))[:k]
        ex = examples[ex_i]
        for s in s_idx:
            for e in e_idx:
                if offsets[s] is None or offsets[e] is None or e < s or e - s + 1 > max_answer_length:
                    continue
                score = float(s_log[s]) + float(e_log[e])
                if score > best[ex["id"]]["score"]:
                    best[ex["id"]] = {"text": ex["context"][offsets[s][0]:offsets[e][1]], "score": score}
    return best

