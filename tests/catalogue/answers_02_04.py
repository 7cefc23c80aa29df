"""Correct answers of notebooks 02-04, written differently from the reference and from each other (see
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
    "03_extractive_qa": {
        "ex_qa_head": [
            '''import torch.nn.functional as F
from torch import nn


class QAHead(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()
        self.qa_outputs = nn.Linear(hidden_size, 2)

    def forward(self, sequence_output, start_positions=None, end_positions=None):
        start_logits, end_logits = (t.squeeze(-1).contiguous() for t in self.qa_outputs(sequence_output).split(1, -1))
        if start_positions is None or end_positions is None:
            return start_logits, end_logits, None
        n = start_logits.shape[1]
        ce = nn.CrossEntropyLoss(ignore_index=n)
        loss = 0.5 * (ce(start_logits, start_positions.view(-1).clamp(0, n))
                      + ce(end_logits, end_positions.view(-1).clamp(0, n)))
        return start_logits, end_logits, loss
''',
            '''import torch
import torch.nn.functional as F
from torch import nn


class QAHead(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()
        self.qa_outputs = nn.Linear(hidden_size, 2)

    def forward(self, sequence_output, start_positions=None, end_positions=None):
        both = F.linear(sequence_output, self.qa_outputs.weight, self.qa_outputs.bias)
        start_logits, end_logits = both[:, :, 0].contiguous(), both[:, :, 1].contiguous()
        loss = None
        if start_positions is not None and end_positions is not None:
            n = start_logits.size(1)
            losses = []
            for logits, pos in ((start_logits, start_positions), (end_logits, end_positions)):
                pos = pos.reshape(-1).clamp(0, n)
                losses.append(F.cross_entropy(logits, pos, ignore_index=n))
            loss = torch.stack(losses).mean()
        return start_logits, end_logits, loss
''',
            '''import torch.nn.functional as F
from torch import nn


class QAHead(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()
        self.qa_outputs = nn.Linear(hidden_size, 2)

    def forward(self, sequence_output, start_positions=None, end_positions=None):
        start_logits, end_logits = self.qa_outputs(sequence_output).permute(2, 0, 1).contiguous().unbind(0)
        loss = None
        if start_positions is not None and end_positions is not None:
            n = start_logits.shape[-1]
            s = start_positions.flatten().clamp(min=0, max=n)
            e = end_positions.flatten().clamp(min=0, max=n)
            loss = (F.cross_entropy(start_logits, s, ignore_index=n) + F.cross_entropy(end_logits, e, ignore_index=n)) / 2
        return start_logits, end_logits, loss
''',
        ],
        "ex_prepare_features": [
            '''def prepare_features(examples, tokenizer, max_length=128, stride=32):
    keys = ("input_ids", "token_type_ids", "attention_mask", "example_index", "offset_mapping",
            "start_positions", "end_positions")
    feats = {k: [] for k in keys}
    for i, ex in enumerate(examples):             # one example at a time, each with its windows
        enc = tokenizer(ex["question"], ex["context"], truncation="only_second", max_length=max_length,
                        stride=stride, return_overflowing_tokens=True, return_offsets_mapping=True)
        for w in range(len(enc["input_ids"])):
            seq_ids = enc.sequence_ids(w)
            offsets = [tuple(o) if s == 1 else None for o, s in zip(enc["offset_mapping"][w], seq_ids)]
            ctx = [t for t in range(len(offsets)) if offsets[t] is not None]
            start = end = 0
            if ex["answers"]["text"]:
                a0 = ex["answers"]["answer_start"][0]
                a1 = a0 + len(ex["answers"]["text"][0])
                if offsets[ctx[0]][0] <= a0 and offsets[ctx[-1]][1] >= a1:
                    start = [t for t in ctx if offsets[t][0] <= a0][-1]
                    end = [t for t in ctx if offsets[t][1] >= a1][0]
            for k in ("input_ids", "token_type_ids", "attention_mask"):
                feats[k].append(list(enc[k][w]))
            feats["example_index"].append(i)
            feats["offset_mapping"].append(offsets)
            feats["start_positions"].append(start)
            feats["end_positions"].append(end)
    return feats
''',
            '''def prepare_features(examples, tokenizer, max_length=128, stride=32):
    enc = tokenizer([e["question"] for e in examples], [e["context"] for e in examples],
                    truncation="only_second", max_length=max_length, stride=stride,
                    return_overflowing_tokens=True, return_offsets_mapping=True)
    out = dict(input_ids=[], token_type_ids=[], attention_mask=[], example_index=[], offset_mapping=[],
               start_positions=[], end_positions=[])
    for w, i in enumerate(enc["overflow_to_sample_mapping"]):
        seq_ids = enc.sequence_ids(w)
        offsets = [tuple(o) if seq_ids[t] == 1 else None for t, o in enumerate(enc["offset_mapping"][w])]
        first = seq_ids.index(1)
        last = len(seq_ids) - 1 - seq_ids[::-1].index(1)
        start = end = 0
        answers = examples[i]["answers"]
        if len(answers["text"]) > 0:
            a0 = answers["answer_start"][0]
            a1 = a0 + len(answers["text"][0])
            if offsets[first][0] <= a0 and offsets[last][1] >= a1:
                t = first
                while t <= last and offsets[t][0] <= a0:   # walk right past the answer's first character
                    t += 1
                start = t - 1
                t = last
                while t >= first and offsets[t][1] >= a1:  # walk left past its last character
                    t -= 1
                end = t + 1
        out["input_ids"].append(list(enc["input_ids"][w]))
        out["token_type_ids"].append(list(enc["token_type_ids"][w]))
        out["attention_mask"].append(list(enc["attention_mask"][w]))
        out["example_index"].append(int(i))
        out["offset_mapping"].append(offsets)
        out["start_positions"].append(start)
        out["end_positions"].append(end)
    return out
''',
            '''from bisect import bisect_left, bisect_right


def prepare_features(examples, tokenizer, max_length=128, stride=32):
    enc = tokenizer([e["question"] for e in examples], [e["context"] for e in examples],
                    truncation="only_second", max_length=max_length, stride=stride,
                    return_overflowing_tokens=True, return_offsets_mapping=True)
    n_windows = len(enc["input_ids"])
    feats = {"input_ids": [list(x) for x in enc["input_ids"]],
             "token_type_ids": [list(x) for x in enc["token_type_ids"]],
             "attention_mask": [list(x) for x in enc["attention_mask"]],
             "example_index": list(enc["overflow_to_sample_mapping"]),
             "offset_mapping": [], "start_positions": [], "end_positions": []}
    for w in range(n_windows):
        sids = enc.sequence_ids(w)
        offsets = [(int(o[0]), int(o[1])) if s == 1 else None for o, s in zip(enc["offset_mapping"][w], sids)]
        ctx = [t for t, o in enumerate(offsets) if o]
        starts = [offsets[t][0] for t in ctx]
        ends = [offsets[t][1] for t in ctx]
        ans = examples[feats["example_index"][w]]["answers"]
        s_tok = e_tok = 0
        if ans["text"]:
            a0 = ans["answer_start"][0]
            a1 = a0 + len(ans["text"][0])
            if starts[0] <= a0 and ends[-1] >= a1:
                s_tok = ctx[bisect_right(starts, a0) - 1]     # last token starting at or before a0
                e_tok = ctx[bisect_left(ends, a1)]            # first token ending at or after a1
        feats["offset_mapping"].append(offsets)
        feats["start_positions"].append(s_tok)
        feats["end_positions"].append(e_tok)
    return feats
''',
        ],
        "ex_decode_spans": [
            '''import torch


def decode_spans(start_logits, end_logits, features, examples, max_answer_length=30, n_best=20):
    best = {e["id"]: {"text": "", "score": float("-inf")} for e in examples}
    for w, i in enumerate(features["example_index"]):
        offsets = features["offset_mapping"][w]
        n = len(offsets)
        s = start_logits[w, :n].detach().double().cpu()
        e = end_logits[w, :n].detach().double().cpu()
        k = min(n_best, n)
        keep_s = torch.zeros(n, dtype=torch.bool)
        keep_s[torch.tensor(sorted(range(n), key=lambda t: (-s[t].item(), t))[:k])] = True
        keep_e = torch.zeros(n, dtype=torch.bool)
        keep_e[torch.tensor(sorted(range(n), key=lambda t: (-e[t].item(), t))[:k])] = True
        in_ctx = torch.tensor([o is not None for o in offsets])
        pos = torch.arange(n)
        length = pos[None, :] - pos[:, None] + 1
        valid = (keep_s & in_ctx)[:, None] & (keep_e & in_ctx)[None, :] & (length >= 1) & (length <= max_answer_length)
        if not bool(valid.any()):
            continue
        scores = (s[:, None] + e[None, :]).masked_fill(~valid, float("-inf"))
        flat = int(scores.flatten().argmax())
        a, b = divmod(flat, n)
        score = float(s[a]) + float(e[b])
        ex = examples[i]
        if score > best[ex["id"]]["score"]:
            best[ex["id"]] = {"text": ex["context"][offsets[a][0]:offsets[b][1]], "score": score}
    return best
''',
            '''import itertools


def decode_spans(start_logits, end_logits, features, examples, max_answer_length=30, n_best=20):
    by_id = {ex["id"]: ex for ex in examples}
    best = {ex["id"]: ("", float("-inf")) for ex in examples}
    for w, i in enumerate(features["example_index"]):
        offsets = features["offset_mapping"][w]
        n = len(offsets)
        s_scores = start_logits[w, :n].tolist()
        e_scores = end_logits[w, :n].tolist()
        top_s = sorted(range(n), key=lambda t: (-s_scores[t], t))[:n_best]
        top_e = sorted(range(n), key=lambda t: (-e_scores[t], t))[:n_best]
        ex_id = examples[i]["id"]
        for s, e in itertools.product(top_s, top_e):
            if offsets[s] is None or offsets[e] is None or not 0 <= e - s < max_answer_length:
                continue
            score = s_scores[s] + e_scores[e]
            if score > best[ex_id][1]:
                best[ex_id] = (by_id[ex_id]["context"][offsets[s][0]:offsets[e][1]], score)
    return {k: {"text": text, "score": score} for k, (text, score) in best.items()}
''',
            '''import torch


def decode_spans(start_logits, end_logits, features, examples, max_answer_length=30, n_best=20):
    result = {}
    for ex in examples:
        result[ex["id"]] = {"text": "", "score": float("-inf")}
    for w in range(len(features["example_index"])):
        ex = examples[features["example_index"][w]]
        offsets = features["offset_mapping"][w]
        n = len(offsets)
        s_log = start_logits[w, :n].float().cpu()
        e_log = end_logits[w, :n].float().cpu()
        k = min(n_best, n)
        # stable sort: equal logits keep the smaller token index first
        s_top = torch.sort(-s_log, stable=True).indices[:k].tolist()
        e_top = torch.sort(-e_log, stable=True).indices[:k].tolist()
        candidates = [(s_log[a].item() + e_log[b].item(), a, b) for a in s_top for b in e_top
                      if offsets[a] is not None and offsets[b] is not None and a <= b < a + max_answer_length]
        for score, a, b in candidates:
            if score > result[ex["id"]]["score"]:
                result[ex["id"]] = {"text": ex["context"][offsets[a][0]:offsets[b][1]], "score": score}
    return result
''',
        ],
        "ex_squad_em_f1": [
            '''import re
import string
from collections import Counter


def squad_em_f1(prediction, gold_answers):
    table = str.maketrans("", "", string.punctuation)

    def tokens(text):
        text = text.lower().translate(table)
        return re.sub(r"\\b(a|an|the)\\b", " ", text).split()

    def f1(p, g):
        if not p or not g:
            return float(p == g)
        same = sum((Counter(p) & Counter(g)).values())
        return 0.0 if same == 0 else 2 * same / (len(p) + len(g))

    golds = [tokens(g) for g in gold_answers] or [[]]
    pred = tokens(prediction)
    return max(float(pred == g) for g in golds), max(f1(pred, g) for g in golds)
''',
            '''import string


def _normalise(text):
    drop = set(string.punctuation)
    text = "".join(ch for ch in text.lower() if ch not in drop)
    return [w for w in text.split() if w not in ("a", "an", "the")]


def _f1(pred, gold):
    if len(pred) == 0 or len(gold) == 0:
        return 1.0 if pred == gold else 0.0
    remaining = list(gold)
    common = 0
    for w in pred:                      # multiset intersection by hand
        if w in remaining:
            remaining.remove(w)
            common += 1
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def squad_em_f1(prediction, gold_answers):
    golds = list(gold_answers) if len(gold_answers) else [""]
    pred = _normalise(prediction)
    em = 0.0
    f1 = 0.0
    for g in golds:
        gold = _normalise(g)
        em = max(em, float(pred == gold))
        f1 = max(f1, _f1(pred, gold))
    return em, f1
''',
            '''import re
import string


def squad_em_f1(prediction, gold_answers):
    punct = re.compile("[" + re.escape(string.punctuation) + "]")
    articles = re.compile(r"\\b(?:a|an|the)\\b")

    def norm(s):
        return " ".join(articles.sub(" ", punct.sub("", s.lower())).split())

    def counts(words):
        c = {}
        for w in words:
            c[w] = c.get(w, 0) + 1
        return c

    def f1(p, g):
        pw, gw = p.split(), g.split()
        if not pw or not gw:
            return float(pw == gw)
        cp, cg = counts(pw), counts(gw)
        common = sum(min(n, cg.get(w, 0)) for w, n in cp.items())
        return 0.0 if not common else 2.0 * common / (len(pw) + len(gw))

    p = norm(prediction)
    golds = [norm(g) for g in gold_answers] or [""]
    return float(any(p == g for g in golds)), max(f1(p, g) for g in golds)
''',
        ],
    },
    "04_multiple_choice": {
        "mc_logits": [
            '''import torch


def multiple_choice_logits(bert, head, input_ids, attention_mask=None, token_type_ids=None):
    columns = []
    for c in range(input_ids.shape[1]):              # one choice at a time: (batch, length)
        out = bert(input_ids=input_ids[:, c],
                   attention_mask=None if attention_mask is None else attention_mask[:, c],
                   token_type_ids=None if token_type_ids is None else token_type_ids[:, c])
        columns.append(head(out.pooler_output).squeeze(-1))
    return torch.stack(columns, dim=1)
''',
            '''def multiple_choice_logits(bert, head, input_ids, attention_mask=None, token_type_ids=None):
    b, c = input_ids.shape[:2]
    kw = {name: t.flatten(0, 1) for name, t in
          (("attention_mask", attention_mask), ("token_type_ids", token_type_ids)) if t is not None}
    pooled = bert(input_ids.flatten(0, 1), **kw)[1]
    return head(pooled).reshape(b, c)
''',
            '''def multiple_choice_logits(bert, head, input_ids, attention_mask=None, token_type_ids=None):
    shape = input_ids.shape

    def two_d(t):
        return t if t is None else t.contiguous().view(-1, shape[-1])

    out = bert(input_ids=two_d(input_ids), attention_mask=two_d(attention_mask),
               token_type_ids=two_d(token_type_ids), return_dict=True)
    return head(out.pooler_output).squeeze(-1).unflatten(0, (shape[0], shape[1]))
''',
        ],
        "encode_choices": [
            '''def encode_choices(tokenizer, question, choices, max_length=64):
    out = {"input_ids": [], "token_type_ids": [], "attention_mask": []}
    for choice in choices:                            # one pair at a time
        enc = tokenizer(question, choice, truncation="only_first", max_length=max_length)
        for key in out:
            out[key].append(enc[key])
    return out
''',
            '''def encode_choices(tokenizer, question, choices, max_length=64):
    enc = tokenizer(text=[question for _ in choices], text_pair=list(choices), truncation="only_first",
                    max_length=max_length)
    return {k: [list(row) for row in v] for k, v in enc.items() if k in ("input_ids", "token_type_ids", "attention_mask")}
''',
            '''def encode_choices(tokenizer, question, choices, max_length=64):
    q = tokenizer(question, add_special_tokens=False)["input_ids"]
    rows = dict(input_ids=[], token_type_ids=[], attention_mask=[])
    for choice in choices:
        c = tokenizer(choice, add_special_tokens=False)["input_ids"]
        q_cut = q[:max(0, max_length - 3 - len(c))]      # "only_first": the question loses tokens from its end
        ids = [tokenizer.cls_token_id, *q_cut, tokenizer.sep_token_id, *c, tokenizer.sep_token_id]
        rows["input_ids"].append(ids)
        rows["token_type_ids"].append([0] * (len(q_cut) + 2) + [1] * (len(c) + 1))
        rows["attention_mask"].append([1] * len(ids))
    return rows
''',
        ],
        "mc_accuracy": [
            '''def mc_accuracy(logits, labels):
    rows, gold = logits.tolist(), labels.tolist()
    hits = sum(1 for row, y in zip(rows, gold) if row.index(max(row)) == y)   # index(): first best on ties
    return hits / len(gold)
''',
            '''def mc_accuracy(logits, labels):
    right = (logits.argmax(dim=1) == labels.to(logits.device).long()).sum().item()
    return right / labels.numel()
''',
            '''import numpy as np


def mc_accuracy(logits, labels):
    pred = np.argmax(logits.detach().float().cpu().numpy(), axis=1)
    return float(np.mean(pred == labels.cpu().numpy()))
''',
        ],
    },
}
