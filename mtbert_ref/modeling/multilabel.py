"""Notebook 06 — multi-label classification, the model side: one logit per label, a sigmoid and a BCE per logit.

In multi-class classification every example has exactly one label, and a softmax turns the logits into one
probability distribution. In *multi-label* classification an example may carry any number of labels — a Debian
package can be a command-line program, written in Python, that works with audio — so every label is its own yes/no
question: one logit per label, a sigmoid per logit, a binary cross-entropy per logit.

Reference implementations:

* :class:`MtBertForMultiLabelClassification` — encoder + pooler → dropout → one logit per label; BCE-with-logits loss with an
  optional ``pos_weight``. A :class:`~mtbert_ref.modeling.base.CourseModel` mirroring transformers'
  ``BertForSequenceClassification`` with ``problem_type="multi_label_classification"`` (same parameter names,
  same logits and loss; ``from_hf`` / ``to_hf``; ``save_pretrained`` writes the tokenizer and a model card).
* :func:`multilabel_loss` / :func:`predict_labels` — the loss and the thresholded prediction (exercise 1).

The data, the demos, the thresholds and the metrics are in :mod:`mtbert_ref.lessons.multilabel` and
:mod:`mtbert_ref.lessons.multilabel_metrics`; the find-the-bugs exercise in :mod:`mtbert_ref.lessons.find_the_bugs`.
"""
from __future__ import annotations

import copy
import warnings
from typing import Sequence

import torch
from torch import nn
from transformers import BertConfig, BertForSequenceClassification, BertModel
from transformers.modeling_outputs import SequenceClassifierOutput

from .base import CourseModel
from .init import new_head_init, prior_bias
from .losses import multi_label_loss, problem_type_loss
from .pooling import pool

__all__ = ["MtBertForMultiLabelClassification", "multilabel_loss", "predict_labels", "MULTILABEL_POOLINGS"]

PROBLEM_TYPE = "multi_label_classification"
#: what the classifier reads: "cls" = the pooled [CLS] vector (transformers' choice), "mean" = the masked mean
MULTILABEL_POOLINGS = {"cls": "pooler", "mean": "mean"}


