"""Notebook 01 — masked language modelling (MLM): references, helpers and checkers.

BERT learns language by filling in blanks. A sentence is tokenised, ~15% of its tokens are chosen, most of them are
replaced by ``[MASK]``, and the model must predict the original token at each chosen position. The MLM head turns a
final hidden vector (``hidden`` numbers) into a score for every word of the vocabulary (``vocab_size`` numbers).

Reference implementations:

* :class:`MLMHead` — dense → activation → LayerNorm, then a decoder whose weight *is* the word-embedding matrix
  (weight tying), plus a per-token output bias. ``masked_positions`` computes the vocabulary projection only where
  it is needed.
* :func:`mask_tokens` — BERT's 15% / 80-10-10 corruption, seeded, never touching special tokens or padding.
* :func:`mlm_loss` — cross-entropy over the labelled positions only (label ``-100`` = ignored).
* :class:`BertMLM` — ``BertModel`` (no pooler) + :class:`MLMHead`; loads the weights of transformers'
  ``BertForMaskedLM`` (:func:`hf_to_mtbert_key`) and gives the same logits and loss.

Helpers for the notebook: :func:`fill_mask`, :func:`load_text_corpus`, :func:`chunk_documents`,
:class:`MLMCollator`, :func:`make_eval_set`, :func:`unigram_topk`, :func:`masked_token_accuracy`.

Checkers: :func:`check_mlm_head`, :func:`check_mask_tokens`, :func:`check_mlm_loss`.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from typing import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertForMaskedLM, BertModel
from transformers.activations import ACT2FN
from transformers.modeling_outputs import MaskedLMOutput

from .backbone import tiny_bert_config
from .checking import GradingError, call_student, clone_inputs, expect_tensor, expect_unchanged, passed
from .data import PaddingCollator, data_path

__all__ = [
    "IGNORE_INDEX",
    "MLMTransform",
    "MLMHead",
    "mask_tokens",
    "mlm_loss",
    "BertMLM",
    "hf_to_mtbert_key",
    "load_hf_mlm_weights",
    "fill_mask",
    "load_text_corpus",
    "chunk_documents",
    "MLMCollator",
    "make_eval_set",
    "unigram_topk",
    "masked_token_accuracy",
    "check_mlm_head",
    "check_mask_tokens",
    "check_mlm_loss",
]

IGNORE_INDEX = -100  # the label of a position that is not predicted (PyTorch's cross_entropy default ignore_index)


# ============================================================================================== references
class MLMTransform(nn.Module):
    """The head's own little layer: ``LayerNorm(act(dense(h)))``, hidden → hidden.

    BERT's hidden states at the last layer are shaped for the next (non-existent) layer; this transform re-shapes
    them into the space of the word embeddings before they are compared with every word of the vocabulary.
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = ACT2FN[config.hidden_act] if isinstance(config.hidden_act, str) else config.hidden_act
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.act(self.dense(hidden_states)))


class MLMHead(nn.Module):
    """BERT's masked-language-model head, with the decoder tied to the input word embeddings.

    Submodules and parameters (the names match transformers' ``cls.predictions``; see :func:`hf_to_mtbert_key`):

    * ``transform``: :class:`MLMTransform` (``dense`` hidden→hidden, activation ``config.hidden_act``,
      ``LayerNorm`` with ``config.layer_norm_eps``);
    * ``decoder``: ``nn.Linear(hidden, vocab, bias=False)`` whose ``weight`` **is** ``word_embeddings.weight`` —
      the same ``nn.Parameter`` object, so one matrix is both the input lookup table and the output projection
      (it saves ``vocab * hidden`` parameters — 11.7M for MiniLM — and every gradient reaches both uses);
    * ``bias``: ``nn.Parameter`` of shape ``(vocab,)``, zeros at initialisation: a per-word offset (it learns roughly
      the log-frequency of each word).

    ``forward(sequence_output, masked_positions=None)``: ``sequence_output`` (batch, seq, hidden) → logits
    (batch, seq, vocab). With ``masked_positions`` (bool, (batch, seq)) only the selected positions are projected and
    the result is (n_masked, vocab), rows in row-major order (``sequence_output[masked_positions]``). With 15% of the
    tokens masked this skips ~85% of the vocabulary projection, the most expensive matrix product of the head.
    """

    def __init__(self, config: BertConfig, word_embeddings: nn.Embedding):
        super().__init__()
        if word_embeddings.weight.shape != (config.vocab_size, config.hidden_size):
            raise ValueError(f"word_embeddings.weight has shape {tuple(word_embeddings.weight.shape)}, expected "
                             f"(vocab_size, hidden_size) = ({config.vocab_size}, {config.hidden_size})")
        self.transform = MLMTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.decoder.weight = word_embeddings.weight          # tie: the same Parameter object, not a copy
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, sequence_output: torch.Tensor, masked_positions: torch.Tensor | None = None) -> torch.Tensor:
        if masked_positions is not None:
            sequence_output = sequence_output[masked_positions.bool()]   # (n_masked, hidden)
        return self.decoder(self.transform(sequence_output)) + self.bias


