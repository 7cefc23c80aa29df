"""Notebook 02 — BERT's pretraining objective: masked language modelling + next-sentence prediction together.

``BertForPreTraining`` runs the encoder once and puts two heads on it: the MLM head on every token vector
(notebook 01) and the NSP head on the pooled ``[CLS]`` vector. Its loss is the plain *sum* of two means::

    loss = CE(prediction_logits over positions whose label != -100)  +  CE(seq_relationship_logits, next_sentence_label)

Each mean has its own denominator (the number of masked tokens, the number of pairs), so neither task drowns the
other however many tokens are masked.

Reference implementations:

* :func:`pretraining_loss` — that sum, from the two logits tensors and the two label tensors.
* :class:`BertForPretrainingRef` — ``BertModel`` + :class:`mtbert_ref.modeling.mlm.MLMHead` + :class:`mtbert_ref.nsp.NSPHead`;
  :meth:`BertForPretrainingRef.from_hf` loads a transformers ``BertForPreTraining`` and gives the same logits and
  loss (tests prove it).
* :class:`PretrainingCollator` — batches of NSP pairs masked for MLM (notebook 01's ``mask_tokens``): the joint
  objective's inputs.

Checker: :func:`check_pretraining_loss`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertForPreTraining, BertModel

from .grading.core import GradingError, call_student, clone_inputs, expect_tensor, expect_unchanged, passed
from .data import PaddingCollator
from .modeling.mlm import MLMHead, mask_tokens
from .modeling.weights import load_mapped_state
from .nsp import NSPHead

__all__ = [
    "pretraining_loss",
    "BertForPretrainingRef",
    "HF_PRETRAINING_KEY_MAP",
    "PretrainingCollator",
    "check_pretraining_loss",
]


def pretraining_loss(prediction_logits: torch.Tensor, seq_relationship_logits: torch.Tensor, labels: torch.Tensor,
                     next_sentence_label: torch.Tensor) -> torch.Tensor:
    """BertForPreTraining's loss: masked-LM cross-entropy + NSP cross-entropy (a scalar).

    prediction_logits: (batch, seq, vocab) float; seq_relationship_logits: (batch, 2) float;
    labels: (batch, seq) long, the original token id at masked positions and -100 elsewhere;
    next_sentence_label: (batch,) long, 0 = IsNext, 1 = NotNext.
    """
    vocab = prediction_logits.shape[-1]
    mlm = F.cross_entropy(prediction_logits.reshape(-1, vocab), labels.reshape(-1), ignore_index=-100)
    nsp = F.cross_entropy(seq_relationship_logits.reshape(-1, 2), next_sentence_label.reshape(-1))
    return mlm + nsp


# transformers' name → ours (prefixes). The decoder weight is the word-embedding matrix (tied) and the decoder bias
# is cls.predictions.bias: both are skipped, MLMHead ties them itself.
HF_PRETRAINING_KEY_MAP = {
    "bert.": "bert.",
    "cls.predictions.transform.": "mlm.transform.",
    "cls.seq_relationship.": "nsp.seq_relationship.",
}
_HF_TIED = ("cls.predictions.decoder.", "cls.predictions.bias")


def load_hf_with_tied_mlm(model: nn.Module, hf_model: nn.Module, key_map: dict) -> nn.Module:
    """Load a transformers model that has an MLM head (``cls.predictions``) into a reference ``model`` whose MLM head
    is ``model.mlm``; returns ``model`` on ``hf_model``'s device.

    Only the tied decoder weight (= the word embeddings, loaded with ``bert.*``) and the output bias may be absent
    from the mapped keys; the bias is copied from ``cls.predictions.bias``.
    """
    state = hf_model.state_dict()
    load_mapped_state(model, state, tuple(key_map.items()), skip=_HF_TIED, may_miss=("mlm.decoder", "mlm.bias"))
    with torch.no_grad():
        model.mlm.bias.copy_(state["cls.predictions.bias"])
    return model.to(next(hf_model.parameters()).device)


class BertForPretrainingRef(nn.Module):
    """Our ``BertForPreTraining``: one encoder pass, the MLM head on every token, the NSP head on the pooled vector.

    ``forward`` returns a dict: ``prediction_logits`` (batch, seq, vocab), ``seq_relationship_logits`` (batch, 2) and,
    when both ``labels`` and ``next_sentence_label`` are given, ``loss`` (their sum), ``mlm_loss`` and ``nsp_loss``.
    """

    def __init__(self, config: BertConfig | None = None, encoder: BertModel | None = None):
        super().__init__()
        if encoder is None:
            if config is None:
                raise ValueError("give a BertConfig or a BertModel encoder")
            encoder = BertModel(config, add_pooling_layer=True)
        if getattr(encoder, "pooler", None) is None:
            raise ValueError("the NSP head needs the pooler: BertModel(config, add_pooling_layer=True)")
        self.config = encoder.config
        self.bert = encoder
        self.mlm = MLMHead(self.config, encoder.embeddings.word_embeddings)
        self.nsp = NSPHead(self.config)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, next_sentence_label=None,
                **_ignored) -> dict:
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        prediction_logits = self.mlm(out.last_hidden_state)
        seq_relationship_logits = self.nsp(out.pooler_output)
        result = {"prediction_logits": prediction_logits, "seq_relationship_logits": seq_relationship_logits}
        if labels is not None and next_sentence_label is not None:
            vocab = prediction_logits.shape[-1]
            result["mlm_loss"] = F.cross_entropy(prediction_logits.reshape(-1, vocab), labels.reshape(-1))
            result["nsp_loss"] = F.cross_entropy(seq_relationship_logits.reshape(-1, 2),
                                                 next_sentence_label.reshape(-1))
            result["loss"] = result["mlm_loss"] + result["nsp_loss"]
        return result

    @classmethod
    def from_hf(cls, hf_model: BertForPreTraining) -> "BertForPretrainingRef":
        """A reference model holding exactly the weights of a transformers ``BertForPreTraining``."""
        model = cls(BertConfig.from_dict(hf_model.config.to_dict()))
        return load_hf_with_tied_mlm(model, hf_model, HF_PRETRAINING_KEY_MAP)


class PretrainingCollator:
    """Batches for the joint objective from NSP pairs (:func:`mtbert_ref.nsp.make_nsp_pairs`).

    Pads the pairs (dynamic padding), renames the pair label to ``next_sentence_label`` and corrupts the tokens with
    notebook 01's :func:`mtbert_ref.modeling.mlm.mask_tokens` (15%, 80-10-10; [CLS], [SEP] and padding never chosen),
    which adds the token-level ``labels``. Seeded: the same seed gives the same masks.
    """

    def __init__(self, tokenizer, mlm_probability: float = 0.15, seed: int = 0):
        self.pad = PaddingCollator(pad_token_id=tokenizer.pad_token_id)
        self.special_ids = torch.tensor(sorted(set(tokenizer.all_special_ids)))
        self.mask_token_id = tokenizer.mask_token_id
        self.vocab_size = len(tokenizer)
        self.mlm_probability = mlm_probability
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, pairs) -> dict:
        batch = self.pad([{k: ex[k] for k in ("input_ids", "token_type_ids", "attention_mask")} for ex in pairs])
        batch["next_sentence_label"] = torch.tensor([int(ex["labels"]) for ex in pairs])
        special = torch.isin(batch["input_ids"], self.special_ids) | (batch["attention_mask"] == 0)
        batch["input_ids"], batch["labels"] = mask_tokens(batch["input_ids"], special, self.mask_token_id,
                                                          self.vocab_size, self.mlm_probability,
                                                          generator=self.generator)
        return batch


# --------------------------------------------------------------------------------------------- checker
def _loss_inputs(seed, device, batch=3, seq=6, vocab=11, masked_frac=0.3, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    pred = (torch.randn(batch, seq, vocab, generator=g) * 2).to(dtype)
    nsp = (torch.randn(batch, 2, generator=g) * 2).to(dtype)
    tokens = torch.randint(vocab, (batch, seq), generator=g)
    chosen = torch.rand(batch, seq, generator=g) < masked_frac
    chosen[0, 1] = True  # at least one masked token
    chosen[-1] = False   # one row with nothing masked
    chosen[-1, 2] = batch == 1
    labels = torch.where(chosen, tokens, torch.full_like(tokens, -100))
    nsl = torch.randint(2, (batch,), generator=g)
    nsl[0] = 0
    if batch > 1:
        nsl[1] = 1
    return pred.to(device), nsp.to(device), labels.to(device), nsl.to(device)


def check_pretraining_loss(student_fn, device="cpu", hidden_tests: bool = False) -> None:
    """The student's ``pretraining_loss(prediction_logits, seq_relationship_logits, labels, next_sentence_label)``
    against the reference (= BertForPreTraining's loss)."""
    device = torch.device(device)
    cases = [dict(seed=0)]
    if hidden_tests:
        cases += [dict(seed=1, batch=1, seq=4, vocab=7), dict(seed=2, batch=8, seq=12, vocab=50, masked_frac=0.15),
                  dict(seed=3, batch=4, seq=5, vocab=9, masked_frac=0.9), dict(seed=4, dtype=torch.float64)]
    for case in cases:
        inputs = _loss_inputs(device=device, **case)
        before = clone_inputs(inputs)
        got = call_student(student_fn, *inputs, name="pretraining_loss", reference=pretraining_loss)
        expect_unchanged(before, inputs, "An input of pretraining_loss")
        pred, nsp, labels, nsl = inputs
        want = pretraining_loss(*inputs)
        if isinstance(got, torch.Tensor) and got.numel() == 1 and got.dim() > 0:
            raise GradingError(f"pretraining_loss returned a tensor of shape {tuple(got.shape)}; return a scalar "
                               "(shape ()), e.g. the sum of two `F.cross_entropy(...)` results.")
        if isinstance(got, torch.Tensor) and got.shape == () and not torch.isclose(got.double().cpu(),
                                                                                  want.double().cpu(), atol=1e-5):
            vocab = pred.shape[-1]
            mlm = F.cross_entropy(pred.reshape(-1, vocab).float(), labels.reshape(-1))
            nspl = F.cross_entropy(nsp.float(), nsl)
            g = float(got)
            keep = labels.reshape(-1) != -100
            all_pos = F.cross_entropy(pred.reshape(-1, vocab).float(), labels.reshape(-1).clamp(min=0))
            hints = [
                (float((mlm + nspl) / 2), "you averaged the two losses; BertForPreTraining *adds* them"),
                (float(mlm), "that is the MLM loss alone; add the NSP loss"),
                (float(nspl), "that is the NSP loss alone; add the MLM loss"),
                (float(F.cross_entropy(nsp.float(), 1 - nsl) + mlm), "the NSP labels look inverted (0 = IsNext is "
                 "column 0 of the logits)"),
                (float(all_pos + nspl), "positions labelled -100 were counted; they must be ignored "
                 "(`ignore_index=-100`)"),
                (float(F.cross_entropy(pred.reshape(-1, vocab).float(), labels.reshape(-1), reduction="sum")
                       / labels.numel() + nspl), "the MLM sum was divided by all positions; divide by the number of "
                 "masked positions (the mean over labels != -100)"),
                (float(F.cross_entropy(pred.reshape(-1, vocab).float()[keep], labels.reshape(-1)[keep],
                                       reduction="sum") + F.cross_entropy(nsp.float(), nsl, reduction="sum")),
                 "you summed the per-token / per-pair losses; BertForPreTraining takes means"),
            ]
            for value, hint in hints:
                if abs(g - value) < 1e-4 * max(1.0, abs(value)):
                    raise GradingError(f"pretraining_loss returned {g:.6g}, expected {float(want):.6g}: {hint}.")
        desc = (f"pretraining_loss for prediction_logits {tuple(pred.shape)}, seq_relationship_logits "
                f"{tuple(nsp.shape)} ({pred.dtype})")
        expect_tensor(got, want, desc)
    passed(f"pretraining_loss equals BertForPreTraining's loss on {len(cases)} batch(es) on {device.type}")
