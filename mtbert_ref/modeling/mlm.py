"""Masked language modelling (notebook 01) — the modeling part, in the shape of transformers' ``BertForMaskedLM``.

* :class:`MLMTransform`, :class:`MLMHead` — the head (decoder tied to the word embeddings);
* :func:`mask_tokens` — BERT's 15% / 80-10-10 corruption; :func:`mlm_loss` — cross-entropy over labelled positions;
* :class:`MtBertForMaskedLM` — ``BertModel`` (no pooler) + :class:`MLMHead`, a :class:`~.base.CourseModel` mirroring
  transformers' ``BertForMaskedLM`` (``from_hf`` / ``to_hf`` through :data:`HF_RULES`, ``save_pretrained`` /
  ``from_pretrained`` with the decoder still tied).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertForMaskedLM, BertModel
from transformers.activations import ACT2FN
from transformers.modeling_outputs import MaskedLMOutput

from .base import CourseModel
from .losses import IGNORE_INDEX

__all__ = ["IGNORE_INDEX", "MLMTransform", "MLMHead", "mask_tokens", "mlm_loss", "MtBertForMaskedLM", "HF_RULES", "HF_SKIP"]


# ============================================================================================== references
class MLMTransform(nn.Module):
    """The head's own little layer: ``LayerNorm(act(dense(h)))``, hidden → hidden.

    BERT's hidden states at the last layer are shaped for the next (non-existent) layer; this transform re-shapes
    them into the space of the word embeddings before they are compared with every word of the vocabulary.
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = ACT2FN[config.hidden_act] if isinstance(config.hidden_act, str) else config.hidden_act
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.act(self.dense(hidden_states)))


class MLMHead(nn.Module):
    """BERT's masked-language-model head, with the decoder tied to the input word embeddings.

    Submodules and parameters (the names match transformers' ``cls.predictions``; see :data:`HF_RULES`):

    * ``transform``: :class:`MLMTransform` (``dense`` hidden→hidden, activation ``config.hidden_act``,
      ``LayerNorm`` with ``config.layer_norm_eps``);
    * ``decoder``: ``nn.Linear(hidden, vocab, bias=False)`` whose ``weight`` **is** ``word_embeddings.weight`` —
      the same ``nn.Parameter`` object, so one matrix is both the input lookup table and the output projection
      (it saves ``vocab * hidden`` parameters — 11.7M for MiniLM — and every gradient reaches both uses);
    * ``bias``: ``nn.Parameter`` of shape ``(vocab,)``, zeros at initialisation: a per-word offset (it learns roughly
      the log-frequency of each word).

    ``forward(sequence_output, masked_positions=None)``: ``sequence_output`` (batch, seq, hidden) → logits
    (batch, seq, vocab). With ``masked_positions`` (bool, (batch, seq)) only the selected positions are projected and
    the result is (n_masked, vocab), rows in row-major order (``sequence_output[masked_positions]``). With 15% of the
    tokens masked this skips ~85% of the vocabulary projection, the most expensive matrix product of the head.
    """

    def __init__(self, config: BertConfig, word_embeddings: nn.Embedding):
        super().__init__()
        if word_embeddings.weight.shape != (config.vocab_size, config.hidden_size):
            raise ValueError(f"word_embeddings.weight has shape {tuple(word_embeddings.weight.shape)}, expected "
                             f"(vocab_size, hidden_size) = ({config.vocab_size}, {config.hidden_size})")
        self.transform = MLMTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.decoder.weight = word_embeddings.weight          # tie: the same Parameter object, not a copy
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, sequence_output: torch.Tensor, masked_positions: torch.Tensor | None = None) -> torch.Tensor:
        if masked_positions is not None:
            sequence_output = sequence_output[masked_positions.bool()]   # (n_masked, hidden)
        return self.decoder(self.transform(sequence_output)) + self.bias