def mask_tokens(input_ids: torch.Tensor, special_tokens_mask: torch.Tensor, mask_token_id: int, vocab_size: int,
                mlm_probability: float = 0.15, generator: torch.Generator | None = None, *,
                mask_replace_prob: float = 0.8, random_replace_prob: float = 0.1
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's input corruption for masked language modelling.

    Arguments:
        input_ids: (batch, seq) int64 token ids. Never modified.
        special_tokens_mask: (batch, seq) bool (or 0/1) — True where a token must never be chosen: ``[CLS]``,
            ``[SEP]`` and padding. (Tokenizers give it with ``return_special_tokens_mask=True``; the course's
            PaddingCollator pads it with 1, so padding is covered.)
        mask_token_id: id of ``[MASK]``; vocab_size: random replacements are drawn uniformly from ``[0, vocab_size)``.
        mlm_probability: chance that an eligible token is chosen (0.15 in BERT).
        generator: a ``torch.Generator`` on ``input_ids.device`` (None → the global generator); the same seed gives
            the same result.
        mask_replace_prob / random_replace_prob: of the chosen tokens, the share replaced by ``[MASK]`` (0.8) and by
            a random token (0.1); the rest (0.1) stay as they are. ``mask_replace_prob=1`` masks every chosen token
            (used for evaluation).

    Returns ``(masked_input_ids, labels)``, both (batch, seq) int64 on ``input_ids.device``: the corrupted ids, and
    the original id at chosen positions with ``-100`` everywhere else.

    Why 80-10-10: at fine-tuning time there is no ``[MASK]`` in the input, so the model must also produce a good
    representation for ordinary tokens; the 10% random and 10% unchanged positions force it to doubt every token.
    """
    device = input_ids.device
    shape = input_ids.shape
    eligible = ~special_tokens_mask.to(device=device, dtype=torch.bool)

    def draw() -> torch.Tensor:
        return torch.rand(shape, generator=generator, device=device)

    chosen = (draw() < mlm_probability) & eligible
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    u = draw()                                         # one uniform number decides the fate of each chosen token
    to_mask = chosen & (u < mask_replace_prob)
    to_random = chosen & (u >= mask_replace_prob) & (u < mask_replace_prob + random_replace_prob)
    random_ids = torch.randint(vocab_size, shape, generator=generator, device=device, dtype=input_ids.dtype)
    masked = torch.where(to_mask, torch.full_like(input_ids, mask_token_id), input_ids)
    masked = torch.where(to_random, random_ids, masked)
    return masked, labels


def mlm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the positions whose label is not -100.

    Two layouts are accepted:

    * full: logits (batch, seq, vocab) and labels (batch, seq) — positions labelled -100 are ignored;
    * masked: logits (n_masked, vocab) from ``MLMHead(..., masked_positions=labels != -100)``. Its rows are the
      labelled positions in row-major order, so the matching targets are ``labels[labels != -100]`` (selected here
      when ``labels`` is (batch, seq); a 1-D ``labels`` of length n_masked is used as it is).

    When no position is labelled the loss is 0 (still connected to the graph) rather than the NaN of an empty mean.
    Returns a 0-dim tensor in the dtype of ``logits``.
    """
    vocab = logits.shape[-1]
    if logits.dim() == labels.dim() + 1 and logits.shape[:-1] == labels.shape:
        flat_logits, flat_labels = logits.reshape(-1, vocab), labels.reshape(-1)       # full layout
    else:
        flat_labels = labels[labels != IGNORE_INDEX] if labels.dim() > 1 else labels   # masked layout
        flat_logits = logits.reshape(-1, vocab)
        if flat_logits.shape[0] != flat_labels.shape[0]:
            raise ValueError(f"logits has {flat_logits.shape[0]} rows but labels select {flat_labels.shape[0]} "
                             "positions; in the masked layout compute the logits with masked_positions=labels != -100")
    keep = flat_labels != IGNORE_INDEX
    if not bool(keep.any()):
        return flat_logits.sum() * 0.0
    return F.cross_entropy(flat_logits[keep], flat_labels[keep])


# ---------------------------------------------------------------------------------------------- the model
def hf_to_mtbert_key(key: str) -> str | None:
    """Map a key of transformers' ``BertForMaskedLM.state_dict()`` to :class:`BertMLM`'s (None: not needed).

    ``bert.*`` stays ``bert.*``; ``cls.predictions.transform.*`` → ``head.transform.*``;
    ``cls.predictions.decoder.weight`` → ``head.decoder.weight`` (the tied embedding: same values);
    ``cls.predictions.bias`` → ``head.bias``; ``cls.predictions.decoder.bias`` is transformers' alias of that bias
    and is dropped, as is a pooler (BertForMaskedLM has none, but a BertForPreTraining checkpoint has one).
    """
    if key.startswith("bert.pooler.") or key == "cls.predictions.decoder.bias":
        return None
    if key.startswith("bert."):
        return key
    if key.startswith("cls.predictions."):
        return "head." + key[len("cls.predictions."):]
    return None


class BertMLM(nn.Module):
    """A BERT encoder (``BertModel`` without pooler) with an MLM head on top.

    ``BertMLM(config)`` builds random weights; :meth:`from_encoder` puts a head on an existing encoder (the weights
    are shared, not copied); :meth:`from_hf` converts a transformers ``BertForMaskedLM``. ``head_cls`` lets the
    notebook plug in the student's own head class (same constructor as :class:`MLMHead`).

    ``forward(input_ids, attention_mask=None, token_type_ids=None, labels=None, masked_positions=None)`` returns a
    ``MaskedLMOutput`` (``.loss``, ``.logits``, also usable as a dict). With ``only_masked=True`` (attribute, or the
    ``masked_positions`` argument) the logits are computed only at labelled positions — the fast way to train.
    """

    def __init__(self, config: BertConfig, encoder: BertModel | None = None, head_cls: type[nn.Module] = MLMHead,
                 only_masked: bool = False):
        super().__init__()
        self.config = config
        self.bert = encoder if encoder is not None else BertModel(config, add_pooling_layer=False)
        self.head = head_cls(config, self.bert.embeddings.word_embeddings)
        self.only_masked = only_masked

    @classmethod
    def from_encoder(cls, encoder: BertModel, head_cls: type[nn.Module] = MLMHead, **kwargs) -> "BertMLM":
        model = cls(encoder.config, encoder=encoder, head_cls=head_cls, **kwargs)
        return model.to(next(encoder.parameters()).device)

    @classmethod
    def from_hf(cls, hf_model: BertForMaskedLM, head_cls: type[nn.Module] = MLMHead, **kwargs) -> "BertMLM":
        model = cls(hf_model.config, head_cls=head_cls, **kwargs)
        load_hf_mlm_weights(model, hf_model.state_dict())
        return model.to(next(hf_model.parameters()).device)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                masked_positions: torch.Tensor | None = None, **unused) -> MaskedLMOutput:
        sequence_output = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                                    token_type_ids=token_type_ids).last_hidden_state
        if masked_positions is None and self.only_masked and labels is not None:
            masked_positions = labels != IGNORE_INDEX
        logits = self.head(sequence_output, masked_positions=masked_positions)
        loss = mlm_loss(logits, labels) if labels is not None else None
        return MaskedLMOutput(loss=loss, logits=logits)


