"""Notebook 02 — the batches of BERT's joint objective (MLM + NSP): NSP pairs, padded and masked.

* :class:`PretrainingCollator` — pads NSP pairs (:func:`mtbert_ref.lessons.nsp.make_nsp_pairs`), names their label
  ``next_sentence_label`` and masks the tokens with notebook 01's :func:`mtbert_ref.modeling.mlm.mask_tokens`.

The loss and the model are in :mod:`mtbert_ref.modeling.pretraining`.
"""
from __future__ import annotations

import torch

from ..data import PaddingCollator
from ..modeling.mlm import mask_tokens

__all__ = ["PretrainingCollator"]


class PretrainingCollator:
    """Batches for the joint objective from NSP pairs (:func:`mtbert_ref.lessons.nsp.make_nsp_pairs`).

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