def mask_tokens(input_ids: torch.Tensor, special_tokens_mask: torch.Tensor, mask_token_id: int, vocab_size: int,
                mlm_probability: float = 0.15, generator: torch.Generator | None = None, *,
                mask_replace_prob: float = 0.8, random_replace_prob: float = 0.1
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's input corruption for masked language modelling.

    Arguments:
        input_ids: (batch, seq) int64 token ids. Never modified.
        special_tokens_mask: (batch, seq) bool (or 0/1) — True where a token must never be chosen: ``[CLS]``,
            ``[SEP]`` and padding. (Tokenizers give it with ``return_special_tokens_mask=True``; the course's
            PaddingCollator pads it with 1, so padding is covered.)
        mask_token_id: id of ``[MASK]``; vocab_size: random replacements are drawn uniformly from ``[0, vocab_size)``.
        mlm_probability: chance that an eligible token is chosen (0.15 in BERT).
        generator: a ``torch.Generator`` on ``input_ids.device`` (None → the global generator); the same seed gives
            the same result.
        mask_replace_prob / random_replace_prob: of the chosen tokens, the share replaced by ``[MASK]`` (0.8) and by
            a random token (0.1); the rest (0.1) stay as they are. ``mask_replace_prob=1`` masks every chosen token
            (used for evaluation).

    Returns ``(masked_input_ids, labels)``, both (batch, seq) int64 on ``input_ids.device``: the corrupted ids, and
    the original id at chosen positions with ``-100`` everywhere else.

    Why 80-10-10: at fine-tuning time there is no ``[MASK]`` in the input, so the model must also produce a good
    representation for ordinary tokens; the 10% random and 10% unchanged positions force it to doubt every token.
    """
    device = input_ids.device
    shape = input_ids.shape
    eligible = ~special_tokens_mask.to(device=device, dtype=torch.bool)

    def draw() -> torch.Tensor:
        return torch.rand(shape, generator=generator, device=device)

    chosen = (draw() < mlm_probability) & eligible
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    u = draw()                                         # one uniform number decides the fate of each chosen token
    to_mask = chosen & (u < mask_replace_prob)
    to_random = chosen & (u >= mask_replace_prob) & (u < mask_replace_prob + random_replace_prob)
    random_ids = torch.randint(vocab_size, shape, generator=generator, device=device, dtype=input_ids.dtype)
    masked = torch.where(to_mask, torch.full_like(input_ids, mask_token_id), input_ids)
    masked = torch.where(to_random, random_ids, masked)
    return masked, labels


def mlm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the positions whose label is not -100.

    Two layouts are accepted:

    * full: logits (batch, seq, vocab) and labels (batch, seq) — positions labelled -100 are ignored;
    * masked: logits (n_masked, vocab) from ``MLMHead(..., masked_positions=labels != -100)``. Its rows are the
      labelled positions in row-major order, so the matching targets are ``labels[labels != -100]`` (selected here
      when ``labels`` is (batch, seq); a 1-D ``labels`` of length n_masked is used as it is).

    When no position is labelled the loss is 0 (still connected to the graph) rather than the NaN of an empty mean.
    Returns a 0-dim tensor in the dtype of ``logits``.
    """
    vocab = logits.shape[-1]
    if logits.dim() == labels.dim() + 1 and logits.shape[:-1] == labels.shape:
        flat_logits, flat_labels = logits.reshape(-1, vocab), labels.reshape(-1)       # full layout
    else:
        flat_labels = labels[labels != IGNORE_INDEX] if labels.dim() > 1 else labels   # masked layout
        flat_logits = logits.reshape(-1, vocab)
        if flat_logits.shape[0] != flat_labels.shape[0]:
            raise ValueError(f"logits has {flat_logits.shape[0]} rows but labels select {flat_labels.shape[0]} "
                             "positions; in the masked layout compute the logits with masked_positions=labels != -100")
    keep = flat_labels != IGNORE_INDEX
    if not bool(keep.any()):
        return flat_logits.sum() * 0.0
    return F.cross_entropy(flat_logits[keep], flat_labels[keep])


# ---------------------------------------------------------------------------------------------- the model
# transformers' ``BertForMaskedLM`` → :class:`MtBertForMaskedLM` (see :mod:`.weights`): ``bert.*`` stays ``bert.*``,
# ``cls.predictions.*`` → ``head.*`` (``transform.*``, ``decoder.weight`` = the tied embedding, ``bias``).
# ``cls.predictions.decoder.bias`` is transformers' alias of that bias; a pooler and an NSP classifier (present in a
# ``BertForPreTraining`` checkpoint) are not needed. The tie itself is declared once, as :class:`MtBertForMaskedLM`'s
# ``_tied_weights_keys`` (transformers ties it on construction, in ``from_pretrained`` and in ``tie_weights``);
# ``head.decoder`` may stay unloaded because of it.
HF_RULES = (("bert.", "bert."), ("cls.predictions.", "head."))
HF_SKIP = ("bert.pooler.", "cls.predictions.decoder.bias", "cls.seq_relationship.")


class MtBertForMaskedLM(CourseModel):
    """A BERT encoder (``BertModel`` without pooler) with an MLM head on top — ``BertForMaskedLM`` rebuilt.

    ``MtBertForMaskedLM(config)`` builds random weights; :meth:`from_encoder` puts a head on an existing encoder (the weights
    are shared, not copied); :meth:`from_hf` converts a transformers ``BertForMaskedLM`` and :meth:`to_hf` goes
    back; ``save_pretrained`` / ``from_pretrained`` keep the tie. ``head_cls`` lets the notebook plug in the
    student's own head class (same constructor as :class:`MLMHead`); it and ``only_masked`` are not part of the
    config, so ``from_pretrained`` rebuilds the reference :class:`MLMHead` unless they are passed again.

    ``forward(input_ids, attention_mask=None, token_type_ids=None, labels=None, masked_positions=None)`` returns a
    ``MaskedLMOutput`` (``.loss``, ``.logits``, also usable as a dict). With ``only_masked=True`` (attribute, or the
    ``masked_positions`` argument) the logits are computed only at labelled positions — the fast way to train.
    """

    hf_class = BertForMaskedLM
    hf_rules = HF_RULES
    hf_skip = HF_SKIP
    _tied_weights_keys = {"head.decoder.weight": "bert.embeddings.word_embeddings.weight"}
    hf_may_miss = tuple(_tied_weights_keys)
    add_pooling_layer = False

    def __init__(self, config: BertConfig, encoder: BertModel | None = None, head_cls: type[nn.Module] = MLMHead,
                 only_masked: bool = False):
        if not getattr(config, "tie_word_embeddings", True):
            raise ValueError("MtBertForMaskedLM's decoder is the word-embedding matrix: the config needs tie_word_embeddings=True")
        super().__init__(config, encoder)
        self.head = head_cls(config, self.bert.embeddings.word_embeddings)
        self.only_masked = only_masked
        self.finish_init()   # the encoder and the head keep their own init

    @classmethod
    def from_encoder(cls, encoder: BertModel, head_cls: type[nn.Module] = MLMHead, **kwargs) -> "MtBertForMaskedLM":
        model = cls(encoder.config, encoder=encoder, head_cls=head_cls, **kwargs)
        return model.to(next(encoder.parameters()).device)

    def tie_course_weights(self) -> None:
        """Tie the decoder to the word embeddings (transformers' ``tie_weights`` over ``_tied_weights_keys``)."""
        self.tie_weights()
        if self.head.decoder.weight is not self.bert.embeddings.word_embeddings.weight:
            raise RuntimeError("after loading, the decoder weight is no longer tied to the word embeddings")

    def get_output_embeddings(self) -> nn.Module:
        return self.head.decoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                masked_positions: torch.Tensor | None = None, **unused) -> MaskedLMOutput:
        sequence_output = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                                    token_type_ids=token_type_ids).last_hidden_state
        if masked_positions is None and self.only_masked and labels is not None:
            masked_positions = labels != IGNORE_INDEX
        logits = self.head(sequence_output, masked_positions=masked_positions)
        loss = mlm_loss(logits, labels) if labels is not None else None
        return MaskedLMOutput(loss=loss, logits=logits)
