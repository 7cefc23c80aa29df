"""Tests of mtbert_ref.lessons.mlm: the corpus, chunking, the collator, the eval set, the metrics, fill_mask."""
from __future__ import annotations

from mtbert_ref import tiny_bert_config
from mtbert_ref.lessons.mlm import (MLMCollator, chunk_documents, fill_mask, load_text_corpus, make_eval_set,
                                    masked_token_accuracy, unigram_topk)
from mtbert_ref.modeling.mlm import IGNORE_INDEX, MtBertForMaskedLM


from modeling.test_mlm import tokenizer  # noqa: E402,F401  (the same tiny WordPiece fixture)


# ------------------------------------------------------------------------------------------ helpers
def test_corpus_format_and_split():
    docs = load_text_corpus()
    assert len(docs) == 350
    assert {d["split"] for d in docs} == {"train", "test"}
    assert len(load_text_corpus("test")) == 52
    for d in docs:
        assert set(d) == {"id", "source", "split", "sentences"}
        assert d["sentences"] and all(isinstance(s, str) and s.strip() for s in d["sentences"])
    assert len({d["id"] for d in docs}) == len(docs)


def test_chunks_collator_eval_and_fill_mask(tokenizer):
    docs = [{"id": "a", "source": "t", "split": "train",
             "sentences": ["the fire crews have been called to a new fire near sydney.", "police said."] * 3}]
    ex = chunk_documents(docs, tokenizer, max_length=16)
    assert all(len(e["input_ids"]) <= 16 for e in ex)
    assert all(e["input_ids"][0] == tokenizer.cls_token_id and e["input_ids"][-1] == tokenizer.sep_token_id for e in ex)
    assert sum(len(e["input_ids"]) - 2 for e in ex) == 3 * (len(tokenizer("the fire crews have been called to a new "
                                                                          "fire near sydney.", add_special_tokens=False)
                                                                 ["input_ids"]) + 3)
    batch = MLMCollator(tokenizer, seed=0)(ex)
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    assert not bool((batch["labels"][batch["attention_mask"] == 0] != IGNORE_INDEX).any())
    evalset = make_eval_set(ex, tokenizer, mlm_probability=0.5)
    lab = evalset[0]["labels"]
    assert bool((evalset[0]["input_ids"][lab != IGNORE_INDEX] == tokenizer.mask_token_id).all())
    top = unigram_topk(ex, 2)
    assert tokenizer.convert_ids_to_tokens(top[0]) in ("fire", ".")
    base = masked_token_accuracy(None, evalset, constant_topk=top)
    model = MtBertForMaskedLM(tiny_bert_config(vocab_size=len(tokenizer)))
    acc = masked_token_accuracy(model, evalset)
    assert 0 <= base["top1"] <= base["top5"] <= 1 and acc["n"] == base["n"] > 0
    out = fill_mask("the fire [MASK] have been called.", model, tokenizer, top_k=3)
    assert len(out) == 1 and len(out[0]) == 3 and out[0][0][1] >= out[0][1][1]
