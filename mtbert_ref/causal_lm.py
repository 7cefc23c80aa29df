"""Notebook 02 — BERT as a causal (left-to-right) language model, and why it is a poor generator.

A causal LM predicts token ``t+1`` from tokens ``0..t``. Two things turn BERT's encoder into one — the same two that
transformers' ``BertLMHeadModel`` (``config.is_decoder=True``) uses:

1. **the attention mask** becomes lower-triangular: query ``i`` may look at key ``j`` only if ``j <= i`` *and*
   ``j`` is a real token (not padding). The attention layers *add* the mask to the scores before the softmax, so it
   is a float tensor of shape (batch, 1, seq, seq): 0.0 where attention is allowed, the most negative number of the
   dtype (``torch.finfo(dtype).min``) where it is not. (Not ``-inf``: a row with nothing allowed — a padding query
   of a left-padded row — would become NaN.)
2. **the labels shift by one**: the logits at position ``t`` are scored against the token at ``t+1``; the last
   position has no next token and gets the ignore index -100.

The MLM head (notebook 01) is reused as the output layer: it maps a hidden vector to vocabulary logits, with the
decoder tied to the word embeddings.

Why BERT generates badly: its weights were pretrained *bidirectionally* (every token saw both sides, and the
MLM head only ever predicted masked tokens *in place*), never to continue a text from the left. The causal mask
removes the right-hand context the model relies on, so without causal training the next-token predictions are poor
— and the embedded MiniLM has no trained MLM head at all, so its first predictions are noise.

Reference implementations: :func:`causal_attention_mask`, :func:`shift_labels`, :func:`causal_lm_labels`,
:func:`causal_lm_loss`, :class:`BertCausalLM` (``from_hf`` loads a ``BertLMHeadModel``), :func:`greedy_generate`.
Checkers: :func:`check_causal_mask`, :func:`check_shift_labels`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertLMHeadModel, BertModel

from .grading.core import GradingError, call_student, clone_inputs, expect_tensor, expect_unchanged, passed
from .modeling.mlm import MLMHead
from .pretraining import load_hf_with_tied_mlm

__all__ = [
    "causal_attention_mask",
    "shift_labels",
    "causal_lm_labels",
    "causal_lm_loss",
    "BertCausalLM",
    "HF_CAUSAL_KEY_MAP",
    "greedy_generate",
    "check_causal_mask",
    "check_shift_labels",
]


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


def shift_labels(labels: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Targets for next-token prediction: ``out[:, t] = labels[:, t + 1]``, the last column ``ignore_index``.

    Same shape and dtype as ``labels`` (batch, seq); a new tensor (``labels`` is not changed).
    """
    pad = torch.full_like(labels[..., :1], ignore_index)
    return torch.cat([labels[..., 1:], pad], dim=-1)


