"""Correct answers of notebook 02, written differently from the reference and from each other (see
answers_00_01 for the rules every entry follows)."""

ANSWERS = {
    "02_nsp_pretraining_clm": {
        "nsp_head": [
            '''from torch import nn


class NSPHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.seq_relationship = nn.Linear(config.hidden_size, 2)

    def forward(self, pooled_output):
        return pooled_output @ self.seq_relationship.weight.T + self.seq_relationship.bias
''',
            '''import torch.nn.functional as F
from torch import nn


class NSPHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.seq_relationship = nn.Linear(in_features=config.hidden_size, out_features=2, bias=True)

    def forward(self, pooled_output):
        return F.linear(pooled_output, self.seq_relationship.weight, self.seq_relationship.bias)
''',
            '''import torch
from torch import nn


class NSPHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.seq_relationship = nn.Linear(config.hidden_size, 2)

    def forward(self, pooled_output):
        lin = self.seq_relationship
        return torch.einsum("...h,lh->...l", pooled_output, lin.weight) + lin.bias
''',
        ],
        "make_nsp_pairs": [
            '''import random
from collections import deque


def make_nsp_pairs(documents, cls_id, sep_id, max_length=64, seed=0, max_sentences_a=3):
    rng = random.Random(seed)
    docs = [[list(s) for s in doc if s] for doc in documents]
    others = [j for j, doc in enumerate(docs) if doc]
    pairs = []
    for d, doc in enumerate(docs):
        i = 0
        while len(doc) - i >= 2:
            k = rng.randint(1, min(max_sentences_a, len(doc) - 1 - i))
            a = deque(t for sent in doc[i:i + k] for t in sent)
            if rng.random() < 0.5:
                label, b = 0, deque(doc[i + k])
            else:
                j = rng.choice([x for x in others if x != d])
                label, b = 1, deque(rng.choice(docs[j]))
            while len(a) + len(b) > max_length - 3:
                if len(a) > len(b):
                    a.popleft()
                else:
                    b.pop()
            ids = [cls_id, *a, sep_id, *b, sep_id]
            pairs.append(dict(input_ids=ids, token_type_ids=[0] * (len(a) + 2) + [1] * (len(b) + 1),
                              attention_mask=[1] * len(ids), labels=label))
            i += k
    return pairs
''',
            '''import random


def _truncate(a, b, budget):
    """Cut the longer side one token at a time (A from its start, B from its end), counting only lengths."""
    la, lb = len(a), len(b)
    for _ in range(max(0, la + lb - budget)):
        if la > lb:
            la -= 1
        else:
            lb -= 1
    return a[len(a) - la:], b[:lb]


def make_nsp_pairs(documents, cls_id, sep_id, max_length=64, seed=0, max_sentences_a=3):
    rng = random.Random(seed)
    docs = []
    for doc in documents:
        docs.append([list(sentence) for sentence in doc if len(sentence)])
    pairs = []
    for d in range(len(docs)):
        doc, i = docs[d], 0
        while i + 1 < len(doc):
            k = rng.randint(1, min(max_sentences_a, len(doc) - i - 1))
            a = sum(doc[i:i + k], [])
            if rng.random() >= 0.5:
                other = d
                while other == d or not docs[other]:
                    other = rng.randrange(len(docs))
                b, label = list(docs[other][rng.randrange(len(docs[other]))]), 1
            else:
                b, label = list(doc[i + k]), 0
            a, b = _truncate(a, b, max_length - 3)
            pairs.append({"input_ids": [cls_id] + a + [sep_id] + b + [sep_id],
                          "token_type_ids": [0] * (1 + len(a) + 1) + [1] * (len(b) + 1),
                          "attention_mask": [1] * (len(a) + len(b) + 3),
                          "labels": label})
            i += k
    return pairs
''',
            '''import random


def make_nsp_pairs(documents, cls_id, sep_id, max_length=64, seed=0, max_sentences_a=3):
    rng = random.Random(seed)
    docs = [[list(s) for s in doc if len(s) > 0] for doc in documents]
    non_empty = [j for j in range(len(docs)) if docs[j]]

    def pairs_of(d):
        doc, i = docs[d], 0
        while i < len(doc) - 1:
            k = rng.choice(range(1, min(max_sentences_a, len(doc) - 1 - i) + 1))
            a = [t for s in doc[i:i + k] for t in s]
            is_next = rng.random() < 0.5
            if is_next:
                b = list(doc[i + k])
            else:
                src = docs[rng.choice([j for j in non_empty if j != d])]
                b = list(src[rng.randrange(len(src))])
            while len(a) + len(b) > max_length - 3:
                a, b = (a[1:], b) if len(a) > len(b) else (a, b[:-1])
            ids = [cls_id] + a + [sep_id] + b + [sep_id]
            types = [0 if n < len(a) + 2 else 1 for n in range(len(ids))]
            yield {"input_ids": ids, "token_type_ids": types, "attention_mask": [1 for _ in ids],
                   "labels": 0 if is_next else 1}
            i += k

    return [p for d in range(len(docs)) for p in pairs_of(d)]
''',
        ],
        "pretraining_loss": [
            '''import torch


def pretraining_loss(prediction_logits, seq_relationship_logits, labels, next_sentence_label):
    z = prediction_logits.reshape(-1, prediction_logits.shape[-1])
    y = labels.reshape(-1)
    keep = y != -100
    logp = z[keep].log_softmax(-1)
    mlm = -logp.gather(1, y[keep][:, None]).mean()
    nsp_logp = seq_relationship_logits.reshape(-1, 2).log_softmax(-1)
    nsp = -nsp_logp.gather(1, next_sentence_label.reshape(-1, 1)).mean()
    return mlm + nsp
''',
            '''from torch import nn


def pretraining_loss(prediction_logits, seq_relationship_logits, labels, next_sentence_label):
    ce = nn.CrossEntropyLoss()                     # ignore_index defaults to -100
    vocab = prediction_logits.size(-1)
    return ce(prediction_logits.view(-1, vocab), labels.view(-1)) + \\
        ce(seq_relationship_logits.view(-1, 2), next_sentence_label.view(-1))
''',
            '''import torch.nn.functional as F


def pretraining_loss(prediction_logits, seq_relationship_logits, labels, next_sentence_label):
    mlm = F.nll_loss(F.log_softmax(prediction_logits, dim=-1).flatten(0, 1), labels.flatten(), ignore_index=-100)
    nsp = F.nll_loss(F.log_softmax(seq_relationship_logits, dim=-1), next_sentence_label.flatten())
    return mlm + nsp
''',
        ],
        "causal_mask": [
            '''import torch


def causal_attention_mask(attention_mask, dtype=torch.float32):
    seq = attention_mask.shape[-1]
    pos = torch.arange(seq, device=attention_mask.device)
    allowed = (pos[None, :] <= pos[:, None])[None, None] & (attention_mask != 0)[:, None, None, :]
    zero = torch.zeros((), dtype=dtype, device=attention_mask.device)
    return torch.where(allowed, zero, torch.finfo(dtype).min)
''',
            '''import torch


def causal_attention_mask(attention_mask, dtype=torch.float32):
    batch, seq = attention_mask.shape
    future = torch.ones(seq, seq, device=attention_mask.device).triu(diagonal=1).bool()
    blocked = future[None, None, :, :] | (attention_mask == 0).view(batch, 1, 1, seq)
    out = torch.zeros(batch, 1, seq, seq, dtype=dtype, device=attention_mask.device)
    out[blocked] = torch.finfo(dtype).min
    return out
''',
            '''import torch


def causal_attention_mask(attention_mask, dtype=torch.float32):
    batch, seq = attention_mask.shape
    lowest = torch.finfo(dtype).min
    out = torch.full((batch, 1, seq, seq), lowest, dtype=dtype, device=attention_mask.device)
    for b in range(batch):
        real = attention_mask[b].bool()
        for i in range(seq):
            keys = real.clone()
            keys[i + 1:] = False
            out[b, 0, i, keys] = 0.0
    return out
''',
        ],
        "shift_labels": [
            '''import torch


def shift_labels(labels):
    out = torch.full_like(labels, -100)
    out[:, :-1] = labels[:, 1:]
    return out
''',
            '''import torch


def shift_labels(labels):
    out = torch.roll(labels, shifts=-1, dims=1)
    out[:, -1] = -100
    return out
''',
            '''import torch.nn.functional as F


def shift_labels(labels):
    return F.pad(labels[:, 1:], (0, 1), value=-100)
''',
        ],
    },
}
