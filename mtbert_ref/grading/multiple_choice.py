"""Notebook 04's checkers: :func:`check_mc_head`, :func:`check_encode_choices`, :func:`check_mc_accuracy`."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from transformers import BertModel

from ..backbone import tiny_bert_config
from ..lessons.multiple_choice import encode_choices, mc_accuracy
from ..modeling.multiple_choice import MultipleChoiceHead, multiple_choice_logits
from .core import guard_checkers
from .i18n import say
from .core import (GradingError, call_student, clone_inputs, expect_equal, expect_tensor, expect_unchanged,
                   hidden_seed, passed)

__all__ = ["check_mc_head", "check_encode_choices", "check_mc_accuracy"]


def _tiny_mc_parts(seed: int, device, hidden: int = 32, dropout: float = 0.1):
    torch.manual_seed(seed)
    cfg = tiny_bert_config(hidden_size=hidden, num_attention_heads=4)
    bert = BertModel(cfg, add_pooling_layer=True).to(device).eval()
    head = MultipleChoiceHead(hidden, dropout).to(device).eval()
    nn.init.normal_(head.classifier.weight, std=0.5)
    nn.init.normal_(head.classifier.bias, std=0.5)
    return bert, head


def _mc_inputs(seed: int, batch: int, choices: int, length: int, device, with_mask=True, with_types=True):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 99, (batch, choices, length), generator=g)
    lengths = torch.randint(3, length + 1, (batch, choices), generator=g)
    lengths[0, 0] = length
    mask = (torch.arange(length)[None, None, :] < lengths[..., None]).long()
    ids = ids * mask                                      # padding id 0 where the mask is 0
    split = torch.randint(2, length, (batch, choices, 1), generator=g)
    types = ((torch.arange(length)[None, None, :] >= split) & (mask > 0)).long()
    return ids.to(device), (mask.to(device) if with_mask else None), (types.to(device) if with_types else None)


def _mc_diagnosis(got: torch.Tensor, want: torch.Tensor, bert, head, ids, mask, types) -> str:
    """Name the likely bug when the student's logits have the right shape but the wrong values."""
    a, e = got.detach().double().cpu(), want.detach().double().cpu()
    if torch.allclose(a.flatten().sort().values, e.flatten().sort().values, atol=1e-4, rtol=1e-3):
        return say("multiple_choice.diag_mixed_dims")
    if torch.allclose(torch.softmax(e, -1), a, atol=1e-5):
        return say("multiple_choice.diag_probabilities")
    b, c, n = ids.shape
    with torch.no_grad():
        out = bert(input_ids=ids.reshape(b * c, n), attention_mask=None if mask is None else mask.reshape(b * c, n),
                   token_type_ids=None if types is None else types.reshape(b * c, n))
        cls_vec = head(out.last_hidden_state[:, 0]).view(b, c).double().cpu()
        if torch.allclose(cls_vec, a, atol=1e-4):
            return say("multiple_choice.diag_raw_cls")
        no_mask = head(bert(input_ids=ids.reshape(b * c, n), token_type_ids=None if types is None else
                            types.reshape(b * c, n)).pooler_output).view(b, c).double().cpu()
        no_types = head(bert(input_ids=ids.reshape(b * c, n), attention_mask=None if mask is None else
                             mask.reshape(b * c, n)).pooler_output).view(b, c).double().cpu()
    if mask is not None and torch.allclose(no_mask, a, atol=1e-4):
        return say("multiple_choice.diag_no_mask")
    if types is not None and torch.allclose(no_types, a, atol=1e-4):
        return say("multiple_choice.diag_no_types")
    return say("multiple_choice.diag_generic")


