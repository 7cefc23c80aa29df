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

The saved folder is a transformers checkpoint: ``save_pretrained`` writes ``to_hf()``'s weights and config (plus
``mtbert_class``), so ``pipeline("fill-mask", model=folder)``, ``AutoModelFor….from_pretrained(folder)`` and the
course class's ``from_pretrained`` all read it. ``from_pretrained`` of a course class reads any checkpoint of the
transformers class it mirrors (a hub name such as ``bert-base-uncased``, a local folder) through ``from_hf``; only a
model whose head transformers cannot hold (a student's own head with other weights) is saved in the course's own
layout, with ``architectures`` naming the course class.

A subclass builds its head after ``super().__init__`` and ends with :meth:`CourseModel.finish_init`.
"""
from __future__ import annotations

import copy
import inspect
import os
import warnings

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
        self.save_tokenizer_and_card(save_directory, tokenizer)
        return result

    def save_tokenizer_and_card(self, save_directory, tokenizer=None) -> None:
        """Write the tokenizer (``tokenizer`` or ``self.tokenizer``, when there is one) and README.md."""
        tok = tokenizer if tokenizer is not None else getattr(self, "tokenizer", None)
        if tok is not None:
            tok.save_pretrained(save_directory)
        with open(os.path.join(save_directory, "README.md"), "w", encoding="utf-8") as fh:
            fh.write(self.model_card())


class CourseModel(SavesTokenizerAndCard, BertPreTrainedModel):
    """``self.bert`` (a ``BertModel``) and a head; forward returns a transformers ``ModelOutput``."""

    config_class = BertConfig
    base_model_prefix = "bert"
    hf_class: type | None = None
    hf_rules: tuple = (("bert.", "bert."),)
    hf_skip: tuple = ()
    hf_may_miss: tuple = ()
    add_pooling_layer: bool = True

    def __init__(self, config: BertConfig | None = None, encoder: BertModel | None = None):
        if config is None:
            if encoder is None:
                raise ValueError(f"{type(self).__name__} needs a BertConfig or a BertModel encoder")
            config = encoder.config
        super().__init__(config)
        self.bert = encoder if encoder is not None else BertModel(config, add_pooling_layer=self.add_pooling_layer)
        if self.add_pooling_layer and getattr(self.bert, "pooler", None) is None:
            raise ValueError(f"{type(self).__name__} reads the pooled [CLS] vector: the encoder needs its pooler "
                             "(BertModel(config, add_pooling_layer=True))")

    def finish_init(self, keep: "tuple[nn.Module, ...] | None" = None) -> None:
        """End of a subclass's ``__init__``: transformers' ``post_init`` (tying, what ``from_pretrained`` needs).

        The modules in ``keep`` (default ``None``: every child, the encoder and the head) keep the weights they were
        built with; the others are initialised by ``_init_weights``. On the meta device (``from_pretrained``
        building the empty model) nothing is marked: the weights are about to be loaded.
        """
        if self.bert.embeddings.word_embeddings.weight.device.type != "meta":
            for module in tuple(self.children()) if keep is None else keep:
                module.apply(lambda m: setattr(m, "_is_hf_initialized", True))
        self.post_init()

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
        hf = self.hf_class(self.hf_config())
        state = {k: v for k, v in self.state_dict().items() if not k.startswith(self.hf_may_miss or ("\0",))}
        try:
            mapped = rename_keys(state, invert_rules(self.hf_rules))
        except KeyError as exc:
            raise TypeError(f"{type(self).__name__} cannot become a {self.hf_class.__name__}: {exc}") from None
        missing, unexpected = hf.load_state_dict(mapped, strict=False)
        tied = set(getattr(hf, "all_tied_weights_keys", None) or {})
        missing = [k for k in missing if k not in tied and not (self.hf_skip and k.startswith(self.hf_skip))]
        unexpected = [k for k in unexpected if not (self.hf_skip and k.startswith(self.hf_skip))]
        if missing or unexpected:
            raise TypeError(f"{type(self).__name__} cannot become a {self.hf_class.__name__}: missing {missing[:8]}, "
                            f"unexpected {unexpected[:8]}")
        if hasattr(hf, "tie_weights"):
            hf.tie_weights()
        return hf.to(next(self.parameters()).device).train(self.training)

    def hf_config(self):
        """The config of the transformers model :meth:`to_hf` builds (a copy; subclasses may adjust it)."""
        return copy.deepcopy(self.config)

    # ------------------------------------------------------------------ saving and loading
    def save_pretrained(self, save_directory, *args, tokenizer=None, **kwargs):
        """Save as a checkpoint of ``hf_class`` (``to_hf()``'s weights) with the tokenizer and README.md.

        The config records ``mtbert_class``; ``from_pretrained`` of this class reads the folder back with identical
        logits, and transformers' Auto classes and ``pipeline`` read it as the model it mirrors. A head that
        transformers' class cannot hold is saved in the course's own layout instead (``architectures`` names the
        course class; only the course class reads it, which the model card says).
        """
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")     # to_hf's notes on what the transformers *loss* lacks
                hf = self.to_hf()
        except TypeError:
            return super().save_pretrained(save_directory, *args, tokenizer=tokenizer, **kwargs)
        hf.config.mtbert_class = type(self).__name__
        result = hf.save_pretrained(save_directory, *args, **kwargs)
        self.save_tokenizer_and_card(save_directory, tokenizer)
        return result

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """Load a folder or hub name: a checkpoint of ``hf_class`` (or of any BERT it can load) through
        :meth:`from_hf`, a folder in the course's own layout with transformers' ``from_pretrained``.

        Keyword arguments of this class's constructor (``head_cls=``, ``head=``, ``logits_fn=``, ...) go to the
        model; the rest (``dtype``, ``revision``, ``local_files_only``, ...) to transformers' loading.
        """
        if cls.hf_class is None or kwargs.get("state_dict") is not None:
            return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        load_keys = {k for k in ("cache_dir", "force_download", "local_files_only", "token", "revision",
                                 "subfolder", "trust_remote_code") if k in kwargs}
        config = kwargs.get("config") or BertConfig.from_pretrained(
            pretrained_model_name_or_path, **{k: kwargs[k] for k in load_keys})
        if cls.__name__ in (getattr(config, "architectures", None) or []):
            return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        own = set(inspect.signature(cls.__init__).parameters) - {"self", "config", "encoder"}
        model_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in own}
        hf = cls.hf_class.from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        model = cls.from_hf(hf, **model_kwargs).to(dtype=next(hf.parameters()).dtype)
        model.config._name_or_path = str(pretrained_model_name_or_path)
        return model.train(hf.training)

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
                f"Reload with `{type(self).__name__}.from_pretrained(folder)` after `import mtbert_ref`. When the head is "
                f"the course's reference head the folder is a `{mirrors}` checkpoint, so transformers' Auto classes "
                "and `pipeline(...)` read it too; a head of your own is saved in the course's layout, which only the "
                "course class reads (config.json's `architectures` says which).\n")