def load_hf_mlm_weights(model: BertMLM, hf_state_dict: dict) -> None:
    """Copy a ``BertForMaskedLM`` state dict into ``model`` (see :func:`hf_to_mtbert_key`); strict on both sides."""
    mapped = {}
    for k, v in hf_state_dict.items():
        new = hf_to_mtbert_key(k)
        if new is not None:
            mapped[new] = v
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    if missing or unexpected:
        raise KeyError(f"weights do not match BertMLM: missing {missing}, unexpected {unexpected}")
    if model.head.decoder.weight is not model.bert.embeddings.word_embeddings.weight:
        raise RuntimeError("after loading, the decoder weight is no longer tied to the word embeddings")


# ============================================================================================== notebook helpers
@torch.no_grad()
def fill_mask(text: str, model: nn.Module, tokenizer, top_k: int = 5, device=None) -> list[list[tuple[str, float]]]:
    """Top-``top_k`` predictions for every ``[MASK]`` in ``text``: one list of (token, probability) per mask.

    ``model`` is a :class:`BertMLM` or a transformers ``BertForMaskedLM`` (anything returning ``.logits`` of shape
    (1, seq, vocab)).
    """
    device = device if device is not None else next(model.parameters()).device
    enc = tokenizer(text, return_tensors="pt").to(device)
    model.eval()
    logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                   token_type_ids=enc.get("token_type_ids")).logits[0]
    where = (enc["input_ids"][0] == tokenizer.mask_token_id).nonzero().flatten()
    if where.numel() == 0:
        raise ValueError(f"no {tokenizer.mask_token} in {text!r}")
    out = []
    for pos in where.tolist():
        probs = logits[pos].float().softmax(-1)
        p, ids = probs.topk(top_k)
        out.append([(tokenizer.convert_ids_to_tokens(int(i)), float(q)) for q, i in zip(p, ids)])
    return out


def load_text_corpus(split: str | None = None) -> list[dict]:
    """The course's news corpus (``mtbert_ref/data/text_corpus/documents.jsonl``): a list of documents
    ``{"id", "source", "split", "sentences"}``; ``split`` = "train" or "test" keeps one split."""
    with open(data_path("text_corpus", "documents.jsonl"), encoding="utf-8") as fh:
        docs = [json.loads(line) for line in fh if line.strip()]
    return [d for d in docs if split is None or d["split"] == split]


def chunk_documents(documents: Sequence[dict], tokenizer, max_length: int = 64) -> list[dict]:
    """Tokenise each document's text and cut it into examples of at most ``max_length`` tokens ([CLS] … [SEP]).

    Sentences are packed in order until the next one would not fit (a sentence longer than a whole example is cut),
    so little of the sequence length is padding. Each example has ``input_ids`` and ``special_tokens_mask``.
    """
    room = max_length - 2
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    examples: list[dict] = []

    def emit(ids: list[int]) -> None:
        examples.append({"input_ids": [cls_id] + ids + [sep_id], "special_tokens_mask": [1] + [0] * len(ids) + [1]})

    for doc in documents:
        current: list[int] = []
        for sent in doc["sentences"]:
            ids = tokenizer(sent, add_special_tokens=False)["input_ids"]
            while len(ids) > room:                     # a very long sentence: cut it
                if current:
                    emit(current)
                    current = []
                emit(ids[:room])
                ids = ids[room:]
            if len(current) + len(ids) > room:
                emit(current)
                current = []
            current = current + ids
        if current:
            emit(current)
    return examples