def check_mc_head(student_fn, device="cpu", seed: int = 0, hidden_tests: bool = False) -> None:
    """Compare the student's ``multiple_choice_logits(bert, head, input_ids, attention_mask, token_type_ids)`` with the
    reference on a tiny random BERT and head (same weights), in eval mode, with batch ≠ num_choices so that a mixed-up
    reshape shows."""
    device = torch.device(device)
    cases = [dict(batch=3, choices=4, length=9)]
    if hidden_tests:
        cases += [dict(batch=2, choices=5, length=7), dict(batch=1, choices=4, length=6),
                  dict(batch=5, choices=2, length=11), dict(batch=4, choices=3, length=8, with_types=False),
                  dict(batch=3, choices=3, length=10, with_mask=False)]
    for i, case in enumerate(cases):
        case_seed = seed if i == 0 else hidden_seed("check_mc_head", i)
        bert, head = _tiny_mc_parts(case_seed, device)
        ids, mask, types = _mc_inputs(case_seed + 10, case["batch"], case["choices"], case["length"], device,
                                      case.get("with_mask", True), case.get("with_types", True))
        before = clone_inputs((ids, mask, types))
        state = {k: v.clone() for k, v in head.state_dict().items()}
        with torch.no_grad():
            got = call_student(student_fn, bert, head, ids, mask, types, name="multiple_choice_logits",
                               reference=multiple_choice_logits)
            want = multiple_choice_logits(bert, head, ids, mask, types)
        expect_unchanged(before, (ids, mask, types), say("multiple_choice.head_input"))
        if any(not torch.equal(v, head.state_dict()[k]) for k, v in state.items()):
            raise GradingError(say("multiple_choice.head_weights_changed"))
        b, c = case["batch"], case["choices"]
        missing = say("multiple_choice.and").join(x for x, v in (("attention_mask", mask), ("token_type_ids", types))
                                                  if v is None)
        desc = say("multiple_choice.head_what", shape=tuple(ids.shape), b=b, c=c,
                   missing=say("multiple_choice.with_none", names=missing) if missing else "")
        if isinstance(got, torch.Tensor) and tuple(got.shape) != (b, c):
            hint = ""
            if got.numel() == b * c:
                if tuple(got.shape) == (c, b):
                    hint = say("multiple_choice.shape_swapped")
                else:
                    hint = say("multiple_choice.shape_reshape")
            raise GradingError(say("multiple_choice.head_shape", what=desc, got=tuple(got.shape), b=b, c=c, hint=hint))
        try:
            expect_tensor(got, want, desc)
        except GradingError as err:
            if isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(want.shape) and got.dtype == want.dtype \
                    and got.device.type == want.device.type:
                raise GradingError(say("multiple_choice.with_diagnosis", error=err,
                                       diagnosis=_mc_diagnosis(got, want, bert, head, ids, mask, types))) from None
            raise
    passed(say("multiple_choice.head_passed", n=len(cases), device=device.type))


_ENC_CASES = [
    ("Which planet is the hottest in the solar system?", ["Venus", "Mars", "Mercury", "Jupiter"], 64),
    ("Who wrote the Winnie-the-Pooh books?", ["A. A. Milne", "Roald Dahl", "Beatrix Potter"], 64),
]
_ENC_HIDDEN = [
    ("Which Debian package is described as \u201cmonitor mailboxes and/or newsgroups\u201d?",
     ["xbuffy", "mailsync", "mailfront", "mboxgrep"], 16),      # the question must be truncated
    ("A spinning disk, in which the orientation of this axis is unaffected by tilting or rotation of the mounting, "
     "is called what?", ["A gyroscope", "The Andromeda Galaxy, our nearest major neighbour", "Echolocation",
                         "Sputnik 1"], 20),                      # truncation depends on the choice's length
    ("What year did the Cold War end?", ["1989", "1963"], 32),
    ("In which city is Jim Morrison buried?", ["Paris", "Los Angeles", "Rome", "Berlin", "Vienna"], 12),
]


def _unpadded(rows, masks):
    out = []
    for r, m in zip(rows, masks):
        r = [int(x) for x in (r.tolist() if isinstance(r, torch.Tensor) else r)]
        m = [int(x) for x in (m.tolist() if isinstance(m, torch.Tensor) else m)]
        out.append([x for x, keep in zip(r, m) if keep])
    return out


def _as_rows(x, key, desc, n):
    if isinstance(x, torch.Tensor):
        if x.dim() != 2:
            raise GradingError(say("multiple_choice.rows_tensor_dim", what=desc, key=repr(key), shape=tuple(x.shape), n=n))
        return [row.tolist() for row in x]
    if not isinstance(x, (list, tuple)) or len(x) != n or not all(isinstance(r, (list, tuple)) for r in x):
        got = type(x).__name__ + (say("multiple_choice.of_length", n=len(x)) if isinstance(x, (list, tuple)) else "")
        raise GradingError(say("multiple_choice.rows_not_lists", what=desc, key=repr(key), n=n, got=got))
    return [list(r) for r in x]