def causal_lm_labels(input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """The ``labels`` a causal LM is given: the input ids themselves, -100 at padding (shifted inside the loss)."""
    if attention_mask is None:
        return input_ids.clone()
    return input_ids.masked_fill(attention_mask == 0, -100)


def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy, exactly as transformers' ``ForCausalLMLoss``: logits (batch, seq, vocab) at
    position ``t`` against ``labels[:, t + 1]``, positions whose target is -100 ignored, computed in float32."""
    vocab = logits.shape[-1]
    return F.cross_entropy(logits.float().reshape(-1, vocab), shift_labels(labels).reshape(-1), ignore_index=-100)


HF_CAUSAL_KEY_MAP = {"bert.": "bert.", "cls.predictions.transform.": "mlm.transform."}


class BertCausalLM(nn.Module):
    """Our ``BertLMHeadModel``: a BERT *encoder* made causal only by the mask it is given, plus the MLM head.

    ``forward(input_ids, attention_mask, labels=None)`` returns a dict with ``logits`` (batch, seq, vocab) and, with
    ``labels``, ``loss`` (:func:`causal_lm_loss`). ``causal=False`` runs the same model with the ordinary
    bidirectional padding mask — to show what the mask changes.
    """

    def __init__(self, config: BertConfig | None = None, encoder: BertModel | None = None):
        super().__init__()
        if encoder is None:
            if config is None:
                raise ValueError("give a BertConfig or a BertModel encoder")
            cfg = BertConfig.from_dict(config.to_dict())
            cfg.is_decoder = False  # the causal mask below is all that makes it a decoder
            encoder = BertModel(cfg, add_pooling_layer=False)
        self.config = encoder.config
        self.bert = encoder
        self.mlm = MLMHead(self.config, encoder.embeddings.word_embeddings)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, causal: bool = True,
                **_ignored) -> dict:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        dtype = self.bert.embeddings.word_embeddings.weight.dtype
        mask = causal_attention_mask(attention_mask, dtype) if causal else attention_mask
        out = self.bert(input_ids=input_ids, attention_mask=mask, token_type_ids=token_type_ids)
        logits = self.mlm(out.last_hidden_state)
        result = {"logits": logits}
        if labels is not None:
            result["loss"] = causal_lm_loss(logits, labels)
        return result

    @classmethod
    def from_hf(cls, hf_model: BertLMHeadModel) -> "BertCausalLM":
        """A reference model holding exactly the weights of a transformers ``BertLMHeadModel``."""
        model = cls(BertConfig.from_dict(hf_model.config.to_dict()))
        return load_hf_with_tied_mlm(model, hf_model, HF_CAUSAL_KEY_MAP)


@torch.no_grad()
def greedy_generate(model: nn.Module, input_ids: torch.Tensor, max_new_tokens: int = 20,
                    stop_id: int | None = None, banned_ids=()) -> torch.Tensor:
    """Append the arg-max next token ``max_new_tokens`` times (one prompt, shape (1, seq)); stop after ``stop_id``.

    Recomputes the whole prefix at every step (no key/value cache): simple, and fast enough for short demos.
    ``banned_ids`` (e.g. [PAD], [CLS], [MASK]) are never chosen.
    """
    model.eval()
    ids = input_ids
    for _ in range(max_new_tokens):
        out = model(input_ids=ids, attention_mask=torch.ones_like(ids))
        logits = (out["logits"] if isinstance(out, dict) else out.logits)[:, -1, :].clone()
        if len(banned_ids):
            logits[:, list(banned_ids)] = torch.finfo(logits.dtype).min
        nxt = logits.argmax(-1, keepdim=True)
        ids = torch.cat([ids, nxt], dim=-1)
        if stop_id is not None and int(nxt) == stop_id:
            break
    return ids


# --------------------------------------------------------------------------------------------- checkers
def _padding_masks(seed, batch, seq, left=False, mask_dtype=torch.long):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, seq + 1, (batch,), generator=g)
    lengths[0] = seq
    if batch > 1:
        lengths[-1] = max(1, seq // 2)
    pos = torch.arange(seq)[None, :]
    m = (pos >= seq - lengths[:, None]) if left else (pos < lengths[:, None])
    return m.to(mask_dtype)


def check_causal_mask(student_fn, device="cpu", hidden_tests: bool = False) -> None:
    """The student's ``causal_attention_mask(attention_mask, dtype)`` against the reference."""
    device = torch.device(device)
    cases = [dict(seed=0, batch=3, seq=6)]
    if hidden_tests:
        cases += [dict(seed=1, batch=1, seq=1), dict(seed=2, batch=4, seq=9, left=True),
                  dict(seed=3, batch=2, seq=5, mask_dtype=torch.bool),
                  dict(seed=4, batch=3, seq=7, dtype=torch.float16),
                  dict(seed=5, batch=2, seq=8, dtype=torch.bfloat16, mask_dtype=torch.int32),
                  dict(seed=6, batch=2, seq=4, dtype=torch.float64)]
    for case in cases:
        dtype = case.pop("dtype", torch.float32)
        am = _padding_masks(**case).to(device)
        before = clone_inputs(am)
        got = call_student(student_fn, am, dtype, name="causal_attention_mask", reference=causal_attention_mask)
        expect_unchanged(before, am, "The attention_mask given to causal_attention_mask")
        want = causal_attention_mask(am, dtype)
        desc = (f"causal_attention_mask for an attention_mask of shape {tuple(am.shape)} "
                f"({'left' if case.get('left') else 'right'}-padded) and dtype={dtype}")
        if isinstance(got, torch.Tensor):
            if got.dtype == torch.bool:
                raise GradingError(f"{desc} returned a bool tensor; BERT's attention *adds* the mask to its scores, "
                                   "so return floats: 0.0 where allowed, torch.finfo(dtype).min where not.")
            if got.dim() == 3 and got.shape == want.shape[:1] + want.shape[2:]:
                raise GradingError(f"{desc} has shape {tuple(got.shape)}, expected {tuple(want.shape)}: add the "
                                   "size-1 head dimension (`mask[:, None]`) so it broadcasts over the heads.")
            if got.shape == want.shape and got.dtype == want.dtype and not torch.equal(got, want):
                allowed = want == 0
                got_allowed = got == 0
                lower = torch.ones(want.shape[-1], want.shape[-1], dtype=torch.bool, device=device).tril()
                keys = am.bool()[:, None, None, :]
                queries = am.bool()[:, None, :, None]
                if torch.isinf(got).any():
                    raise GradingError(f"{desc} uses -inf; use torch.finfo(dtype).min instead (-inf turns a row "
                                       "with nothing to attend to into NaN after the softmax).")
                if torch.equal(got_allowed, lower.T[None, None] & keys):
                    raise GradingError(f"{desc}: your mask lets each token see the *future* (upper triangle); "
                                       "query i may attend to keys j <= i (use .tril()).")
                if torch.equal(got_allowed, lower[None, None].expand_as(allowed)):
                    raise GradingError(f"{desc}: the lower triangle is right but padding is not masked; combine it "
                                       "with the attention_mask of the *keys* (attention_mask[:, None, None, :]).")
                if torch.equal(got_allowed, lower[None, None] & queries):
                    raise GradingError(f"{desc}: you masked padding *queries* (rows) instead of padding *keys* "
                                       "(columns): use attention_mask[:, None, None, :].")
                if torch.equal(got_allowed, (~lower | torch.eye(lower.shape[0], dtype=torch.bool,
                                                                device=device))[None, None] & keys):
                    raise GradingError(f"{desc}: the triangle is on the wrong side of the diagonal (upper "
                                       "instead of lower).")
                if torch.equal(got_allowed, lower.tril(-1)[None, None] & keys):
                    raise GradingError(f"{desc}: a token must be able to attend to itself — keep the diagonal "
                                       "(tril(), not tril(-1)).")
                if torch.equal(got == 1, allowed) or torch.equal(got == 1, ~allowed):
                    raise GradingError(f"{desc} holds 1/0 values; return an *additive* mask: 0.0 where allowed, "
                                       "torch.finfo(dtype).min where not.")
        expect_tensor(got, want, desc)
    passed(f"causal_attention_mask matches the reference in {len(cases)} case(s) on {device.type}")


def check_shift_labels(student_fn, device="cpu", hidden_tests: bool = False) -> None:
    """The student's ``shift_labels(labels)`` against the reference."""
    device = torch.device(device)
    cases = [dict(seed=0, batch=2, seq=6)]
    if hidden_tests:
        cases += [dict(seed=1, batch=1, seq=1), dict(seed=2, batch=5, seq=11), dict(seed=3, batch=3, seq=2)]
    for case in cases:
        g = torch.Generator().manual_seed(case["seed"])
        labels = torch.randint(5, 500, (case["batch"], case["seq"]), generator=g)
        am = _padding_masks(case["seed"], case["batch"], case["seq"])
        labels = labels.masked_fill(am == 0, -100).to(device)
        before = clone_inputs(labels)
        got = call_student(student_fn, labels, name="shift_labels", reference=shift_labels)
        if not torch.equal(before, labels):
            raise GradingError("shift_labels changed its input `labels` in place; build a new tensor (torch.cat, or "
                               "labels.clone() first).")
        want = shift_labels(labels)
        desc = f"shift_labels on labels of shape {tuple(labels.shape)}"
        if isinstance(got, torch.Tensor) and labels.shape[1] > 1:
            if tuple(got.shape) == (labels.shape[0], labels.shape[1] - 1):
                raise GradingError(f"{desc} returned shape {tuple(got.shape)}: keep the sequence length — fill the "
                                   "last position with -100 instead of dropping it, so the targets line up with "
                                   "every logit.")
            if got.shape == want.shape and not torch.equal(got, want):
                right = torch.cat([torch.full_like(labels[:, :1], -100), labels[:, :-1]], dim=1)
                if torch.equal(got, right):
                    raise GradingError(f"{desc}: the shift goes the wrong way; position t must hold labels[:, t + 1] "
                                       "(the *next* token), not the previous one.")
                if torch.equal(got[:, :-1], want[:, :-1]):
                    raise GradingError(f"{desc}: the last position should be -100 (there is no next token to "
                                       f"predict), got {got[:, -1].tolist()}.")
        expect_tensor(got, want, desc)
    passed(f"shift_labels matches the reference in {len(cases)} case(s) on {device.type}")
