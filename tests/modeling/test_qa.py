"""Tests of mtbert_ref.modeling.qa (notebook 03): equivalence with BertForQuestionAnswering, the loss, decoding;
MtBertForQuestionAnswering as a CourseModel (from_hf, to_hf, save_pretrained / from_pretrained, the question-answering pipeline)."""
import math

import pytest
import torch
from transformers import BertForQuestionAnswering, BertModel

from mtbert_ref.backbone import load_tokenizer, tiny_bert_config
from mtbert_ref.lessons.qa import prepare_features
from mtbert_ref.modeling import qa
from mtbert_ref.modeling.base import CourseModel
from lessons.test_qa import ex  # noqa: E402  (tests/lessons helper)
from modeling.test_mlm import check_course_model  # noqa: E402  (the checks every course model passes)


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer()


# ------------------------------------------------------------------------------------------------ HF equivalence
@pytest.mark.parametrize("seed", [0, 1])
def test_qa_model_equals_bert_for_question_answering(seed):
    torch.manual_seed(seed)
    hf = BertForQuestionAnswering(tiny_bert_config()).eval()
    ours = qa.qa_model_from_hf(hf)
    ids = torch.randint(1, 99, (4, 12))
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0
    types = torch.zeros_like(ids)
    types[:, 5:] = 1
    starts = torch.tensor([1, 12, 3, 40])      # 12 == seq_len and 40 > seq_len: clamped and ignored
    ends = torch.tensor([[2], [4], [11], [5]])  # (batch, 1) is accepted too
    a = hf(input_ids=ids, attention_mask=mask, token_type_ids=types, start_positions=starts, end_positions=ends)
    b = ours(input_ids=ids, attention_mask=mask, token_type_ids=types, start_positions=starts, end_positions=ends)
    assert (a.start_logits - b.start_logits).abs().max() <= 1e-5
    assert (a.end_logits - b.end_logits).abs().max() <= 1e-5
    assert abs(a.loss.item() - b.loss.item()) <= 1e-5
    assert ours(input_ids=ids, attention_mask=mask).loss is None


def test_qa_loss_ignores_positions_outside_sequence():
    torch.manual_seed(0)
    s, e = torch.randn(3, 5), torch.randn(3, 5)
    full = qa.qa_loss(s, e, torch.tensor([1, 2, 9]), torch.tensor([1, 3, 9]))
    kept = qa.qa_loss(s[:2], e[:2], torch.tensor([1, 2]), torch.tensor([1, 3]))
    assert torch.allclose(full, kept)


# ------------------------------------------------------------------------------------------------ decoding
def test_decode_spans_masks_and_constraints(tok):
    context = "Alpha beta gamma delta epsilon zeta eta theta."
    examples = [ex(context, "Which letter?", "delta")]
    f = prepare_features(examples, tok, 64, 16)
    offs = f["offset_mapping"][0]
    n = len(offs)
    ctx = [i for i, o in enumerate(offs) if o is not None]
    s, e = torch.zeros(1, n + 3), torch.zeros(1, n + 3)
    s[0, 0] = e[0, 0] = 50.0                 # [CLS] is not a context token
    s[0, n:] = e[0, n:] = 80.0               # nor is padding
    s[0, ctx[5]] = 10.0                      # a high start after a high end: invalid
    e[0, ctx[1]] = 10.0
    s[0, ctx[2]], e[0, ctx[3]] = 6.0, 5.0    # the best valid span
    out = qa.decode_spans(s, e, f, examples, max_answer_length=30)
    assert out["x"]["text"] == context[offs[ctx[2]][0]:offs[ctx[3]][1]]
    assert out["x"]["score"] == pytest.approx(11.0)
    # too long for max_answer_length=1: falls back to the best single-token span
    short = qa.decode_spans(s, e, f, examples, max_answer_length=1)
    assert short["x"]["score"] < 11.0
    # no valid span at all (every context token masked by n_best=1 pointing at [CLS])
    none = qa.decode_spans(s, e, f, examples, max_answer_length=30, n_best=1)
    assert none["x"] == {"text": "", "score": -math.inf}


def test_decode_spans_uses_all_windows(tok):
    context = "Filler words go here again and again. " * 8 + "The answer is Zanzibar."
    examples = [ex(context, "What is the answer?", "Zanzibar")]
    f = prepare_features(examples, tok, 40, 8)
    assert len(f["input_ids"]) > 2
    s = torch.full((len(f["input_ids"]), 40), -5.0)
    e = s.clone()
    for w, (st, en) in enumerate(zip(f["start_positions"], f["end_positions"])):
        if st:
            s[w, st], e[w, en] = 3.0, 3.0
    assert qa.decode_spans(s, e, f, examples)["x"]["text"] == "Zanzibar"


# ------------------------------------------------------------------------------------------------ CourseModel
def test_qa_model_course_model_roundtrip_and_answers_from_to_hf(tok, tmp_path):
    """from_hf / to_hf / save_pretrained → from_pretrained (check_course_model), the reference head after a reload,
    and to_hf() + the tokenizer answering with a span of the context.

    transformers 5 removed the "question-answering" pipeline (``pipeline`` raises KeyError: "has been removed"),
    so the pipeline's steps are done by hand: the course's windows (prepare_features) → the transformers model's
    start/end logits → the course's span decoding.
    """
    torch.manual_seed(2)
    hf = BertForQuestionAnswering(tiny_bert_config(vocab_size=len(tok)))
    ours = qa.MtBertForQuestionAnswering.from_hf(hf)
    assert isinstance(ours, CourseModel) and qa.MtBertForQuestionAnswering.hf_class is BertForQuestionAnswering
    inputs = dict(tok(["Where is the answer?"], ["The answer is in Zanzibar, near the coast."], return_tensors="pt"))
    reloaded = check_course_model(ours, hf, inputs, lambda out: torch.stack([out.start_logits, out.end_logits]),
                                  tmp_path, tok)
    assert isinstance(reloaded.head, qa.QAHead)
    context = "The course was written in Zanzibar in 2026 by a small team of teachers."
    examples = [ex(context, "Where was the course written?", "Zanzibar")]
    f = prepare_features(examples, tok, 64, 16)
    converted = ours.to_hf().eval()
    with torch.no_grad():
        out = converted(input_ids=torch.tensor(f["input_ids"]), attention_mask=torch.tensor(f["attention_mask"]),
                        token_type_ids=torch.tensor(f["token_type_ids"]))
    answer = qa.decode_spans(out.start_logits, out.end_logits, f, examples)["x"]["text"]
    assert isinstance(answer, str) and answer.strip() and answer in context


def test_qa_model_from_encoder_keeps_the_plugged_in_head():
    torch.manual_seed(0)
    enc = BertModel(tiny_bert_config(), add_pooling_layer=False)
    head = qa.QAHead(enc.config.hidden_size)
    before = {k: v.clone() for k, v in head.state_dict().items()}
    model = qa.MtBertForQuestionAnswering.from_encoder(enc, head=head)
    assert model.bert is enc and model.head is head
    assert all(torch.equal(v, head.state_dict()[k]) for k, v in before.items())