def check_encode_choices(student_fn, tokenizer=None, hidden_tests: bool = False) -> None:
    """Compare the student's ``encode_choices(tokenizer, question, choices, max_length)`` with the reference: token ids,
    token types and attention mask per choice, truncation of the question first. Padding to the longest choice of the
    question is accepted (the attention mask must then be 0 on the padding); padding to ``max_length`` is not."""
    if tokenizer is None:
        from ..backbone import load_tokenizer
        tokenizer = load_tokenizer()
    cases = list(_ENC_CASES) + (list(_ENC_HIDDEN) if hidden_tests else [])
    for question, choices, max_length in cases:
        got = call_student(student_fn, tokenizer, question, list(choices), max_length, name="encode_choices",
                           reference=encode_choices)
        want = encode_choices(tokenizer, question, choices, max_length)
        desc = say("multiple_choice.enc_what", question=repr(question[:50]), more="..." if len(question) > 50 else "",
                   n=len(choices), max_length=max_length)
        if not hasattr(got, "keys"):
            raise GradingError(say("multiple_choice.enc_not_dict", what=desc, type=type(got).__name__))
        for key in ("input_ids", "token_type_ids", "attention_mask"):
            if key not in got.keys():
                raise GradingError(say("multiple_choice.enc_missing_key", what=desc, key=repr(key)))
        n = len(choices)
        rows = {k: _as_rows(got[k], k, desc, n) for k in ("input_ids", "token_type_ids", "attention_mask")}
        widths = {len(r) for r in rows["input_ids"]}
        if max(widths) > max_length:
            raise GradingError(say("multiple_choice.enc_too_long", what=desc, width=max(widths), max_length=max_length))
        if max(widths) > max(len(r) for r in want["input_ids"]):
            raise GradingError(say("multiple_choice.enc_padded", what=desc, width=max(widths),
                                   needed=max(len(r) for r in want["input_ids"])))
        for k in ("token_type_ids", "attention_mask"):
            if [len(r) for r in rows[k]] != [len(r) for r in rows["input_ids"]]:
                raise GradingError(say("multiple_choice.enc_row_lengths", what=desc, key=repr(k)))
        ids = _unpadded(rows["input_ids"], rows["attention_mask"])
        types = _unpadded(rows["token_type_ids"], rows["attention_mask"])
        for c in range(n):
            w_ids, w_types = want["input_ids"][c], want["token_type_ids"][c]
            where = say("multiple_choice.enc_choice", what=desc, c=c, choice=repr(choices[c]))
            if ids[c] == w_ids and types[c] == w_types:
                continue
            got_text = tokenizer.decode(ids[c])
            want_text = tokenizer.decode(w_ids)
            hint = ""
            c_ids = tokenizer(choices[c], add_special_tokens=False)["input_ids"]
            if ids[c] != w_ids:
                if len(ids[c]) > max_length:
                    hint = say("multiple_choice.hint_too_long", n=len(ids[c]), max_length=max_length)
                elif ids[c][:1] == w_ids[:1] and ids[c][1:1 + len(c_ids)] == c_ids and len(c_ids) > 0:
                    hint = say("multiple_choice.hint_choice_first")
                elif len(ids[c]) == len(w_ids) and ids[c][-1 - len(c_ids):-1] != c_ids:
                    hint = say("multiple_choice.hint_choice_cut")
                elif ids[c][:1] != [tokenizer.cls_token_id]:
                    hint = say("multiple_choice.hint_cls")
                elif ids[c].count(tokenizer.sep_token_id) != 2:
                    hint = say("multiple_choice.hint_two_sep")
                raise GradingError(say("multiple_choice.enc_tokens", what=where, got=repr(got_text), want=repr(want_text),
                                       hint=hint).strip())
            if all(t == 0 for t in types[c]):
                hint = say("multiple_choice.hint_types_zero")
            raise GradingError(say("multiple_choice.enc_types", what=where, got=types[c], want=w_types, hint=hint).strip())
        for m in rows["attention_mask"]:
            m = [int(x) for x in m]
            if any(m[i] == 0 and m[i + 1] == 1 for i in range(len(m) - 1)) or any(x not in (0, 1) for x in m):
                raise GradingError(say("multiple_choice.enc_mask", what=desc, mask=m))
    passed(say("multiple_choice.enc_passed", n=len(cases)))