class MtBertForMultiLabelClassification(CourseModel):
    """BERT encoder + pooler, dropout, one linear logit per label; binary cross-entropy on the logits.

    ``MtBertForMultiLabelClassification(encoder, num_labels=None, pos_weight=None, dropout=None, pooling="cls",
    labels=None)``:

    * ``encoder``: a ``BertModel`` with its pooler (e.g. ``load_encoder()``; its weights are kept) or a
      ``BertConfig`` to build a random one (the config is copied, never changed).
    * ``num_labels``: the number of labels (default: ``len(labels)``, else the config's ``num_labels``).
    * ``pos_weight``: optional (num_labels,) tensor; label j's positive examples count ``pos_weight[j]`` times in the
      loss — a common fix for rare labels (set it to about n_negative / n_positive, often capped).
    * ``pooling``: "cls" (default; the pooled [CLS] vector, exactly as transformers) or "mean" (the masked mean of
      the last hidden states, notebook 00's ``masked_mean_pool``) — the better choice for encoders trained to produce
      mean-pooled sentence vectors, like the course's all-MiniLM-L6-v2, whose pooler was never trained by
      sentence-transformers.
    * ``labels``: optional label names, stored as ``config.id2label`` (they appear in the saved model card).

    ``config.problem_type`` is ``"multi_label_classification"``; pooling and pos_weight are kept in the config
    (``classifier_pooling``, ``pos_weight``), so ``save_pretrained`` → ``from_pretrained`` restores them. Parameter
    names (``bert.*``, ``classifier.*``) are those of ``BertForSequenceClassification``, so its state dict loads as
    is (:meth:`from_hf`, :meth:`to_hf`).

    forward returns a ``SequenceClassifierOutput``: ``.logits`` (batch, num_labels) are raw scores, never
    probabilities — the loss applies the sigmoid itself (stably), and so does :func:`predict_labels`; ``.loss`` is
    a 0-d tensor when ``labels`` (float multi-hot, (batch, num_labels)) are given, else None.
    """

    hf_class = BertForSequenceClassification
    hf_rules = (("bert.", "bert."), ("classifier.", "classifier."))

    def __init__(self, encoder: BertModel | BertConfig, num_labels: int | None = None,
                 pos_weight: torch.Tensor | None = None, dropout: float | None = None, pooling: str | None = None,
                 labels: Sequence[str] | None = None):
        encoder_model = encoder if isinstance(encoder, BertModel) else None
        config = copy.deepcopy(encoder.config if encoder_model is not None else encoder)
        pooling = pooling if pooling is not None else getattr(config, "classifier_pooling", None) or "cls"
        if pooling not in MULTILABEL_POOLINGS:
            raise ValueError(f"pooling must be 'cls' (pooled [CLS], as transformers) or 'mean', got {pooling!r}")
        if labels is not None:
            labels = [str(name) for name in labels]
            if num_labels is not None and num_labels != len(labels):
                raise ValueError(f"num_labels={num_labels} but {len(labels)} label names were given")
            num_labels = len(labels)
        if num_labels is not None:
            config.num_labels = num_labels
        if labels is not None:
            config.id2label = dict(enumerate(labels))
            config.label2id = {name: i for i, name in enumerate(labels)}
        config.problem_type = PROBLEM_TYPE
        config.classifier_pooling = pooling
        if dropout is not None:
            config.classifier_dropout = dropout
        if pos_weight is not None:
            config.pos_weight = torch.as_tensor(pos_weight, dtype=torch.float32).reshape(-1).tolist()
            if len(config.pos_weight) != config.num_labels:
                raise ValueError(f"pos_weight should have {config.num_labels} entries (one per label), "
                                 f"got {len(config.pos_weight)}")
        elif not hasattr(config, "pos_weight"):
            config.pos_weight = None
        super().__init__(config, encoder=encoder_model)
        if encoder_model is not None and getattr(encoder_model, "mtbert_source", None):
            self.mtbert_source = encoder_model.mtbert_source
        self.pooling = pooling
        self.num_labels = config.num_labels
        p = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(p)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.register_buffer("pos_weight", self._pos_weight_from_config(), persistent=False)
        self.finish_init(keep=())   # transformers' init of the new head (new_head_init, below); the encoder is kept

    def _pos_weight_from_config(self) -> torch.Tensor | None:
        pw = getattr(self.config, "pos_weight", None)
        return None if pw is None else torch.tensor(pw, dtype=torch.float32)

    @torch.no_grad()
    def _init_weights(self, module):
        if module is getattr(self, "classifier", None):
            new_head_init(module, self.config)        # guarded by transformers: a loaded weight is left as it is
        elif module is self:
            if self.pos_weight is not None:           # a non-persistent buffer: rebuilt from the config on load
                self.pos_weight = self._pos_weight_from_config().to(self.pos_weight.device)
        else:
            super()._init_weights(module)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        pooled = pool(out.last_hidden_state, attention_mask, MULTILABEL_POOLINGS[self.pooling], out.pooler_output)
        logits = self.classifier(self.dropout(pooled))
        loss = None
        if labels is not None:
            loss = problem_type_loss(logits, labels, PROBLEM_TYPE, pos_weight=self.pos_weight)
        return SequenceClassifierOutput(loss=loss, logits=logits)

    def to_hf(self) -> nn.Module:
        """The same weights as a ``BertForSequenceClassification`` (multi-label): equal logits and loss.

        Raises TypeError with ``pooling="mean"`` (transformers' class reads the pooled [CLS] vector); warns that
        ``pos_weight`` is dropped (transformers' multi-label loss has none).
        """
        if self.pooling != "cls":
            raise TypeError(f"{type(self).__name__} with pooling={self.pooling!r} cannot become a "
                            f"{self.hf_class.__name__}, which classifies the pooled [CLS] vector (pooling='cls')")
        if self.pos_weight is not None:
            warnings.warn("to_hf: BertForSequenceClassification's multi-label loss has no pos_weight; the converted "
                          "model has the same logits, its loss weighs every label's positives 1", stacklevel=2)
        return super().to_hf()

    def model_card(self) -> str:
        """The base card, plus how this head decides: pooling, one sigmoid per label, pos_weight."""
        pw = "none" if self.pos_weight is None else ", ".join(f"{float(w):g}" for w in self.pos_weight)
        return super().model_card() + (
            f"\nMulti-label: `problem_type={PROBLEM_TYPE!r}`, pooling `{self.pooling}`, pos_weight {pw}. "
            "Each label is its own yes/no answer: predict label j when sigmoid(logits[j]) >= its threshold.\n")

    @torch.no_grad()
    def init_bias_from_prior(self, targets: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
        """Set each label's bias to the log-odds of its training frequency, so that before any training
        sigmoid(logit) starts at the label's base rate instead of 0.5. Returns the frequencies."""
        prior = torch.as_tensor(targets, dtype=torch.float32).mean(0).clamp(eps, 1 - eps)
        if prior.shape != self.classifier.bias.shape:
            raise ValueError(f"targets must be (examples, {self.num_labels}) multi-hot, got {tuple(targets.shape)}")
        self.classifier.bias.copy_(prior_bias(prior, PROBLEM_TYPE, eps).to(self.classifier.bias))
        return prior


def multilabel_loss(logits: torch.Tensor, targets: torch.Tensor, pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean binary cross-entropy over every (example, label) pair, computed from logits.

    logits: (batch, num_labels) float; targets: same shape, 0/1 (any dtype); pos_weight: None or (num_labels,).
    Per entry: ``-(w * y * log σ(z) + (1 - y) * log(1 - σ(z)))`` with ``w = pos_weight[j]`` (1 without it), written
    with log-sigmoid so that it stays exact for huge |z| (``log(1 - σ(z)) = log σ(-z)``). Returns a 0-d tensor
    in the dtype of ``logits`` — the same as ``F.binary_cross_entropy_with_logits(logits, targets, pos_weight=...)``.
    """
    return multi_label_loss(logits, targets, pos_weight)   # the one copy, in modeling/losses.py


def predict_labels(logits: torch.Tensor, threshold: float | torch.Tensor = 0.5) -> torch.Tensor:
    """Which labels to predict: ``σ(logits) >= threshold``, a bool tensor of the shape of ``logits``.

    ``threshold``: one number for every label, or a (num_labels,) tensor with one threshold per label (broadcast over
    the batch). Each label is decided on its own: a row may come out all False or all True.
    """
    probs = torch.sigmoid(logits)
    if isinstance(threshold, torch.Tensor):
        threshold = threshold.to(probs.device, probs.dtype)
    return probs >= threshold
