"""The base of every course model: ``self.bert`` + a head, a transformers ``PreTrainedModel`` with a ``BertConfig``.

What a subclass declares, once (the shape of transformers' ``modeling_bert.py``):

* ``hf_class`` — the transformers class it mirrors (``BertForMaskedLM``, ``BertForQuestionAnswering``, ...);
* ``hf_rules`` — the weight mapping, ``(transformers prefix, course prefix)`` pairs (see :mod:`.weights`);
* ``hf_skip`` — transformers keys that are aliases and are not copied; ``hf_may_miss`` — course keys tied to a
  loaded weight (the MLM decoder *is* the word-embedding matrix).

What every course model then has: ``from_hf(hf_model)`` and ``to_hf()`` (equal logits both ways),
``save_pretrained`` → ``from_pretrained`` (identical logits), the tokenizer saved beside the weights when one is
attached as ``model.tokenizer`` (so that ``pipeline(...)`` on the folder uses the real vocabulary) and a model card
(README.md) naming the encoder, the head and the labels.
"""
from __future__ import annotations

import copy
import os

import torch
from torch import nn
from transformers import BertConfig, BertModel
from transformers.models.bert.modeling_bert import BertPreTrainedModel

from .weights import invert_rules, load_mapped_state, rename_keys

__all__ = ["CourseModel", "SavesTokenizerAndCard"]


class SavesTokenizerAndCard:
    """Mixin for a PreTrainedModel: ``save_pretrained`` also writes the tokenizer and ``self.model_card()``."""

    def save_pretrained(self, save_directory, *args, tokenizer=None, **kwargs):
        """transformers' ``save_pretrained``, plus the tokenizer (``tokenizer`` or ``self.tokenizer``) and README.md."""
        result = super().save_pretrained(save_directory, *args, **kwargs)
        tok = tokenizer if tokenizer is not None else getattr(self, "tokenizer", None)
        if tok is not None:
            tok.save_pretrained(save_directory)
        with open(os.path.join(save_directory, "README.md"), "w", encoding="utf-8") as fh:
            fh.write(self.model_card())
        return result


class CourseModel(SavesTokenizerAndCard, BertPreTrainedModel):
    """``self.bert`` (a ``BertModel``) and a head; forward returns a transformers ``ModelOutput``."""

    config_class = BertConfig
    base_model_prefix = "bert"
    hf_class: type | None = None
    hf_rules: tuple = (("bert.", "bert."),)
    hf_skip: tuple = ()
    hf_may_miss: tuple = ()
    add_pooling_layer: bool = True

    def __init__(self, config: BertConfig, encoder: BertModel | None = None):
        super().__init__(config)
        self.bert = encoder if encoder is not None else BertModel(config, add_pooling_layer=self.add_pooling_layer)
        if self.add_pooling_layer and getattr(self.bert, "pooler", None) is None:
            raise ValueError(f"{type(self).__name__} reads the pooled [CLS] vector: the encoder needs its pooler "
                             "(BertModel(config, add_pooling_layer=True))")

    # ------------------------------------------------------------------ conversion
    @classmethod
    def from_hf(cls, hf_model: nn.Module, **kwargs) -> "CourseModel":
        """A course model holding exactly the weights of the transformers model ``hf_model`` (on its device)."""
        model = cls(BertConfig.from_dict(hf_model.config.to_dict()), **kwargs)
        load_mapped_state(model, hf_model.state_dict(), cls.hf_rules, cls.hf_skip, cls.hf_may_miss)
        model.tie_course_weights()
        return model.to(next(hf_model.parameters()).device)

    def to_hf(self) -> nn.Module:
        """The same weights in the transformers class this model mirrors (``hf_class``), on the same device.

        Raises TypeError when the head was replaced by one whose weights the transformers class cannot hold.
        """
        if self.hf_class is None:
            raise TypeError(f"{type(self).__name__} mirrors no transformers class")
        config = copy.deepcopy(self.config)
        hf = self.hf_class(config)
        state = {k: v for k, v in self.state_dict().items() if not k.startswith(self.hf_may_miss or ("\0",))}
        try:
            mapped = rename_keys(state, invert_rules(self.hf_rules))
        except KeyError as exc:
            raise TypeError(f"{type(self).__name__} cannot become a {self.hf_class.__name__}: {exc}") from None
        missing, unexpected = hf.load_state_dict(mapped, strict=False)
        tied = set(getattr(hf, "all_tied_weights_keys", None) or {})
        missing = [k for k in missing if k not in tied and not (self.hf_skip and k.startswith(self.hf_skip))]
        if missing or unexpected:
            raise TypeError(f"{type(self).__name__} cannot become a {self.hf_class.__name__}: missing {missing[:8]}, "
                            f"unexpected {unexpected[:8]}")
        if hasattr(hf, "tie_weights"):
            hf.tie_weights()
        return hf.to(next(self.parameters()).device).train(self.training)

    def tie_course_weights(self) -> None:
        """Re-tie what the model shares after a load (subclasses with tied weights override)."""

    # ------------------------------------------------------------------ saving
    def model_card(self) -> str:
        """The README.md written beside the weights."""
        labels = getattr(self.config, "id2label", None) or {}
        label_line = ", ".join(str(labels[k]) for k in sorted(labels, key=int)) if labels else "(none)"
        source = getattr(self, "mtbert_source", None) or getattr(self.config, "_name_or_path", "") or "unknown"
        mirrors = self.hf_class.__name__ if self.hf_class is not None else "none"
        return (f"# {type(self).__name__} (mtbert course)\n\n"
                f"- encoder: {source} ({self.config.num_hidden_layers} layers, hidden {self.config.hidden_size})\n"
                f"- head: {type(self).__name__}, transformers equivalent: {mirrors} (convert with `to_hf()`)\n"
                f"- labels: {label_line}\n\n"
                "Reload with `from_pretrained(folder)` of the same class after `import mtbert_ref`.\n")

