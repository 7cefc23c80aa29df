"""Correct answers of notebook 06, written differently from the reference and from each other (see
answers_00_01 for the rules every entry follows)."""

ANSWERS = {
    "06_multi_label": {
        "ex1_loss_predict": [
            '''import torch


def multilabel_loss(logits, targets, pos_weight=None):
    y = targets.to(logits.dtype)
    pw = torch.ones((), dtype=logits.dtype, device=logits.device) if pos_weight is None \\
        else pos_weight.to(logits.device, logits.dtype)
    # log(1 + e^-|x|) + max(-x, 0) is -log(sigmoid(x)) without overflow
    log_sig_neg = torch.log1p(torch.exp(-logits.abs())) + (-logits).clamp(min=0)
    per_entry = (1 - y) * logits + (1 + (pw - 1) * y) * log_sig_neg
    return per_entry.mean()


def predict_labels(logits, threshold=0.5):
    probs = torch.sigmoid(logits)
    return probs.ge(torch.as_tensor(threshold, dtype=probs.dtype, device=probs.device))
''',
            '''import torch
import torch.nn.functional as F


def multilabel_loss(logits, targets, pos_weight=None):
    pw = None if pos_weight is None else pos_weight.to(device=logits.device, dtype=logits.dtype)
    return F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype), pos_weight=pw)


def predict_labels(logits, threshold=0.5):
    probs = torch.sigmoid(logits)
    if not torch.is_tensor(threshold):
        return probs >= threshold
    cols = [probs[:, j] >= threshold[j].item() for j in range(probs.shape[1])]   # one label at a time
    return torch.stack(cols, dim=1) if cols else probs >= 0.5
''',
            '''import torch
import torch.nn.functional as F


def multilabel_loss(logits, targets, pos_weight=None):
    y = targets.to(logits.dtype)
    w = 1.0 if pos_weight is None else pos_weight.to(device=logits.device, dtype=logits.dtype)
    return (w * y * F.softplus(-logits) + (1 - y) * F.softplus(logits)).mean()


def predict_labels(logits, threshold=0.5):
    probs = logits.sigmoid()
    thr = threshold.to(probs) if isinstance(threshold, torch.Tensor) else torch.full_like(probs, float(threshold))
    return torch.where(probs >= thr, True, False)
''',
        ],
        "ex2_thresholds": [
            '''import torch


def tune_thresholds(probs, targets, candidates):
    y = targets.bool()
    n_labels = probs.shape[1]
    best_micro, global_t = -1.0, None
    best_label = [-1.0] * n_labels
    per_label = [None] * n_labels
    for t in candidates.tolist():
        pred = probs >= t
        tp = (pred & y).sum(0).tolist()
        fp = (pred & ~y).sum(0).tolist()
        fn = (~pred & y).sum(0).tolist()
        den = 2 * sum(tp) + sum(fp) + sum(fn)
        micro = 2 * sum(tp) / den if den else 0.0
        if micro > best_micro:                       # strict: the first best candidate wins ties
            best_micro, global_t = micro, t
        for j in range(n_labels):
            d = 2 * tp[j] + fp[j] + fn[j]
            f = 2 * tp[j] / d if d else 0.0
            if f > best_label[j]:
                best_label[j], per_label[j] = f, t
    has_pos = y.any(0).tolist()
    per_t = [per_label[j] if has_pos[j] else global_t for j in range(n_labels)]
    return float(global_t), torch.tensor(per_t, dtype=candidates.dtype, device=candidates.device)
''',
            '''import torch


def tune_thresholds(probs, targets, candidates):
    y = targets.bool().unsqueeze(0)                                   # (1, N, L)
    pred = probs.unsqueeze(0) >= candidates.to(probs.device).view(-1, 1, 1)   # (C, N, L)
    tp = (pred & y).sum(1).double()                                   # (C, L)
    fp = (pred & ~y).sum(1).double()
    fn = (~pred & y).sum(1).double()
    den_micro = 2 * tp.sum(1) + fp.sum(1) + fn.sum(1)
    micro = torch.where(den_micro > 0, 2 * tp.sum(1) / den_micro.clamp(min=1), torch.zeros_like(den_micro))
    den = 2 * tp + fp + fn
    f1 = torch.where(den > 0, 2 * tp / den.clamp(min=1), torch.zeros_like(den))
    g = float(candidates[int(torch.argmax(micro))])
    per_t = candidates[torch.argmax(f1, dim=0).to(candidates.device)].clone()
    no_pos = ~targets.bool().any(0)
    per_t[no_pos.to(candidates.device)] = g
    return g, per_t
''',
            '''import numpy as np
import torch


def tune_thresholds(probs, targets, candidates):
    p = probs.detach().cpu().double().numpy()
    y = targets.detach().cpu().numpy() > 0.5
    cands = candidates.detach().cpu().double().numpy()
    micro = []
    label_f1 = []
    for t in cands:
        pred = p >= float(t)
        tp = np.logical_and(pred, y).sum(0)
        fp = np.logical_and(pred, ~y).sum(0)
        fn = np.logical_and(~pred, y).sum(0)
        d = 2 * tp.sum() + fp.sum() + fn.sum()
        micro.append(2 * tp.sum() / d if d > 0 else 0.0)
        dl = 2 * tp + fp + fn
        label_f1.append(np.where(dl > 0, 2 * tp / np.maximum(dl, 1), 0.0))
    best_global = int(np.argmax(micro))
    best_each = np.argmax(np.stack(label_f1), axis=0)
    chosen = np.where(y.sum(0) > 0, best_each, best_global)
    per_t = candidates[torch.as_tensor(chosen, device=candidates.device)].clone()
    return float(candidates[best_global]), per_t
''',
        ],
        "ex3_fixed_model": [
            '''import torch.nn.functional as F
from torch import nn
from transformers import BertModel


class DebtagsTagger(nn.Module):
    def __init__(self, config, num_labels):
        super().__init__()
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, num_labels)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        pooled = self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[1]
        logits = self.classifier(self.dropout(pooled))
        loss = None if labels is None else F.binary_cross_entropy_with_logits(logits, labels.float().to(logits.dtype))
        return {"loss": loss, "logits": logits}
''',
            '''import torch.nn.functional as F
from torch import nn
from transformers import BertModel


class DebtagsTagger(nn.Module):
    def __init__(self, config, num_labels):
        super().__init__()
        self.bert = BertModel(config, add_pooling_layer=True)
        self.dropout = nn.Dropout(p=config.hidden_dropout_prob)
        self.classifier = nn.Linear(in_features=config.hidden_size, out_features=num_labels)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                        return_dict=True)
        logits = self.classifier(self.dropout(out.pooler_output))
        result = {"loss": None, "logits": logits}
        if labels is not None:
            y = labels.to(logits.dtype)
            result["loss"] = (y * F.softplus(-logits) + (1 - y) * F.softplus(logits)).mean()
        return result
''',
            '''from torch import nn
from transformers import BertModel


class DebtagsTagger(nn.Module):
    def __init__(self, config, num_labels):
        super().__init__()
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, num_labels)
        self.loss_fn = nn.BCEWithLogitsLoss()          # no parameters: the state dict is unchanged

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        hidden = self.bert(input_ids, attention_mask, token_type_ids).pooler_output
        logits = self.classifier(self.dropout(hidden))
        return dict(loss=self.loss_fn(logits, labels.type_as(logits)) if labels is not None else None, logits=logits)
''',
        ],
    },
}
