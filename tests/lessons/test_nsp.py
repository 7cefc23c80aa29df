"""mtbert_ref.lessons.nsp (notebook 02): truncation, encoding and construction of NSP pairs, the real corpus."""
from __future__ import annotations

import pytest

from mtbert_ref import load_tokenizer
from mtbert_ref.lessons.nsp import encode_pair, load_documents, make_nsp_pairs, tokenize_documents, truncate_pair
from mtbert_ref.modeling.nsp import IS_NEXT, NOT_NEXT


def test_truncate_pair_cuts_longer_first_a_front_b_back():
    a, b = list(range(10)), list(range(100, 104))
    ta, tb = truncate_pair(a, b, 8)
    assert (ta, tb) == (list(range(6, 10)), list(range(100, 104)))  # only A cut, from its start
    ta, tb = truncate_pair(list(range(5)), list(range(100, 110)), 6)
    assert (ta, tb) == ([2, 3, 4], [100, 101, 102])  # B cut to 5, then both alternately (A from the front)
    ta, tb = truncate_pair([1, 2], [3, 4], 3)  # tie: B is cut
    assert (ta, tb) == ([1, 2], [3])
    ta, tb = truncate_pair(list(range(50)), [7], 2)
    assert (ta, tb) == ([49], [7])
    assert a == list(range(10))  # inputs untouched
    with pytest.raises(ValueError):
        truncate_pair([1], [2], 1)


def test_encode_pair_matches_the_tokenizer():
    tok = load_tokenizer()
    first, second = "The fire crews were called to Hill Top.", "Rain has fallen in parts of the Illawarra."
    a = tok(first, add_special_tokens=False)["input_ids"]
    b = tok(second, add_special_tokens=False)["input_ids"]
    enc = encode_pair(a, b, tok.cls_token_id, tok.sep_token_id)
    want = tok(first, second)
    assert enc["input_ids"] == want["input_ids"]
    assert enc["token_type_ids"] == want["token_type_ids"]
    assert enc["attention_mask"] == want["attention_mask"]


def test_make_nsp_pairs_edge_cases():
    with pytest.raises(ValueError, match="two"):
        make_nsp_pairs([[[5, 6], [7, 8]]], 1, 2)
    docs = [[[5, 6]], [[7, 8], [], [9]], [[10, 11]]]  # one-sentence documents, an empty sentence
    pairs = make_nsp_pairs(docs, 1, 2, max_length=10, seed=0)
    assert len(pairs) == 1  # only the middle document has two sentences
    ex = pairs[0]
    if ex["labels"] == IS_NEXT:
        assert ex["input_ids"] == [1, 7, 8, 2, 9, 2]
    else:
        assert ex["labels"] == NOT_NEXT and ex["input_ids"][4:6] in ([5, 6], [10, 11])


def test_pairs_from_the_real_corpus():
    tok = load_tokenizer()
    train_docs, test_docs = load_documents("train"), load_documents("test")
    assert train_docs and test_docs and not {d["id"] for d in train_docs} & {d["id"] for d in test_docs}
    docs = tokenize_documents([d["sentences"] for d in test_docs], tok)
    pairs = make_nsp_pairs(docs, tok.cls_token_id, tok.sep_token_id, max_length=48, seed=0)
    assert len(pairs) > 100
    assert all(len(p["input_ids"]) <= 48 for p in pairs)
    frac = sum(p["labels"] for p in pairs) / len(pairs)
    assert 0.4 < frac < 0.6
    text = tok.decode(pairs[0]["input_ids"])
    assert text.startswith("[CLS]") and text.count("[SEP]") == 2
