"""Notebook 04 — multiple choice: references and checkers.

A multiple-choice question has one question and ``num_choices`` candidate answers, one of them right. BERT reads each
(question, choice) pair as one sequence ``[CLS] question [SEP] choice [SEP]`` and the model gives each pair a single
score; the scores of one question's choices are compared with a softmax, and the loss is the cross-entropy over the
choices. The trick is in the shapes:

    input_ids (batch, num_choices, length) ──view──▶ (batch·num_choices, length)
        ──encoder──▶ pooled (batch·num_choices, hidden) ──dropout, Linear(hidden, 1)──▶ (batch·num_choices, 1)
        ──view──▶ logits (batch, num_choices)

The encoder never knows that sequences belong together: only the final ``view`` groups the scores back by question,
so the flatten and the un-flatten must use the same (row-major) order. Because the head has *one* output per pair, the
same head serves any number of choices.

Reference implementations:

* :class:`MultipleChoiceHead` — dropout + ``nn.Linear(hidden, 1)`` (transformers' ``dropout`` and ``classifier``).
* :func:`multiple_choice_logits` — the flatten → encode → pool → head → reshape pipeline above.
* :func:`multiple_choice_loss` — cross-entropy over the choices.
* :class:`BertMultipleChoiceModel` — encoder + head + loss; equal to ``BertForMultipleChoice``
  (:func:`load_hf_multiple_choice` maps its state dict).
* :func:`encode_choices` — one question and its choices → ``(num_choices, length)`` lists of token ids, token types
  and attention masks, the question truncated first.
* :func:`mc_accuracy` — share of questions whose highest-scoring choice is the right one.
* :func:`load_multiple_choice`, :func:`encode_dataset`, :func:`similarity_scores` (a zero-shot baseline with the
  sentence-embedding encoder), :func:`plot_choice_probabilities`.

Checkers: :func:`check_mc_head`, :func:`check_encode_choices`, :func:`check_mc_accuracy`.
"""
from __future__ import annotations

import json
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertForMultipleChoice, BertModel
from transformers.modeling_outputs import MultipleChoiceModelOutput

from .backbone import tiny_bert_config
from .checking import GradingError, call_student, clone_inputs, expect_equal, expect_tensor, expect_unchanged, passed
from .data import EncodedDataset, data_path

__all__ = [
    "load_multiple_choice",
    "MultipleChoiceHead",
    "multiple_choice_logits",
    "multiple_choice_loss",
    "BertMultipleChoiceModel",
    "hf_key_map",
    "load_hf_multiple_choice",
    "encode_choices",
    "encode_dataset",
    "mc_accuracy",
    "similarity_scores",
    "plot_choice_probabilities",
    "check_mc_head",
    "check_encode_choices",
    "check_mc_accuracy",
]


# --------------------------------------------------------------------------------------------- data
def load_multiple_choice(split: str = "train", source: str | None = None) -> list[dict]:
    """The course's 4-choice questions (see ``mtbert_ref/data/multiple_choice/SOURCE.md``).

    ``split``: "train" or "test"; ``source``: None (all), "trivia" or "debian". Each item:
    ``{"id", "source", "category", "answer_type", "question", "choices": [4 str], "label": int}``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if source not in (None, "trivia", "debian"):
        raise ValueError(f"source must be None, 'trivia' or 'debian', got {source!r}")
    with open(data_path("multiple_choice", f"{split}.jsonl"), encoding="utf-8") as fh:
        items = [json.loads(line) for line in fh if line.strip()]
    return [it for it in items if source is None or it["source"] == source]


# --------------------------------------------------------------------------------------------- the head and model
class MultipleChoiceHead(nn.Module):
    """Dropout, then ``nn.Linear(hidden_size, 1)``: one score per (question, choice) sequence.

    ``forward(pooled_output)``: (n, hidden) → (n, 1). The parameter names ``classifier.weight`` (1, hidden) and
    ``classifier.bias`` (1,) are transformers'.
    """

    def __init__(self, hidden_size: int, dropout_prob: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout_prob)
        self.classifier = nn.Linear(hidden_size, 1)

    def forward(self, pooled_output: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(pooled_output))


def multiple_choice_logits(bert: BertModel, head: nn.Module, input_ids: torch.Tensor,
                           attention_mask: torch.Tensor | None = None,
                           token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
    """Scores of every choice: (batch, num_choices, length) inputs → (batch, num_choices) logits.

    The three inputs (any of the last two may be None) are flattened to (batch·num_choices, length) with ``view``, so
    that row ``b·num_choices + c`` is choice c of question b; the encoder's ``pooler_output`` (the [CLS] vector after
    the pooler's dense + tanh) goes through ``head`` → (batch·num_choices, 1), and ``view(batch, num_choices)`` puts
    each score back with its question. Raw scores: no softmax (the loss applies it).
    """
    batch, num_choices, length = input_ids.shape

    def flat(x):
        return None if x is None else x.reshape(batch * num_choices, length)

    out = bert(input_ids=flat(input_ids), attention_mask=flat(attention_mask), token_type_ids=flat(token_type_ids),
               return_dict=True)
    scores = head(out.pooler_output)                        # (batch·num_choices, 1)
    return scores.view(batch, num_choices)


def multiple_choice_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the choices: logits (batch, num_choices), labels (batch,) int → mean over the batch."""
    return F.cross_entropy(logits, labels.long())


