"""Correct answers of notebook 05, written differently from the reference and from each other (see
answers_00_01 for the rules every entry follows)."""

ANSWERS = {
    "05_sequence_classification": {
        "ex1_head": [
            '''import torch.nn.functional as F
from torch import nn


class ClassificationHead(nn.Module):
    def __init__(self, hidden_size, num_labels, dropout_prob=0.1):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout_prob)
        self.classifier = nn.Linear(hidden_size, num_labels)

    def forward(self, pooled_output):
        return F.linear(self.dropout(pooled_output), self.classifier.weight, self.classifier.bias)
''',
            '''from torch import nn


class ClassificationHead(nn.Module):
    def __init__(self, hidden_size, num_labels, dropout_prob=0.1):
        super().__init__()
        for name, layer in (("dropout", nn.Dropout(dropout_prob)), ("classifier", nn.Linear(hidden_size, num_labels))):
            self.add_module(name, layer)

    def forward(self, pooled_output):
        x = self.dropout(pooled_output)
        return x @ self.classifier.weight.t() + self.classifier.bias
''',
            '''import torch
from torch import nn


class ClassificationHead(nn.Module):
    def __init__(self, hidden_size, num_labels, dropout_prob=0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout_prob)
        self.classifier = nn.Linear(hidden_size, num_labels)

    def forward(self, pooled_output):
        return torch.addmm(self.classifier.bias, self.dropout(pooled_output), self.classifier.weight.T)
''',
        ],
        "ex2_loss": [
            '''import torch


def _regression(logits, labels, weights):
    labels = labels.to(logits.dtype)
    if logits.shape[-1] == 1:
        return ((logits.reshape(-1) - labels.reshape(-1)) ** 2).mean()
    return ((logits - labels) ** 2).mean()


def _single(logits, labels, weights):
    z = logits.reshape(-1, logits.shape[-1])
    y = labels.reshape(-1).long()
    nll = -z.log_softmax(-1).gather(1, y[:, None]).squeeze(1)
    if weights is None:
        return nll.mean()
    w = weights.to(z.device, z.dtype)[y]
    return (w * nll).sum() / w.sum()


def _multi(logits, labels, weights):
    y = labels.to(logits.dtype)
    return (logits.clamp(min=0) - logits * y + torch.log1p(torch.exp(-logits.abs()))).mean()


def classification_loss(logits, labels, problem_type=None, class_weights=None):
    if problem_type is None:
        if logits.shape[-1] == 1:
            problem_type = "regression"
        elif labels.dtype in (torch.int64, torch.int32):
            problem_type = "single_label_classification"
        else:
            problem_type = "multi_label_classification"
    losses = {"regression": _regression, "single_label_classification": _single,
              "multi_label_classification": _multi}
    return losses[problem_type](logits, labels, class_weights)
''',
            '''import torch
from torch import nn


def classification_loss(logits, labels, problem_type=None, class_weights=None):
    n = logits.size(-1)
    kind = problem_type or ("regression" if n == 1 else
                            "single_label_classification" if labels.dtype in (torch.long, torch.int)
                            else "multi_label_classification")
    if kind == "regression":
        if n == 1:
            return nn.MSELoss()(logits.squeeze(), labels.squeeze().to(logits.dtype))
        return nn.MSELoss()(logits, labels.to(logits.dtype))
    if kind == "single_label_classification":
        w = class_weights.to(device=logits.device, dtype=logits.dtype) if class_weights is not None else None
        return nn.CrossEntropyLoss(weight=w)(logits.view(-1, n), labels.view(-1).long())
    return nn.BCEWithLogitsLoss()(logits, labels.to(logits.dtype))
''',
            '''import torch
import torch.nn.functional as F


def classification_loss(logits, labels, problem_type=None, class_weights=None):
    num_labels = logits.shape[-1]
    integer = labels.dtype == torch.long or labels.dtype == torch.int
    if problem_type == "regression" or (problem_type is None and num_labels == 1):
        target = labels.to(logits.dtype)
        pred = logits.view(-1) if num_labels == 1 else logits
        return F.mse_loss(pred, target.view(-1) if num_labels == 1 else target)
    if problem_type == "single_label_classification" or (problem_type is None and integer):
        logp = F.log_softmax(logits.view(-1, num_labels), dim=-1)
        w = None if class_weights is None else class_weights.to(logits)
        return F.nll_loss(logp, labels.view(-1).long(), weight=w)
    target = labels.to(logits.dtype)
    return -(target * F.logsigmoid(logits) + (1 - target) * F.logsigmoid(-logits)).mean()
''',
        ],
        "ex3_step": [
            '''def training_step(model, batch, optimizer, device):
    model.train()
    outputs = model(**{name: tensor.to(device) for name, tensor in batch.items()})
    loss = outputs["loss"]
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return float(loss.detach())
''',
            '''def training_step(model, batch, optimizer, device):
    model.train(True)
    inputs = {}
    for key in batch:
        inputs[key] = batch[key].to(device)
    loss = model(**inputs).loss
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    value = loss.item()
    optimizer.zero_grad(set_to_none=True)
    return value
''',
            '''def training_step(model, batch, optimizer, device):
    model.train()
    for p in model.parameters():
        p.grad = None
    labels = batch["labels"].to(device)
    features = {k: v.to(device) for k, v in batch.items() if k != "labels"}
    out = model(**features, labels=labels)
    out.loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return out.loss.detach().cpu().item()
''',
        ],
        "ex4_f1": [
            '''import numpy as np
import torch


def macro_f1(y_true, y_pred, num_labels=None):
    t = np.asarray(torch.as_tensor(y_true).cpu()).reshape(-1).astype(np.int64)
    p = np.asarray(torch.as_tensor(y_pred).cpu()).reshape(-1).astype(np.int64)
    classes = np.arange(num_labels) if num_labels is not None else np.union1d(t, p)
    if len(classes) == 0:
        return 0.0
    index = {int(c): k for k, c in enumerate(classes)}
    conf = np.zeros((len(classes), len(classes)))
    for a, b in zip(t, p):
        if int(a) in index and int(b) in index:
            conf[index[int(a)], index[int(b)]] += 1
    tp = np.diag(conf)
    fn = np.array([np.sum(t == c) for c in classes]) - tp
    fp = np.array([np.sum(p == c) for c in classes]) - tp
    denom = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(f1.mean())
''',
            '''import torch


def macro_f1(y_true, y_pred, num_labels=None):
    t = [int(x) for x in torch.as_tensor(y_true).reshape(-1).tolist()]
    p = [int(x) for x in torch.as_tensor(y_pred).reshape(-1).tolist()]
    classes = list(range(num_labels)) if num_labels is not None else sorted(set(t) | set(p))
    scores = []
    for c in classes:
        tp = sum(1 for a, b in zip(t, p) if a == c and b == c)
        fp = sum(1 for a, b in zip(t, p) if a != c and b == c)
        fn = sum(1 for a, b in zip(t, p) if a == c and b != c)
        scores.append(0.0 if 2 * tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores) if scores else 0.0
''',
            '''import torch


def macro_f1(y_true, y_pred, num_labels=None):
    t = torch.as_tensor(y_true).reshape(-1).long().cpu()
    p = torch.as_tensor(y_pred).reshape(-1).long().cpu()
    classes = torch.arange(num_labels) if num_labels is not None else torch.unique(torch.cat([t, p]))
    if classes.numel() == 0:
        return 0.0
    is_t = t[:, None] == classes[None, :]
    is_p = p[:, None] == classes[None, :]
    tp = (is_t & is_p).sum(0).double()
    fp = (~is_t & is_p).sum(0).double()
    fn = (is_t & ~is_p).sum(0).double()
    denom = 2 * tp + fp + fn
    f1 = torch.where(denom > 0, 2 * tp / denom.clamp(min=1), torch.zeros_like(denom))
    return f1.mean().item()
''',
        ],
    },
}
