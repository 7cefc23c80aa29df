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
        return ("These are the right scores in the wrong places: you mixed the batch and choice dimensions. Flatten "
                "with `input_ids.view(batch * num_choices, length)` (no transpose/permute) and reshape the scores with "
                "`.view(batch, num_choices)`, so that row b*num_choices + c is choice c of question b.")
    if torch.allclose(torch.softmax(e, -1), a, atol=1e-5):
        return "You returned probabilities; return the raw scores (no softmax: the loss applies it)."
    b, c, n = ids.shape
    with torch.no_grad():
        out = bert(input_ids=ids.reshape(b * c, n), attention_mask=None if mask is None else mask.reshape(b * c, n),
                   token_type_ids=None if types is None else types.reshape(b * c, n))
        cls_vec = head(out.last_hidden_state[:, 0]).view(b, c).double().cpu()
        if torch.allclose(cls_vec, a, atol=1e-4):
            return ("You scored the raw [CLS] vector (`last_hidden_state[:, 0]`); BertForMultipleChoice scores "
                    "`pooler_output` (the [CLS] vector after the pooler's dense layer and tanh).")
        no_mask = head(bert(input_ids=ids.reshape(b * c, n), token_type_ids=None if types is None else
                            types.reshape(b * c, n)).pooler_output).view(b, c).double().cpu()
        no_types = head(bert(input_ids=ids.reshape(b * c, n), attention_mask=None if mask is None else
                             mask.reshape(b * c, n)).pooler_output).view(b, c).double().cpu()
    if mask is not None and torch.allclose(no_mask, a, atol=1e-4):
        return "You did not pass the attention_mask to the encoder; flatten it like input_ids and pass it."
    if types is not None and torch.allclose(no_types, a, atol=1e-4):
        return "You did not pass the token_type_ids to the encoder; flatten them like input_ids and pass them."
    return ("Flatten all three inputs to (batch*num_choices, length), pass them to `bert(...)`, apply `head` to "
            "`.pooler_output` and `.view(batch, num_choices)` the result.")


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
        expect_unchanged(before, (ids, mask, types), "An input of multiple_choice_logits")
        if any(not torch.equal(v, head.state_dict()[k]) for k, v in state.items()):
            raise GradingError("multiple_choice_logits changed the head's weights; only call `head(...)`.")
        b, c = case["batch"], case["choices"]
        missing = " and ".join(x for x, v in (("attention_mask", mask), ("token_type_ids", types)) if v is None)
        desc = (f"multiple_choice_logits on input_ids of shape {tuple(ids.shape)} (batch={b}, num_choices={c})"
                + (f" with {missing}=None" if missing else ""))
        if isinstance(got, torch.Tensor) and tuple(got.shape) != (b, c):
            hint = ""
            if got.numel() == b * c:
                if tuple(got.shape) == (c, b):
                    hint = (" That is (num_choices, batch): you mixed the batch and choice dimensions; use "
                            "`.view(batch, num_choices)`.")
                else:
                    hint = (" Reshape the (batch*num_choices, 1) scores with `.view(batch, num_choices)`.")
            raise GradingError(f"{desc} returned shape {tuple(got.shape)}, expected ({b}, {c}).{hint}")
        try:
            expect_tensor(got, want, desc)
        except GradingError as err:
            if isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(want.shape) and got.dtype == want.dtype \
                    and got.device.type == want.device.type:
                raise GradingError(f"{err} {_mc_diagnosis(got, want, bert, head, ids, mask, types)}") from None
            raise
    passed(f"multiple_choice_logits matches the reference on {len(cases)} batch(es) on {device.type}")


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
            raise GradingError(f"{desc}: {key!r} is a tensor of shape {tuple(x.shape)}; expected one row per choice "
                               f"({n} rows). Do not pass return_tensors with a batch of one (that adds a dimension).")
        return [row.tolist() for row in x]
    if not isinstance(x, (list, tuple)) or len(x) != n or not all(isinstance(r, (list, tuple)) for r in x):
        got = type(x).__name__ + (f" of length {len(x)}" if isinstance(x, (list, tuple)) else "")
        raise GradingError(f"{desc}: {key!r} should be a list of {n} lists of ints (one per choice), got a {got}.")
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
        desc = (f"encode_choices for {question[:50]!r}{'...' if len(question) > 50 else ''} with {len(choices)} "
                f"choices and max_length={max_length}")
        if not hasattr(got, "keys"):
            raise GradingError(f"{desc} returned a {type(got).__name__}; return a dict (or the tokenizer's "
                               "BatchEncoding) with 'input_ids', 'token_type_ids' and 'attention_mask'.")
        for key in ("input_ids", "token_type_ids", "attention_mask"):
            if key not in got.keys():
                raise GradingError(f"{desc} has no {key!r}; return 'input_ids', 'token_type_ids' and "
                                   "'attention_mask'.")
        n = len(choices)
        rows = {k: _as_rows(got[k], k, desc, n) for k in ("input_ids", "token_type_ids", "attention_mask")}
        widths = {len(r) for r in rows["input_ids"]}
        if max(widths) > max_length:
            raise GradingError(f"{desc}: your rows have {max(widths)} tokens, more than max_length={max_length}. "
                               "Truncate: cut tokens from the end of the question (truncation='only_first').")
        if max(widths) > max(len(r) for r in want["input_ids"]):
            raise GradingError(f"{desc}: your rows have {max(widths)} tokens, but the longest choice needs only "
                               f"{max(len(r) for r in want['input_ids'])}. Do not pad to max_length: leave the rows "
                               "unpadded (PaddingCollator pads each batch to its own longest sequence).")
        for k in ("token_type_ids", "attention_mask"):
            if [len(r) for r in rows[k]] != [len(r) for r in rows["input_ids"]]:
                raise GradingError(f"{desc}: {k!r} rows do not have the same lengths as the input_ids rows.")
        ids = _unpadded(rows["input_ids"], rows["attention_mask"])
        types = _unpadded(rows["token_type_ids"], rows["attention_mask"])
        for c in range(n):
            w_ids, w_types = want["input_ids"][c], want["token_type_ids"][c]
            where = f"{desc}, choice {c} ({choices[c]!r})"
            if ids[c] == w_ids and types[c] == w_types:
                continue
            got_text = tokenizer.decode(ids[c])
            want_text = tokenizer.decode(w_ids)
            hint = ""
            c_ids = tokenizer(choices[c], add_special_tokens=False)["input_ids"]
            if ids[c] != w_ids:
                if len(ids[c]) > max_length:
                    hint = f"It has {len(ids[c])} tokens: truncate to max_length={max_length}."
                elif ids[c][:1] == w_ids[:1] and ids[c][1:1 + len(c_ids)] == c_ids and len(c_ids) > 0:
                    hint = ("The choice comes first; the question must be the first segment: "
                            "[CLS] question [SEP] choice [SEP].")
                elif len(ids[c]) == len(w_ids) and ids[c][-1 - len(c_ids):-1] != c_ids:
                    hint = ("The choice was cut: when the pair is too long, remove tokens from the end of the "
                            "question first (truncation='only_first') and keep the choice whole.")
                elif ids[c][:1] != [tokenizer.cls_token_id]:
                    hint = "Each row starts with [CLS] and both segments end with [SEP] (add_special_tokens)."
                elif ids[c].count(tokenizer.sep_token_id) != 2:
                    hint = "A pair has two [SEP]: one after the question, one after the choice."
                raise GradingError(f"{where}: got the tokens {got_text!r}, expected {want_text!r}. {hint}".strip())
            if all(t == 0 for t in types[c]):
                hint = ("All token_type_ids are 0; the choice segment (`choice [SEP]`) has token type 1 — encode the "
                        "question and the choice as a pair.")
            raise GradingError(f"{where}: token_type_ids {types[c]}, expected {w_types}. {hint}".strip())
        for m in rows["attention_mask"]:
            m = [int(x) for x in m]
            if any(m[i] == 0 and m[i + 1] == 1 for i in range(len(m) - 1)) or any(x not in (0, 1) for x in m):
                raise GradingError(f"{desc}: the attention_mask must be 1 on every real token and 0 only on padding "
                                   f"at the end of a row, got {m}.")
    passed(f"encode_choices matches the reference on {len(cases)} question(s)")


