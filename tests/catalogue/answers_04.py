"""Correct answers of notebook 04, written differently from the reference and from each other (see
answers_00_01 for the rules every entry follows)."""

ANSWERS = {
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
