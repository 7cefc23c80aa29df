"""Notebook 00 — anatomy of BERT and the head zoo: the notebook's helpers and the reference answers.

* :func:`count_parameters` — number of (trainable) parameters, shared (tied) tensors counted once.
* :func:`head_parameters` — parameters a ``BertFor*`` model adds on top of its encoder.
* :func:`build_head_zoo` / :func:`component_parameters` — the notebook's tour of transformers' BERT heads.

Masked mean pooling (the notebook's first exercise) is model maths: :func:`mtbert_ref.modeling.pooling.masked_mean_pool`.
"""
from __future__ import annotations

from collections import OrderedDict

from torch import nn
from transformers import (
    BertForMaskedLM,
    BertForMultipleChoice,
    BertForNextSentencePrediction,
    BertForPreTraining,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertLMHeadModel,
    BertModel,
)

__all__ = [
    "count_parameters",
    "head_parameters",
    "HEAD_CLASSES",
    "build_head_zoo",
    "component_parameters",
]


# --------------------------------------------------------------------------------------------- references
def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters in ``module``; a tensor shared by two layers (tied weights) counts once."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def head_parameters(model: nn.Module) -> int:
    """Parameters of a ``BertFor*`` model that are not part of its encoder ``model.bert`` (tied ones count once)."""
    encoder_ids = {id(p) for p in model.bert.parameters()}
    return sum(p.numel() for p in model.parameters() if id(p) not in encoder_ids)


# --------------------------------------------------------------------------------------------- the head zoo
HEAD_CLASSES = OrderedDict([
    ("BertForPreTraining", BertForPreTraining),
    ("BertForMaskedLM", BertForMaskedLM),
    ("BertForNextSentencePrediction", BertForNextSentencePrediction),
    ("BertLMHeadModel", BertLMHeadModel),
    ("BertForSequenceClassification", BertForSequenceClassification),
    ("BertForMultipleChoice", BertForMultipleChoice),
    ("BertForQuestionAnswering", BertForQuestionAnswering),
    ("BertForTokenClassification", BertForTokenClassification),
])


def build_head_zoo(encoder: BertModel, num_labels: int = 3) -> "OrderedDict[str, nn.Module]":
    """Every transformers BERT head class, built on a copy of ``encoder``'s weights (heads start random).

    ``num_labels`` is used by the classification heads (QA always has 2 outputs: start and end).
    The copy is made with ``load_state_dict``, so the encoder layers of every model equal ``encoder``; the pooler is
    copied where the class has one (the MLM and causal-LM classes have none).
    """
    zoo: "OrderedDict[str, nn.Module]" = OrderedDict()
    state = encoder.state_dict()
    for name, cls in HEAD_CLASSES.items():
        cfg = encoder.config.__class__.from_dict(encoder.config.to_dict())
        cfg.num_labels = 2 if cls is BertForQuestionAnswering else num_labels  # QA: start and end
        if cls is BertLMHeadModel:
            cfg.is_decoder = True
        model = cls(cfg)
        if cls is BertLMHeadModel:
            # transformers finds no loss type in the name "BertLMHeadModel" and warns "loss_type=None ... unrecognized"
            # before falling back to the causal-LM loss; name that loss explicitly (same numbers, no warning).
            model.loss_type = "ForCausalLM"
        own = model.bert.state_dict()
        model.bert.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
        model.to(next(encoder.parameters()).device).eval()
        zoo[name] = model
    return zoo


def component_parameters(model: nn.Module) -> "OrderedDict[str, int]":
    """Parameters per component: embeddings, each encoder layer, pooler, head (tied weights counted once)."""
    bert = model.bert if hasattr(model, "bert") else model
    parts: "OrderedDict[str, int]" = OrderedDict()
    seen: set[int] = set()

    def _count(mod: nn.Module) -> int:
        n = 0
        for p in mod.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                n += p.numel()
        return n

    parts["embeddings"] = _count(bert.embeddings)
    for i, layer in enumerate(bert.encoder.layer):
        parts[f"layer {i}"] = _count(layer)
    if getattr(bert, "pooler", None) is not None:
        parts["pooler"] = _count(bert.pooler)
    if model is not bert:
        parts["head"] = _count(model)
    return parts