class MLMCollator:
    """Pad a batch (dynamic padding) and corrupt it with :func:`mask_tokens` — new masks every time (dynamic
    masking, as in RoBERTa), reproducible through ``seed``. ``mask_fn`` may be the student's function."""

    def __init__(self, tokenizer, mlm_probability: float = 0.15, seed: int = 0, mask_fn: Callable = mask_tokens):
        self.pad = PaddingCollator(pad_token_id=tokenizer.pad_token_id)
        self.mask_token_id = tokenizer.mask_token_id
        self.vocab_size = len(tokenizer)
        self.mlm_probability = mlm_probability
        self.generator = torch.Generator().manual_seed(seed)
        self.mask_fn = mask_fn

    def __call__(self, examples: Sequence[dict]) -> dict[str, torch.Tensor]:
        batch = self.pad(examples)
        special = batch.pop("special_tokens_mask").bool()
        batch["input_ids"], batch["labels"] = self.mask_fn(batch["input_ids"], special, self.mask_token_id,
                                                           self.vocab_size, self.mlm_probability,
                                                           generator=self.generator)
        return batch


def make_eval_set(examples: Sequence[dict], tokenizer, mlm_probability: float = 0.15, seed: int = 1234,
                  batch_size: int = 64) -> list[dict[str, torch.Tensor]]:
    """Fixed evaluation batches: 15% of the tokens chosen with a fixed seed and *all* of them replaced by [MASK]
    (the fill-mask task itself), so every model is scored on exactly the same blanks."""
    pad = PaddingCollator(pad_token_id=tokenizer.pad_token_id)
    gen = torch.Generator().manual_seed(seed)
    batches = []
    for start in range(0, len(examples), batch_size):
        batch = pad(list(examples[start:start + batch_size]))
        special = batch.pop("special_tokens_mask").bool()
        batch["input_ids"], batch["labels"] = mask_tokens(batch["input_ids"], special, tokenizer.mask_token_id,
                                                          len(tokenizer), mlm_probability, gen,
                                                          mask_replace_prob=1.0, random_replace_prob=0.0)
        batches.append(batch)
    return batches


def unigram_topk(examples: Iterable[dict], k: int = 5) -> list[int]:
    """The ``k`` most frequent non-special token ids of ``examples`` (the baseline that ignores context)."""
    counts: Counter = Counter()
    for ex in examples:
        counts.update(t for t, s in zip(ex["input_ids"], ex["special_tokens_mask"]) if not s)
    return [t for t, _ in counts.most_common(k)]


@torch.no_grad()
def masked_token_accuracy(model: nn.Module | None, batches: Sequence[dict], device="cpu", ks: Sequence[int] = (1, 5),
                          constant_topk: Sequence[int] | None = None) -> dict[str, float]:
    """Top-k accuracy at the labelled positions of ``batches`` (from :func:`make_eval_set`).

    With ``constant_topk`` (a ranked list of token ids, e.g. :func:`unigram_topk`) the same guess is used everywhere
    and ``model`` is not needed: that is the unigram-frequency baseline. Returns {"top1": ..., "top5": ..., "n": ...}.
    """
    hits = {k: 0 for k in ks}
    n = 0
    if model is not None:
        model.eval()
    for batch in batches:
        labels = batch["labels"].to(device)
        positions = labels != IGNORE_INDEX
        targets = labels[positions]
        if constant_topk is not None:
            ranked = torch.tensor(list(constant_topk), device=device).expand(targets.shape[0], -1)
        else:
            out = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device),
                        masked_positions=positions)
            ranked = out.logits.topk(max(ks), dim=-1).indices
        for k in ks:
            hits[k] += int((ranked[:, :k] == targets[:, None]).any(-1).sum())
        n += int(targets.shape[0])
    return {**{f"top{k}": hits[k] / max(1, n) for k in ks}, "n": n}


# ============================================================================================== checkers
def _head_config(hidden_tests_case: int = 0) -> BertConfig:
    if hidden_tests_case == 1:
        return tiny_bert_config(vocab_size=57, hidden_size=24, num_attention_heads=4, layer_norm_eps=1e-7)
    if hidden_tests_case == 2:
        return tiny_bert_config(vocab_size=40, hidden_size=16, num_attention_heads=2, hidden_act="relu")
    return tiny_bert_config()


