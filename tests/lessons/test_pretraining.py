"""mtbert_ref.lessons.pretraining (notebook 02): the collator of the joint MLM + NSP objective."""
from __future__ import annotations

import torch

from mtbert_ref import load_tokenizer
from mtbert_ref.lessons.nsp import make_nsp_pairs
from mtbert_ref.lessons.pretraining import PretrainingCollator


def test_pretraining_collator_on_real_pairs():
    tok = load_tokenizer()
    docs = [[tok("The fire crews were called in. It rained.", add_special_tokens=False)["input_ids"],
             tok("Roads were closed.", add_special_tokens=False)["input_ids"],
             tok("Nobody was hurt.", add_special_tokens=False)["input_ids"]],
            [tok("Shares rose on Wall Street today.", add_special_tokens=False)["input_ids"],
             tok("The dollar fell.", add_special_tokens=False)["input_ids"]]]
    pairs = make_nsp_pairs(docs, tok.cls_token_id, tok.sep_token_id, max_length=32, seed=0)
    batch = PretrainingCollator(tok, mlm_probability=0.5, seed=0)(pairs)
    assert set(batch) == {"input_ids", "token_type_ids", "attention_mask", "labels", "next_sentence_label"}
    assert batch["labels"].shape == batch["input_ids"].shape
    assert batch["next_sentence_label"].tolist() == [p["labels"] for p in pairs]
    special = torch.isin(batch["labels"], torch.tensor(tok.all_special_ids))
    assert not special.any()  # [CLS], [SEP], [PAD] never chosen
    assert (batch["labels"][batch["attention_mask"] == 0] == -100).all()
    again = PretrainingCollator(tok, mlm_probability=0.5, seed=0)(pairs)
    assert torch.equal(again["input_ids"], batch["input_ids"])
