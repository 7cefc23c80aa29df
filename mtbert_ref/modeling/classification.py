"""Notebook 05 — the sequence classifier: the head, the loss of each problem type, the model.

A sequence classifier is the encoder, its pooled output (the [CLS] vector passed through the pooler's dense + tanh),
dropout and one linear layer. What the logits mean depends on the *problem type*, which transformers infers from the
labels exactly as :func:`mtbert_ref.modeling.losses.infer_problem_type` does:

* ``num_labels == 1`` → **regression**: one real number per text, mean squared error;
* integer labels (``torch.long``/``torch.int``) → **single-label classification**: softmax over the classes,
  cross-entropy (optionally weighted per class, for imbalanced data);
* anything else (float multi-hot labels) → **multi-label classification**: an independent sigmoid per class,
  binary cross-entropy — the subject of notebook 06.

An explicit ``problem_type`` always wins over the inference.

* :class:`ClassificationHead` — dropout + ``nn.Linear(hidden, num_labels)`` on the pooled output (exercise 1).
* :func:`classification_loss` — the loss for each problem type, class weights (exercise 2); the problem-type switch
  is the package's one copy, :func:`mtbert_ref.modeling.losses.problem_type_loss`.
* :class:`MtBertForSequenceClassification` — encoder + head + loss as a :class:`~mtbert_ref.modeling.base.CourseModel`
  mirroring ``BertForSequenceClassification`` (``from_hf`` / ``to_hf`` with equal logits, ``save_pretrained`` with
  the tokenizer and a model card naming the labels).

The data, the training step, the metrics and the baselines of the notebook are in
:mod:`mtbert_ref.lessons.classification`; its checkers in :mod:`mtbert_ref.grading.classification`.
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch
from torch import nn
from transformers import BertConfig, BertForSequenceClassification, BertModel
from transformers.modeling_outputs import SequenceClassifierOutput

from .base import CourseModel
from .init import new_head_init
from .losses import problem_type_loss

__all__ = ["ClassificationHead", "classification_loss", "MtBertForSequenceClassification"]


# --------------------------------------------------------------------------------------------- the head
class ClassificationHead(nn.Module):
    """Dropout, then a linear layer from the pooled vector to one logit per label.

    ``forward(pooled_output)``: (batch, hidden) float → logits (batch, num_labels), same dtype. No activation:
    the loss (softmax / sigmoid / nothing) belongs to the problem type, not to the head. Parameter names
    ``classifier.weight`` (num_labels, hidden) and ``classifier.bias`` (num_labels,) match transformers'.
    """

    def __init__(self, hidden_size: int, num_labels: int, dropout_prob: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout_prob)
        self.classifier = nn.Linear(hidden_size, num_labels)

    def forward(self, pooled_output: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(pooled_output))


# --------------------------------------------------------------------------------------------- the loss
def classification_loss(logits: torch.Tensor, labels: torch.Tensor, problem_type: str | None = None,
                        class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """The loss of a sequence classifier; ``num_labels`` is ``logits.shape[-1]``.

    logits: (batch, num_labels) float. labels: (batch,) int64 or int32 for single-label; (batch,) or (batch, 1) float for
    regression with one output, (batch, num_labels) float for several outputs; (batch, num_labels) float 0/1 for
    multi-label. class_weights: (num_labels,) float or None — single-label only: ``F.cross_entropy(weight=...)``,
    whose mean divides by the *sum of the weights of the targets*, not by the batch size. Returns a 0-dim tensor.
    The problem-type switch itself is the package's one copy, :func:`mtbert_ref.modeling.losses.problem_type_loss`.
    """
    return problem_type_loss(logits, labels, problem_type, class_weights=class_weights)


# --------------------------------------------------------------------------------------------- the model
class MtBertForSequenceClassification(CourseModel):
    """Encoder + :class:`ClassificationHead` + :func:`classification_loss` — ``BertForSequenceClassification`` rebuilt.

    The config holds what transformers' config holds: ``num_labels``, ``id2label`` / ``label2id``, ``problem_type``
    (None: inferred from the labels at each call; unlike transformers it is not written back into the config) and
    ``classifier_dropout`` (None: ``hidden_dropout_prob``). ``head`` and ``loss_fn`` may be replaced (the notebook
    plugs in the student's: same constructor as :class:`ClassificationHead`, same signature as
    :func:`classification_loss`); ``class_weights`` (num_labels,) is passed to the loss. ``forward`` returns a
    ``SequenceClassifierOutput`` (``.loss`` only when ``labels`` are given, ``.logits``).

    Build it with :meth:`from_encoder` (a pretrained ``BertModel``), :meth:`from_config` (random) or
    :meth:`from_hf` (the weights of a ``BertForSequenceClassification``; the only renaming is
    ``classifier.*`` → ``head.classifier.*``).
    """

    hf_class = BertForSequenceClassification
    hf_rules = (("bert.", "bert."), ("classifier.", "head.classifier."))   # transformers prefix → ours

    def __init__(self, config: BertConfig, encoder: BertModel | None = None, *, head: nn.Module | None = None,
                 loss_fn=None, class_weights: torch.Tensor | None = None):
        super().__init__(config, encoder)
        self.num_labels = config.num_labels
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.head = head if head is not None else ClassificationHead(config.hidden_size, config.num_labels, dropout)
        self.loss_fn = loss_fn or classification_loss
        self.register_buffer("class_weights", None if class_weights is None else torch.as_tensor(class_weights).float(),
                             persistent=False)
        # a given (pretrained) encoder keeps its weights; the new head is initialised by _init_weights
        self.finish_init(keep=(encoder,) if encoder is not None else ())

    @torch.no_grad()
    def _init_weights(self, module):
        head = getattr(self, "head", None)
        if module is getattr(head, "classifier", None) and isinstance(module, nn.Linear):
            new_head_init(module, self.config)   # transformers' rule for a new head; a loaded weight is left as it is
        elif head is not None and any(module is m for m in head.modules()):
            pass                                 # a plugged-in head's other layers keep their own initialisation
        else:
            super()._init_weights(module)

    @property
    def problem_type(self) -> str | None:
        """``config.problem_type``: None means inferred from the labels at each call."""
        return self.config.problem_type

    @staticmethod
    def classifier_config(config: BertConfig, num_labels: int | None = None, problem_type: str | None = None,
                          labels: Sequence[str] | None = None, dropout_prob: float | None = None) -> BertConfig:
        """A copy of the encoder's ``config`` with the classifier's fields set (``labels``: the names of the classes,
        giving ``id2label`` / ``label2id`` and, when ``num_labels`` is None, their number)."""
        config = copy.deepcopy(config)
        if num_labels is None and labels is not None:
            num_labels = len(labels)
        if num_labels is not None:
            config.num_labels = num_labels
        if labels is not None:
            if len(labels) != config.num_labels:
                raise ValueError(f"{len(labels)} label names for num_labels={config.num_labels}")
            config.id2label = {i: str(name) for i, name in enumerate(labels)}
            config.label2id = {str(name): i for i, name in enumerate(labels)}
        if problem_type is not None:
            config.problem_type = problem_type
        if dropout_prob is not None:
            config.classifier_dropout = dropout_prob
        return config

    @classmethod
    def from_encoder(cls, encoder: BertModel, num_labels: int | None = None, problem_type: str | None = None,
                     labels: Sequence[str] | None = None, dropout_prob: float | None = None,
                     **kwargs) -> "MtBertForSequenceClassification":
        """A classifier on ``encoder`` (a ``BertModel`` with its pooler; its weights are used, not copied) and a new
        head; ``kwargs``: ``head``, ``loss_fn``, ``class_weights``."""
        config = cls.classifier_config(encoder.config, num_labels, problem_type, labels, dropout_prob)
        model = cls(config, encoder, **kwargs)
        if getattr(encoder, "mtbert_source", None):
            model.mtbert_source = encoder.mtbert_source
        return model

    @classmethod
    def from_config(cls, config: BertConfig, num_labels: int | None = None, problem_type: str | None = None,
                    labels: Sequence[str] | None = None, dropout_prob: float | None = None,
                    **kwargs) -> "MtBertForSequenceClassification":
        """A randomly initialised classifier (``num_labels`` from the config unless given)."""
        config = cls.classifier_config(config, num_labels, problem_type, labels, dropout_prob)
        return cls(config, **kwargs)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        kwargs.pop("return_dict", None)
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                        return_dict=True, **kwargs)
        logits = self.head(out.pooler_output)
        loss = None
        if labels is not None:
            if self.class_weights is not None:
                loss = self.loss_fn(logits, labels, self.problem_type, self.class_weights)
            else:
                loss = self.loss_fn(logits, labels, self.problem_type)
        return SequenceClassifierOutput(loss=loss, logits=logits)
