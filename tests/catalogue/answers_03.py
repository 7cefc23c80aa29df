"""Correct answers of notebook 03, written differently from the reference and from each other (see
answers_00_01 for the rules every entry follows)."""

ANSWERS = {
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
}