def _acc_cases(hidden_tests: bool):
    g = torch.Generator().manual_seed(3)
    cases = [
        (say("multiple_choice.acc_case_8x4"), torch.randn(8, 4, generator=g), torch.randint(0, 4, (8,), generator=g)),
        (say("multiple_choice.acc_case_all_right"), torch.eye(3)[[0, 2, 1, 1, 0]] * 3.0, torch.tensor([0, 2, 1, 1, 0])),
    ]
    if hidden_tests:
        g = torch.Generator().manual_seed(hidden_seed("check_mc_accuracy", 0))
        cases += [
            (say("multiple_choice.acc_case_7x2"), torch.randn(7, 2, generator=g), torch.randint(0, 2, (7,), generator=g)),
            (say("multiple_choice.acc_case_one"), torch.randn(1, 5, generator=g), torch.tensor([3])),
            (say("multiple_choice.acc_case_none_right"), torch.eye(4)[[1, 2, 3, 0]], torch.tensor([0, 1, 2, 3])),
            (say("multiple_choice.acc_case_dtypes"), torch.randn(6, 4, generator=g).double(),
             torch.randint(0, 4, (6,), generator=g).int()),
            (say("multiple_choice.acc_case_wide"), torch.randn(4, 6, generator=g),
             torch.tensor([5, 0, 2, 5])),
            # equal best scores: the first best choice is the prediction (the spec's tie rule)
            (say("multiple_choice.acc_case_ties"), torch.tensor([[1.0, 1.0, 0.0], [0.0, 2.0, 2.0],
                                                                     [3.0, 3.0, 3.0], [-1.0, 0.5, 0.5],
                                                                     [0.0, 0.0, 0.0]]),
             torch.tensor([0, 1, 0, 1, 0])),
        ]
    return cases


def check_mc_accuracy(student_fn, device="cpu", hidden_tests: bool = False) -> None:
    """Compare the student's ``mc_accuracy(logits, labels)`` with the reference (a float in 0..1)."""
    device = torch.device(device)
    cases = _acc_cases(hidden_tests)
    for desc, logits, labels in cases:
        logits, labels = logits.to(device), labels.to(device)
        before = clone_inputs((logits, labels))
        got = call_student(student_fn, logits, labels, name="mc_accuracy", reference=mc_accuracy)
        expect_unchanged(before, (logits, labels), say("multiple_choice.acc_input"))
        want = mc_accuracy(logits, labels)
        if isinstance(got, (torch.Tensor, np.generic, np.ndarray)):
            raise GradingError(say("multiple_choice.acc_not_float", desc=desc, type=type(got).__name__))
        hint = ""
        if isinstance(got, (int, float)) and not isinstance(got, bool):
            n = logits.shape[0]
            wrong_dim = logits.argmax(dim=0)
            last_best = logits.shape[-1] - 1 - logits.flip(-1).argmax(dim=-1)
            ties = bool((logits == logits.max(dim=-1, keepdim=True).values).sum(-1).gt(1).any())
            if ties and abs(got - float((last_best.cpu() == labels.cpu().long()).double().mean())) < 1e-9:
                hint = say("multiple_choice.hint_last_tie")
            elif abs(got - want * n) < 1e-9 and n > 1 and want > 0:
                hint = say("multiple_choice.hint_count")
            elif abs(got - 100 * want) < 1e-6 and want > 0:
                hint = say("multiple_choice.hint_percent")
            elif wrong_dim.shape == labels.shape and \
                    abs(got - float((wrong_dim.cpu() == labels.cpu().long()).double().mean())) < 1e-9:
                hint = say("multiple_choice.hint_dim0")
            else:
                hint = say("multiple_choice.hint_generic")
        expect_equal(got, want, say("multiple_choice.acc_what", desc=desc), hint)
    passed(say("multiple_choice.acc_passed", n=len(cases), device=device.type))


guard_checkers(globals())  # warnings and stderr while checking cost no points (core.checker)