def _build_student_head(student_cls, config: BertConfig, device, dtype=torch.float32):
    """Build the student's head and the reference on the same embedding, give them the same weights."""
    emb = nn.Embedding(config.vocab_size, config.hidden_size).to(device=device, dtype=dtype)
    student = call_student(student_cls, config, emb, name="MLMHead", reference=MLMHead)
    if not isinstance(student, nn.Module):
        raise GradingError(f"MLMHead(config, word_embeddings) should build an nn.Module, got a {type(student).__name__}.")
    student.to(device=device, dtype=dtype)
    for attr in ("transform", "decoder", "bias"):
        if not hasattr(student, attr):
            raise GradingError(f"Your MLMHead has no attribute `self.{attr}`; the instructions ask for `self.transform`"
                               " (with `.dense` and `.LayerNorm`), `self.decoder` and `self.bias`.")
    for attr in ("dense", "LayerNorm"):
        if not hasattr(student.transform, attr):
            raise GradingError(f"Your MLMHead's `self.transform` has no `.{attr}`; give the transform the submodules "
                               "`dense` (nn.Linear(hidden, hidden)) and `LayerNorm` (nn.LayerNorm(hidden, eps=...)).")
    dec_w = getattr(student.decoder, "weight", None)
    if dec_w is not emb.weight:
        if isinstance(dec_w, torch.Tensor) and dec_w.shape == emb.weight.shape and torch.equal(dec_w.detach(),
                                                                                              emb.weight.detach()):
            raise GradingError("Your decoder weight has the values of the word embeddings but it is copied, not tied: "
                               "it is a different tensor, so training would update the two separately. Assign the "
                               "Parameter itself: `self.decoder.weight = word_embeddings.weight` (no .clone(), "
                               ".data or nn.Parameter(...) around it).")
        raise GradingError("Your decoder weight is not tied to the word embeddings: `head.decoder.weight is "
                           "word_embeddings.weight` is False (it is a new matrix of shape "
                           f"{tuple(dec_w.shape) if isinstance(dec_w, torch.Tensor) else None}). Assign "
                           "`self.decoder.weight = word_embeddings.weight`.")
    if not isinstance(student.bias, nn.Parameter) or tuple(student.bias.shape) != (config.vocab_size,):
        raise GradingError(f"`self.bias` should be an nn.Parameter of shape ({config.vocab_size},) (one per word of the "
                           f"vocabulary); got {type(student.bias).__name__} of shape "
                           f"{tuple(getattr(student.bias, 'shape', ()))}.")
    dec_b = getattr(student.decoder, "bias", None)
    if dec_b is not None and dec_b is not student.bias:
        raise GradingError("Your decoder has its own bias in addition to `self.bias`, so two biases are added. Create "
                           "the decoder with `nn.Linear(hidden, vocab, bias=False)`.")
    ref = MLMHead(config, emb).to(device=device, dtype=dtype)
    g = torch.Generator().manual_seed(config.vocab_size)
    with torch.no_grad():
        emb.weight.copy_(torch.randn(emb.weight.shape, generator=g).to(emb.weight))
        for name, p in [("transform.dense.weight", ref.transform.dense.weight),
                        ("transform.dense.bias", ref.transform.dense.bias),
                        ("transform.LayerNorm.weight", ref.transform.LayerNorm.weight),
                        ("transform.LayerNorm.bias", ref.transform.LayerNorm.bias), ("bias", ref.bias)]:
            p.copy_((torch.randn(p.shape, generator=g) * 0.5 + (1.0 if name.endswith("LayerNorm.weight") else 0.0))
                    .to(p))
        try:
            sd = student.transform
            for sub, attr in [(sd.dense, "weight"), (sd.dense, "bias"), (sd.LayerNorm, "weight"), (sd.LayerNorm, "bias")]:
                target = getattr(sub, attr)
                source = getattr(ref.transform.dense if sub is sd.dense else ref.transform.LayerNorm, attr)
                if target is None or target.shape != source.shape:
                    raise GradingError(f"Your transform's {type(sub).__name__}.{attr} has shape "
                                       f"{None if target is None else tuple(target.shape)}, expected "
                                       f"{tuple(source.shape)}.")
                target.copy_(source)
            student.bias.copy_(ref.bias)
        except GradingError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise GradingError(f"Could not give your MLMHead the reference weights: {exc}") from None
    return student, ref, emb