class BertMultipleChoiceModel(nn.Module):
    """Encoder + :class:`MultipleChoiceHead` + :func:`multiple_choice_loss` — ``BertForMultipleChoice`` rebuilt.

    ``logits_fn`` (default :func:`multiple_choice_logits`) may be replaced by the student's function with the same
    signature. ``forward`` returns a ``MultipleChoiceModelOutput`` (``.loss`` when ``labels`` are given, ``.logits``
    of shape (batch, num_choices)).
    """

    def __init__(self, encoder: BertModel, dropout_prob: float | None = None, logits_fn: Callable | None = None):
        super().__init__()
        cfg = encoder.config
        if dropout_prob is None:
            dropout_prob = cfg.classifier_dropout if cfg.classifier_dropout is not None else cfg.hidden_dropout_prob
        if getattr(encoder, "pooler", None) is None:
            raise ValueError("the encoder has no pooler (BertModel(config, add_pooling_layer=False)); multiple "
                             "choice scores the pooled [CLS] vector")
        self.bert = encoder
        self.head = MultipleChoiceHead(cfg.hidden_size, dropout_prob)
        nn.init.normal_(self.head.classifier.weight, std=cfg.initializer_range)   # transformers' init of a new head
        nn.init.zeros_(self.head.classifier.bias)
        self.logits_fn = logits_fn or multiple_choice_logits

    @classmethod
    def from_config(cls, config: BertConfig, **kwargs) -> "BertMultipleChoiceModel":
        return cls(BertModel(config, add_pooling_layer=True), **kwargs)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, **_ignored):
        logits = self.logits_fn(self.bert, self.head, input_ids, attention_mask, token_type_ids)
        loss = None if labels is None else multiple_choice_loss(logits, labels)
        return MultipleChoiceModelOutput(loss=loss, logits=logits)


def hf_key_map(hf_keys: Sequence[str]) -> dict[str, str]:
    """transformers' state-dict key → ours: ``classifier.*`` → ``head.classifier.*``; ``bert.*`` unchanged."""
    return {k: ("head." + k if k.startswith("classifier.") else k) for k in hf_keys}


def load_hf_multiple_choice(model: BertMultipleChoiceModel, hf_model: BertForMultipleChoice) -> BertMultipleChoiceModel:
    """Copy every weight of a ``BertForMultipleChoice`` into ``model`` (strict: no key may be missing or left over)."""
    state = hf_model.state_dict()
    mapping = hf_key_map(list(state))
    model.load_state_dict({mapping[k]: v for k, v in state.items()}, strict=True)
    return model


# --------------------------------------------------------------------------------------------- encoding
def encode_choices(tokenizer, question: str, choices: Sequence[str], max_length: int = 64) -> dict[str, list]:
    """One question and its choices → ``{"input_ids", "token_type_ids", "attention_mask"}``, each a list of
    ``len(choices)`` lists of ints (row c is ``[CLS] question [SEP] choice_c [SEP]``).

    token_type_ids are 0 for ``[CLS] question [SEP]`` and 1 for ``choice [SEP]``; attention_mask is all 1 (no padding
    here: :class:`mtbert_ref.data.PaddingCollator` pads each batch to its longest sequence). A pair longer than
    ``max_length`` tokens loses tokens from the *end of the question* first — the choice is what is being judged, so it
    is kept whole (only a choice that does not fit even with an empty question is cut as well). This is what
    ``tokenizer([question] * n, choices, truncation="only_first", max_length=max_length)`` returns whenever the choices
    fit.
    """
    q_ids = tokenizer(question, add_special_tokens=False)["input_ids"]
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    budget = max_length - 3
    if budget < 1:
        raise ValueError(f"max_length={max_length} leaves no room for [CLS] question [SEP] choice [SEP]")
    out: dict[str, list] = {"input_ids": [], "token_type_ids": [], "attention_mask": []}
    for choice in choices:
        c_ids = tokenizer(choice, add_special_tokens=False)["input_ids"]
        q = q_ids[:max(0, budget - len(c_ids))] if len(q_ids) + len(c_ids) > budget else q_ids
        c = c_ids[:budget - len(q)]
        ids = [cls_id] + q + [sep_id] + c + [sep_id]
        out["input_ids"].append(ids)
        out["token_type_ids"].append([0] * (len(q) + 2) + [1] * (len(c) + 1))
        out["attention_mask"].append([1] * len(ids))
    return out