def _acc_cases(hidden_tests: bool):
    g = torch.Generator().manual_seed(3)
    cases = [
        ("8 questions with 4 choices", torch.randn(8, 4, generator=g), torch.randint(0, 4, (8,), generator=g)),
        ("5 questions with 3 choices, all right", torch.eye(3)[[0, 2, 1, 1, 0]] * 3.0, torch.tensor([0, 2, 1, 1, 0])),
    ]
    if hidden_tests:
        g = torch.Generator().manual_seed(hidden_seed("check_mc_accuracy", 0))
        cases += [
            ("7 questions with 2 choices", torch.randn(7, 2, generator=g), torch.randint(0, 2, (7,), generator=g)),
            ("one question with 5 choices", torch.randn(1, 5, generator=g), torch.tensor([3])),
            ("4 questions with 4 choices, none right", torch.eye(4)[[1, 2, 3, 0]], torch.tensor([0, 1, 2, 3])),
            ("6 questions, float64 logits and int32 labels", torch.randn(6, 4, generator=g).double(),
             torch.randint(0, 4, (6,), generator=g).int()),
            ("4 questions with 6 choices (batch < choices)", torch.randn(4, 6, generator=g),
             torch.tensor([5, 0, 2, 5])),
            # equal best scores: the first best choice is the prediction (the spec's tie rule)
            ("5 questions whose best scores are tied", torch.tensor([[1.0, 1.0, 0.0], [0.0, 2.0, 2.0],
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
        expect_unchanged(before, (logits, labels), "An input of mc_accuracy")
        want = mc_accuracy(logits, labels)
        if isinstance(got, (torch.Tensor, np.generic, np.ndarray)):
            raise GradingError(f"mc_accuracy on {desc} returned a {type(got).__name__}; return a Python float "
                               "(`.item()`).")
        hint = ""
        if isinstance(got, (int, float)) and not isinstance(got, bool):
            n = logits.shape[0]
            wrong_dim = logits.argmax(dim=0)
            last_best = logits.shape[-1] - 1 - logits.flip(-1).argmax(dim=-1)
            ties = bool((logits == logits.max(dim=-1, keepdim=True).values).sum(-1).gt(1).any())
            if ties and abs(got - float((last_best.cpu() == labels.cpu().long()).double().mean())) < 1e-9:
                hint = ("On a tie between the best scores the prediction is the FIRST best choice (as torch.argmax "
                        "gives it); yours takes the last one (e.g. a `>=` when keeping the running best).")
            elif abs(got - want * n) < 1e-9 and n > 1 and want > 0:
                hint = "That is the number of right answers; divide by the number of questions."
            elif abs(got - 100 * want) < 1e-6 and want > 0:
                hint = "That is a percentage; return a fraction between 0 and 1."
            elif wrong_dim.shape == labels.shape and \
                    abs(got - float((wrong_dim.cpu() == labels.cpu().long()).double().mean())) < 1e-9:
                hint = ("Take the argmax over the choices (the last dimension, `dim=-1`), one prediction per "
                        "question; argmax over dim 0 compares questions.")
            else:
                hint = "Predict `logits.argmax(dim=-1)` and return the mean of (prediction == label) as a float."
        expect_equal(got, want, f"mc_accuracy on {desc}", hint)
    passed(f"mc_accuracy matches the reference on {len(cases)} cases on {device.type}")


guard_checkers(globals())  # warnings and stderr while checking cost no points (core.checker)