def check_mlm_head(student_cls, device="cpu", hidden_tests: bool = False) -> None:
    """Build the student's ``MLMHead(config, word_embeddings)``, check the tie, give it the reference's weights and
    compare logits (full layout and masked-positions layout)."""
    device = torch.device(device)
    cases = [(0, torch.float32)]
    if hidden_tests:
        cases += [(1, torch.float32), (2, torch.float32), (0, torch.float64)]
    n_checks = 0
    for case, dtype in cases:
        config = _head_config(case)
        student, ref, emb = _build_student_head(student_cls, config, device, dtype)
        g = torch.Generator().manual_seed(100 + case)
        batch, seq = (3, 7) if case == 0 else (2, 11)
        h = torch.randn(batch, seq, config.hidden_size, generator=g).to(device=device, dtype=dtype)
        positions = torch.rand(batch, seq, generator=g) < 0.3
        positions[0, 0] = True
        positions = positions.to(device)
        what = f"MLMHead(config with hidden_size={config.hidden_size}, vocab_size={config.vocab_size}, " \
               f"hidden_act={config.hidden_act!r}) on sequence_output of shape {tuple(h.shape)} ({dtype})"
        before = clone_inputs((h, positions))
        student.eval()
        with torch.no_grad():
            got = call_student(student, h, name="MLMHead.forward")
            want = ref(h)
        expect_unchanged(before, (h, positions), "sequence_output")
        if isinstance(got, torch.Tensor) and got.shape == want.shape and not torch.allclose(got, want, atol=1e-4):
            no_bias = ref.decoder(ref.transform(h))
            order = ref.decoder(ref.transform.act(ref.transform.LayerNorm(ref.transform.dense(h)))) + ref.bias
            no_act = ref.decoder(ref.transform.LayerNorm(ref.transform.dense(h))) + ref.bias
            for alt, hint in [(no_bias, "they equal the reference without `+ self.bias`: add the output bias."),
                              (order, "they equal LayerNorm applied before the activation: the order is dense → "
                                      "activation → LayerNorm."),
                              (no_act, f"they equal the reference without the activation: apply "
                                       f"config.hidden_act ({config.hidden_act!r}) after dense.")]:
                if torch.allclose(got.detach(), alt, atol=1e-5, rtol=1e-4):
                    raise GradingError(f"The logits of {what} are wrong: {hint}")
            if config.hidden_act != "gelu":
                hint_act = (f" The config asks for hidden_act={config.hidden_act!r}: pick the activation from the "
                            "config (`ACT2FN[config.hidden_act]`), do not hard-code GELU.")
                gelu_alt = ref.decoder(ref.transform.LayerNorm(F.gelu(ref.transform.dense(h)))) + ref.bias
                if torch.allclose(got.detach(), gelu_alt, atol=1e-5, rtol=1e-4):
                    raise GradingError(f"The logits of {what} are wrong.{hint_act}")
        expect_tensor(got, want, f"The logits of {what}")
        with torch.no_grad():
            got_m = call_student(student, h, masked_positions=positions, name="MLMHead.forward")
            want_m = ref(h, masked_positions=positions)
        if isinstance(got_m, torch.Tensor) and got_m.shape == want.shape:
            raise GradingError(f"With masked_positions (a bool mask selecting {int(positions.sum())} positions) your head "
                               f"returned shape {tuple(got_m.shape)}; it should return only the selected rows, shape "
                               f"({int(positions.sum())}, {config.vocab_size}) — select `sequence_output[masked_positions]`"
                               " before the transform.")
        expect_tensor(got_m, want_m, f"The logits of {what} with masked_positions selecting "
                                     f"{int(positions.sum())} positions")
        n_checks += 2
    # the tie must carry gradients: a loss on the logits must reach the embedding matrix through the decoder
    if hidden_tests:
        config = _head_config(0)
        student, ref, emb = _build_student_head(student_cls, config, device)
        student.train()
        h = torch.randn(2, 5, config.hidden_size, generator=torch.Generator().manual_seed(5)).to(device)
        out = call_student(student, h, name="MLMHead.forward")
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            raise GradingError("The logits of your MLMHead carry no gradient: do not use .detach(), .data or "
                               "torch.no_grad() in forward.")
        out.float().logsumexp(-1).sum().backward()
        if emb.weight.grad is None or not bool(emb.weight.grad.abs().sum() > 0):
            raise GradingError("No gradient reached the word-embedding matrix through your decoder: use "
                               "`self.decoder(...)` (or `self.decoder.weight`) without .detach() or torch.no_grad().")
        n_checks += 1
    passed(f"MLMHead is tied to the word embeddings and matches the reference ({n_checks} comparisons on "
           f"{device.type})")


