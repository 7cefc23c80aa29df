"""BERT as a causal (left-to-right) language model (notebook 02) — the modeling part, in the shape of
transformers' ``BertLMHeadModel``.

A causal LM predicts token ``t+1`` from tokens ``0..t``. Two things turn BERT's encoder into one — the same two that
``BertLMHeadModel`` (``config.is_decoder=True``) uses:

1. **the attention mask** becomes lower-triangular: query ``i`` may look at key ``j`` only if ``j <= i`` *and*
   ``j`` is a real token (not padding). The attention layers *add* the mask to the scores before the softmax, so it
   is a float tensor of shape (batch, 1, seq, seq): 0.0 where attention is allowed, the most negative number of the
   dtype (``torch.finfo(dtype).min``) where it is not. (Not ``-inf``: a row with nothing allowed — a padding query
   of a left-padded row — would become NaN.)
2. **the labels shift by one**: the logits at position ``t`` are scored against the token at ``t+1``; the last
   position has no next token and gets the ignore index -100.

The output layer is notebook 01's MLM head (:class:`mtbert_ref.modeling.mlm.MLMHead`, decoder tied to the word
embeddings), loaded with the MLM weight mapping (:data:`mtbert_ref.modeling.mlm.HF_RULES`).

Why BERT generates badly: its weights were pretrained *bidirectionally* (every token saw both sides, and the
MLM head only ever predicted masked tokens *in place*), never to continue a text from the left. The causal mask
removes the right-hand context the model relies on, so without causal training the next-token predictions are poor
— and the embedded MiniLM has no trained MLM head at all, so its first predictions are noise.

Reference implementations: :func:`causal_attention_mask`, :func:`shift_labels`, :func:`causal_lm_labels`,
:func:`causal_lm_loss`, :class:`MtBertForCausalLM`. Greedy decoding for the demos: :mod:`mtbert_ref.lessons.causal_lm`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import BertConfig, BertLMHeadModel, BertModel
from transformers.modeling_outputs import CausalLMOutput

from . import mlm
from .base import CourseModel
from .losses import IGNORE_INDEX

__all__ = ["causal_attention_mask", "shift_labels", "causal_lm_labels", "causal_lm_loss", "MtBertForCausalLM"]


def causal_attention_mask(attention_mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The additive decoder mask: (batch, seq) 0/1 padding mask → (batch, 1, seq, seq) float of ``dtype``.

    ``out[b, 0, i, j]`` is 0.0 when key ``j`` is visible from query ``i`` — ``j <= i`` (lower triangle, the
    diagonal included) and ``attention_mask[b, j] == 1`` — and ``torch.finfo(dtype).min`` otherwise. The size-1
    dimension broadcasts over the attention heads. On the device of ``attention_mask``.
    """
    seq = attention_mask.shape[-1]
    lower = torch.ones(seq, seq, dtype=torch.bool, device=attention_mask.device).tril()     # (seq, seq): j <= i
    keys = attention_mask.bool()[:, None, None, :]                                          # (batch, 1, 1, seq)
    allowed = lower[None, None, :, :] & keys                                                # (batch, 1, seq, seq)
    mask = torch.zeros(allowed.shape, dtype=dtype, device=attention_mask.device)
    return mask.masked_fill(~allowed, torch.finfo(dtype).min)


def shift_labels(labels: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Targets for next-token prediction: ``out[:, t] = labels[:, t + 1]``, the last column ``ignore_index``.

    Same shape and dtype as ``labels`` (batch, seq); a new tensor (``labels`` is not changed).
    """
    pad = torch.full_like(labels[..., :1], ignore_index)
    return torch.cat([labels[..., 1:], pad], dim=-1)


def causal_lm_labels(input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """The ``labels`` a causal LM is given: the input ids themselves, -100 at padding (shifted inside the loss)."""
    if attention_mask is None:
        return input_ids.clone()
    return input_ids.masked_fill(attention_mask == 0, IGNORE_INDEX)


def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy, exactly as transformers' ``ForCausalLMLoss``: logits (batch, seq, vocab) at
    position ``t`` against ``labels[:, t + 1]``, positions whose target is -100 ignored, computed in float32."""
    vocab = logits.shape[-1]
    return F.cross_entropy(logits.float().reshape(-1, vocab), shift_labels(labels).reshape(-1),
                           ignore_index=IGNORE_INDEX)


class MtBertForCausalLM(CourseModel):
    """Our ``BertLMHeadModel``: a BERT *encoder* made causal only by the mask it is given, plus the MLM head.

    ``self.bert`` runs with ``is_decoder=False`` (:func:`causal_attention_mask` is all that makes it a decoder);
    ``self.head`` is :class:`~mtbert_ref.modeling.mlm.MLMHead`. ``MtBertForCausalLM(config)`` builds random weights,
    ``MtBertForCausalLM(encoder=bert)`` reuses an encoder, ``from_hf`` converts a ``BertLMHeadModel`` and ``to_hf`` gives
    one back (with ``is_decoder=True``). ``forward(input_ids, attention_mask, labels=None)`` returns a
    ``CausalLMOutput`` with ``logits`` (batch, seq, vocab) and, with ``labels``, ``loss`` (:func:`causal_lm_loss`).
    ``causal=False`` runs the same model with the ordinary bidirectional padding mask — to show what the mask changes.
    """

    hf_class = BertLMHeadModel
    hf_rules = mlm.HF_RULES
    hf_skip = mlm.HF_SKIP
    add_pooling_layer = False
    _tied_weights_keys = mlm.MtBertForMaskedLM._tied_weights_keys     # the decoder is the word-embedding matrix
    hf_may_miss = mlm.MtBertForMaskedLM.hf_may_miss

    def __init__(self, config: BertConfig | None = None, encoder: BertModel | None = None):
        if encoder is None and config is not None:
            config = BertConfig.from_dict(config.to_dict())
            config.is_decoder = False  # the causal mask is all that makes it a decoder
        super().__init__(config if encoder is None else None, encoder=encoder)
        self.head = mlm.MLMHead(self.config, self.bert.embeddings.word_embeddings)
        self.finish_init()   # the encoder and the head keep their own init

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, causal: bool = True,
                **_ignored) -> CausalLMOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        dtype = self.bert.embeddings.word_embeddings.weight.dtype
        mask = causal_attention_mask(attention_mask, dtype) if causal else attention_mask
        out = self.bert(input_ids=input_ids, attention_mask=mask, token_type_ids=token_type_ids)
        logits = self.head(out.last_hidden_state)
        loss = causal_lm_loss(logits, labels) if labels is not None else None
        return CausalLMOutput(loss=loss, logits=logits)

    def hf_config(self):
        """``BertLMHeadModel``'s config says ``is_decoder=True`` (it builds its own causal mask)."""
        config = super().hf_config()
        config.is_decoder = True
        return config