def encode_dataset(tokenizer, items: Sequence[dict], max_length: int = 64,
                   encode_fn: Callable | None = None) -> EncodedDataset:
    """Encode questions (dicts with "question", "choices", "label") for :class:`~mtbert_ref.data.PaddingCollator`:
    each example is ``encode_fn(tokenizer, question, choices, max_length)`` plus ``labels`` (an int)."""
    encode_fn = encode_fn or encode_choices
    examples = []
    for it in items:
        enc = encode_fn(tokenizer, it["question"], it["choices"], max_length)
        examples.append({"input_ids": [list(map(int, r)) for r in enc["input_ids"]],
                         "token_type_ids": [list(map(int, r)) for r in enc["token_type_ids"]],
                         "attention_mask": [list(map(int, r)) for r in enc["attention_mask"]],
                         "labels": int(it["label"])})
    return EncodedDataset(examples)


# --------------------------------------------------------------------------------------------- metrics, baselines
def mc_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Share (0..1, a Python float) of questions whose highest-scoring choice is the labelled one.

    logits: (batch, num_choices) float on any device; labels: (batch,) int. Ties go to the first maximal choice
    (``argmax``). An empty batch has no accuracy: ValueError.
    """
    if logits.shape[0] == 0:
        raise ValueError("mc_accuracy of an empty batch is undefined")
    pred = logits.argmax(dim=-1)
    return float((pred == labels.to(pred.device).long()).double().mean().item())


@torch.no_grad()
def similarity_scores(encoder: BertModel, tokenizer, items: Sequence[dict], device="cpu", batch_size: int = 64,
                      max_length: int = 64) -> torch.Tensor:
    """Zero-shot scores without any head: cosine similarity between the mean-pooled embedding of the question and of
    each choice (what all-MiniLM-L6-v2 was trained for). Returns (len(items), num_choices) on the CPU."""
    encoder.eval().to(device)

    def embed(texts: list[str]) -> torch.Tensor:
        vecs = []
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(texts[i:i + batch_size], padding=True, truncation=True, max_length=max_length,
                            return_tensors="pt").to(device)
            h = encoder(**enc).last_hidden_state
            m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
            vecs.append(F.normalize((h * m).sum(1) / m.sum(1).clamp(min=1), dim=-1).float().cpu())
        return torch.cat(vecs)

    q = embed([it["question"] for it in items])
    n = len(items[0]["choices"])
    c = embed([ch for it in items for ch in it["choices"]]).view(len(items), n, -1)
    return torch.einsum("bh,bch->bc", q, c)


def plot_choice_probabilities(items: Sequence[dict], probs_before, probs_after, n: int = 6,
                              title: str = "Probability given to each choice", wrap: int = 48):
    """Bar charts of the choice probabilities of ``n`` questions before and after fine-tuning (the right choice in
    green)."""
    import textwrap

    import matplotlib.pyplot as plt

    n = min(n, len(items))
    fig, axes = plt.subplots(n, 1, figsize=(8, 1.55 * n + 0.6), squeeze=False)
    for k in range(n):
        ax = axes[k, 0]
        it = items[k]
        y = np.arange(len(it["choices"]))
        before = np.asarray(probs_before[k], dtype=float)
        after = np.asarray(probs_after[k], dtype=float)
        ax.barh(y + 0.2, before, height=0.4, color="#bbbbbb", label="before fine-tuning")
        colors = ["#2a9d3c" if j == it["label"] else "#c0504d" for j in range(len(y))]
        ax.barh(y - 0.2, after, height=0.4, color=colors, label="after (green = right answer)")
        ax.set_yticks(y, [textwrap.shorten(c, 28) for c in it["choices"]], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_title(textwrap.shorten(it["question"], wrap * 2), fontsize=8, loc="left")
        if k == n - 1:
            ax.set_xlabel("probability (softmax over the 4 choices)")
        if k == 0:
            ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------- checkers
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
        bert, head = _tiny_mc_parts(seed + i, device)
        ids, mask, types = _mc_inputs(seed + 10 + i, case["batch"], case["choices"], case["length"], device,
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
        from .backbone import load_tokenizer
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
        cases += [
            ("7 questions with 2 choices", torch.randn(7, 2, generator=g), torch.randint(0, 2, (7,), generator=g)),
            ("one question with 5 choices", torch.randn(1, 5, generator=g), torch.tensor([3])),
            ("4 questions with 4 choices, none right", torch.eye(4)[[1, 2, 3, 0]], torch.tensor([0, 1, 2, 3])),
            ("6 questions, float64 logits and int32 labels", torch.randn(6, 4, generator=g).double(),
             torch.randint(0, 4, (6,), generator=g).int()),
            ("4 questions with 6 choices (batch < choices)", torch.randn(4, 6, generator=g),
             torch.tensor([5, 0, 2, 5])),
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
            if abs(got - want * n) < 1e-9 and n > 1 and want > 0:
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