def _mask_inputs(seed: int, batch: int, seq: int, vocab: int, device, pad_fraction: float = 0.3):
    """Random token ids with [CLS] at 0, [SEP] at the end of each row's real tokens, padding after."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (batch, seq), generator=g)
    lengths = torch.randint(max(3, int(seq * (1 - pad_fraction))), seq + 1, (batch,), generator=g)
    lengths[0] = seq
    pos = torch.arange(seq)[None, :]
    ids[:, 0] = 2                                            # [CLS]
    ids[pos == (lengths[:, None] - 1)] = 3                   # [SEP]
    ids[pos >= lengths[:, None]] = 0                         # [PAD]
    special = (pos == 0) | (pos >= lengths[:, None] - 1)
    return ids.to(device), special.to(device)


def _student_masks(student_fn, ids, special, mask_id, vocab, prob, seed, device):
    gen = torch.Generator(device=device).manual_seed(seed)
    out = call_student(student_fn, ids, special, mask_id, vocab, prob, generator=gen, name="mask_tokens",
                       reference=mask_tokens)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise GradingError(f"mask_tokens should return a pair (masked_input_ids, labels); got {type(out).__name__}"
                           + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "") + ".")
    masked, labels = out
    for name, t in (("masked_input_ids", masked), ("labels", labels)):
        if not isinstance(t, torch.Tensor):
            raise GradingError(f"mask_tokens returned {name} as a {type(t).__name__}; it should be a torch.Tensor.")
        if tuple(t.shape) != tuple(ids.shape):
            raise GradingError(f"mask_tokens returned {name} of shape {tuple(t.shape)}; expected the shape of input_ids, "
                               f"{tuple(ids.shape)}.")
        if t.dtype != torch.long:
            raise GradingError(f"mask_tokens returned {name} of dtype {t.dtype}; expected torch.int64 (token ids).")
        if t.device.type != ids.device.type:
            raise GradingError(f"mask_tokens returned {name} on {t.device}; expected {ids.device} (the device of "
                               "input_ids).")
    return masked, labels


def _bounds(p: float, n: int, sigmas: float = 5.0) -> tuple[float, float]:
    sd = math.sqrt(p * (1 - p) / max(1, n))
    return p - sigmas * sd - 1e-9, p + sigmas * sd + 1e-9


def check_mask_tokens(student_fn, device="cpu", hidden_tests: bool = False) -> None:
    """Check the student's ``mask_tokens(input_ids, special_tokens_mask, mask_token_id, vocab_size, mlm_probability,
    generator=...)`` statistically (its random draws cannot equal the reference's): proportions within 5 standard
    deviations, special tokens and padding never chosen, labels, input untouched, reproducible with a seed."""
    device = torch.device(device)
    mask_id, vocab = 4, 1000
    cases = [(0, 64, 96, 0.15)]
    if hidden_tests:
        cases += [(1, 96, 64, 0.3), (2, 128, 48, 0.15)]
    for seed, batch, seq, prob in cases:
        ids, special = _mask_inputs(seed, batch, seq, vocab, device)
        before = clone_inputs((ids, special))
        masked, labels = _student_masks(student_fn, ids, special, mask_id, vocab, prob, seed, device)
        expect_unchanged(before, (ids, special), "input_ids (or special_tokens_mask)")
        chosen = labels != IGNORE_INDEX
        if float(chosen.float().mean()) > 0.9:
            raise GradingError(f"labels has a token id at {float(chosen.float().mean()):.0%} of the positions; labels "
                               "must be -100 at every position that was not chosen (only ~15% of the real tokens).")
        if bool((chosen & special).any()):
            i = tuple(int(x) for x in (chosen & special).nonzero()[0])
            kind = "padding" if int(ids[i]) == 0 else "a special token ([CLS]/[SEP])"
            raise GradingError(f"mask_tokens chose position {i}, which is {kind}: positions where special_tokens_mask is "
                               "True must never be chosen (set their probability to 0 before sampling).")
        if bool((labels[chosen] != ids[chosen]).any()):
            raise GradingError("At chosen positions the label must be the ORIGINAL token id (from input_ids), not the "
                               "masked or random id.")
        if bool(((labels != IGNORE_INDEX) != chosen).any()) or bool((labels[~chosen] != IGNORE_INDEX).any()):
            raise GradingError("labels must be -100 at every position that was not chosen.")
        if bool((masked[~chosen] != ids[~chosen]).any()):
            i = tuple(int(x) for x in ((masked != ids) & ~chosen).nonzero()[0])
            raise GradingError(f"masked_input_ids differs from input_ids at position {i}, whose label is -100: only "
                               "chosen positions (those with a label) may change.")
        eligible = ~special
        n_eligible = int(eligible.sum())
        n_chosen = int(chosen.sum())
        rate = n_chosen / n_eligible
        lo, hi = _bounds(prob, n_eligible)
        if not lo <= rate <= hi:
            everything = n_chosen / ids.numel()
            hint = " (it is close to the rate over ALL positions: count only non-special tokens)" \
                if abs(everything - prob) < abs(rate - prob) else ""
            raise GradingError(f"mask_tokens chose {rate:.1%} of the {n_eligible} eligible tokens with "
                               f"mlm_probability={prob}; expected {prob:.0%} (between {lo:.1%} and {hi:.1%}){hint}.")
        to_mask = chosen & (masked == mask_id)
        unchanged = chosen & (masked == ids)
        random_ = chosen & (masked != mask_id) & (masked != ids)
        shares = {"[MASK]": int(to_mask.sum()) / n_chosen, "unchanged": int(unchanged.sum()) / n_chosen,
                  "random": int(random_.sum()) / n_chosen}
        expected = {"[MASK]": 0.8, "unchanged": 0.1 + 0.1 / vocab, "random": 0.1 - 0.1 / vocab}
        for key, p in expected.items():
            lo, hi = _bounds(p, n_chosen)
            if not lo <= shares[key] <= hi:
                got = ", ".join(f"{k} {v:.1%}" for k, v in shares.items())
                raise GradingError(f"Of the {n_chosen} chosen tokens: {got}; expected about 80% [MASK], 10% random, "
                                   f"10% unchanged ({key} should be between {lo:.1%} and {hi:.1%}). Draw one uniform "
                                   "number per position and split it 0.8 / 0.1 / 0.1, or take 50% of the non-[MASK] "
                                   "ones for random tokens.")
        rnd = masked[random_]
        if rnd.numel() and (int(rnd.min()) < 0 or int(rnd.max()) >= vocab):
            raise GradingError(f"Random replacement ids must be in [0, vocab_size={vocab}); got values from "
                               f"{int(rnd.min())} to {int(rnd.max())}.")
        if rnd.numel() >= 20 and rnd.unique().numel() < rnd.numel() // 4:
            raise GradingError(f"The {rnd.numel()} random replacements use only {rnd.unique().numel()} different ids; "
                               "draw each one uniformly from [0, vocab_size) (torch.randint).")
        # reproducible with a seeded generator, different with another seed
        again, labels2 = _student_masks(student_fn, ids, special, mask_id, vocab, prob, seed, device)
        if not (torch.equal(again, masked) and torch.equal(labels2, labels)):
            raise GradingError("Two calls with generators seeded the same gave different results: pass "
                               "`generator=generator` to every random function (torch.rand, torch.randint, ...).")
        other, _ = _student_masks(student_fn, ids, special, mask_id, vocab, prob, seed + 1000, device)
        if torch.equal(other, masked):
            raise GradingError("Generators with different seeds gave the same masks: the randomness must come from "
                               "the `generator` argument.")
    if hidden_tests:
        # a row made only of special tokens and padding: nothing may be chosen; mlm_probability=0 chooses nothing
        ids, special = _mask_inputs(7, 4, 16, vocab, device)
        special[1] = True
        masked, labels = _student_masks(student_fn, ids, special, mask_id, vocab, 0.5, 7, device)
        if bool((labels[1] != IGNORE_INDEX).any()):
            raise GradingError("A row whose tokens are all special/padding got a label: such a row must stay untouched.")
        masked, labels = _student_masks(student_fn, ids, special, mask_id, vocab, 0.0, 7, device)
        if bool((labels != IGNORE_INDEX).any()) or not torch.equal(masked, ids):
            raise GradingError("With mlm_probability=0 nothing should be chosen (labels all -100, input unchanged).")
    passed(f"mask_tokens: rates within statistical bounds, special tokens and padding untouched, labels right, "
           f"input unchanged, reproducible ({len(cases)} batch(es) on {device.type})")


def check_mlm_loss(student_fn, device="cpu", hidden_tests: bool = False) -> None:
    """Compare the student's ``mlm_loss(logits, labels)`` with the reference in both layouts."""
    device = torch.device(device)
    cases = [("full", 0, torch.float32), ("masked", 1, torch.float32)]
    if hidden_tests:
        cases += [("full", 2, torch.float64), ("masked", 3, torch.float64), ("masked-1d", 4, torch.float32),
                  ("none", 5, torch.float32)]
    for layout, seed, dtype in cases:
        g = torch.Generator().manual_seed(seed)
        batch, seq, vocab = 4, 9, 23
        labels = torch.randint(vocab, (batch, seq), generator=g)
        keep = torch.rand(batch, seq, generator=g) < 0.3
        keep[0, 1] = True
        if layout == "none":
            keep[:] = False
        labels = torch.where(keep, labels, torch.full_like(labels, IGNORE_INDEX)).to(device)
        full_logits = (torch.randn(batch, seq, vocab, generator=g) * 3).to(device=device, dtype=dtype)
        if layout in ("full", "none"):
            logits, lab = full_logits, labels
            what = f"mlm_loss on logits {tuple(logits.shape)} and labels {tuple(lab.shape)} (full layout)"
        else:
            logits = full_logits[labels != IGNORE_INDEX]
            lab = labels if layout == "masked" else labels[labels != IGNORE_INDEX]
            what = (f"mlm_loss on logits {tuple(logits.shape)} (only the {logits.shape[0]} masked positions) and labels "
                    f"{tuple(lab.shape)} (masked layout)")
        before = clone_inputs((logits, lab))
        got = call_student(student_fn, logits, lab, name="mlm_loss", reference=mlm_loss)
        expect_unchanged(before, (logits, lab), "An input of mlm_loss")
        want = mlm_loss(logits, lab)
        if layout == "none":
            what += " when no position is labelled"
            if isinstance(got, torch.Tensor) and not torch.isfinite(got).all():
                raise GradingError(f"{what} returned {got.item()}; with nothing to predict return 0 (e.g. "
                                   "`logits.sum() * 0.0`), not the NaN of an empty mean.")
        if isinstance(got, torch.Tensor) and got.shape == want.shape and layout in ("full", "masked"):
            flat = full_logits.reshape(-1, vocab).double()
            everywhere = F.cross_entropy(flat, labels.reshape(-1).clamp(min=0)).to(dtype)
            summed = F.cross_entropy(flat, labels.reshape(-1), reduction="sum").to(dtype)
            for alt, hint in [(everywhere, "it averages over every position: ignore positions whose label is -100 "
                                           "(`ignore_index=-100`)."),
                              (summed, "it is the sum over positions: take the mean over labelled positions.")]:
                if torch.allclose(got.detach().double(), alt.double(), rtol=1e-5):
                    raise GradingError(f"{what} is wrong: {hint}")
        expect_tensor(got, want, what)
        if dtype == torch.float32 and layout != "none":
            lg = logits.detach().clone().requires_grad_(True)
            out = call_student(student_fn, lg, lab, name="mlm_loss", reference=mlm_loss)
            if not isinstance(out, torch.Tensor) or not out.requires_grad:
                raise GradingError(f"{what} returned a loss with no gradient: do not use .item(), .detach() or "
                                   "torch.no_grad() inside mlm_loss.")
    passed(f"mlm_loss matches the reference in the full and the masked layouts ({len(cases)} cases on {device.type})")
