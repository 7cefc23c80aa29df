"""Correct answers of notebooks 00-01, written differently from the reference and from each other.

Each entry is the full text a student could put in the solution cell with that grade id (the test cells then call
the checker on the names it defines). They import what they use, so they run in a fresh namespace as well as in
the notebook, and none of them calls or copies mtbert_ref's reference code.
"""

ANSWERS = {
    "00_bert_anatomy": {
        "masked_mean_pool": [
            '''import torch


def masked_mean_pool(last_hidden_state, attention_mask):
    rows = []
    for h, m in zip(last_hidden_state, attention_mask):   # one sequence at a time
        keep = m.bool()
        rows.append(h[keep].mean(dim=0) if bool(keep.any()) else h.new_zeros(h.shape[-1]))
    return torch.stack(rows)
''',
            '''import torch


def masked_mean_pool(last_hidden_state, attention_mask):
    w = attention_mask.to(last_hidden_state.dtype)
    total = torch.einsum("bsh,bs->bh", last_hidden_state, w)
    n = w.sum(dim=1, keepdim=True)
    return total / torch.where(n > 0, n, torch.ones_like(n))
''',
            '''import torch


def masked_mean_pool(last_hidden_state, attention_mask):
    w = attention_mask.to(last_hidden_state.dtype)
    w = w / w.sum(dim=-1, keepdim=True).clamp_min(1)          # averaging weights per row
    return torch.bmm(w.unsqueeze(1), last_hidden_state).squeeze(1)
''',
        ],
        "count_parameters": [
            '''def count_parameters(module, trainable_only=False):
    seen, total = set(), 0
    for _, p in module.named_parameters(remove_duplicate=False):
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total
''',
            '''import math


def count_parameters(module, trainable_only=False):
    return sum(math.prod(p.shape) for p in module.parameters() if p.requires_grad or not trainable_only)
''',
            '''def count_parameters(module, trainable_only=False):
    unique = {}
    for sub in module.modules():
        for p in sub.parameters(recurse=False):
            unique[id(p)] = p
    return int(sum(p.nelement() for p in unique.values() if p.requires_grad or not trainable_only))
''',
        ],
        "head_parameters": [
            '''def head_parameters(model):
    in_encoder = {p.data_ptr() for p in model.bert.parameters()}
    return sum(p.numel() for p in model.parameters() if p.data_ptr() not in in_encoder)
''',
            '''def head_parameters(model):
    everything = sum(p.numel() for p in model.parameters())
    return everything - sum(p.numel() for p in model.bert.parameters())
''',
            '''def head_parameters(model):
    encoder = list(model.bert.parameters())
    counted, total = [], 0
    for p in model.parameters():
        if any(p is q for q in encoder) or any(p is q for q in counted):
            continue
        counted.append(p)
        total += p.numel()
    return total
''',
        ],
    },
    "01_masked_lm": {
        "mlm_head": [
            '''import torch
import torch.nn.functional as F
from torch import nn


class MLMTransform(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act_name = config.hidden_act
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states):
        x = F.linear(hidden_states, self.dense.weight, self.dense.bias)
        x = getattr(F, self.act_name)(x)                      # "gelu" -> F.gelu, "relu" -> F.relu
        return F.layer_norm(x, self.LayerNorm.normalized_shape, self.LayerNorm.weight, self.LayerNorm.bias,
                            self.LayerNorm.eps)


class MLMHead(nn.Module):
    def __init__(self, config, word_embeddings):
        super().__init__()
        self.transform = MLMTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.decoder.weight = word_embeddings.weight
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, sequence_output, masked_positions=None):
        if masked_positions is not None:
            sequence_output = sequence_output[masked_positions.nonzero(as_tuple=True)]
        return F.linear(self.transform(sequence_output), self.decoder.weight, self.bias)
''',
            '''import math

import torch
from torch import nn


def _gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


class MLMTransform(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = {"gelu": _gelu, "relu": torch.relu}[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states):
        x = self.act(self.dense(hidden_states))
        mean = x.mean(dim=-1, keepdim=True)
        var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.LayerNorm.eps)
        return x * self.LayerNorm.weight + self.LayerNorm.bias


class MLMHead(nn.Module):
    def __init__(self, config, word_embeddings):
        super().__init__()
        vocab, hidden = word_embeddings.weight.shape
        self.transform = MLMTransform(config)
        self.decoder = nn.Linear(hidden, vocab, bias=False)
        del self.decoder.weight                          # drop the fresh matrix, share the embedding's Parameter
        self.decoder.weight = word_embeddings.weight
        self.bias = nn.Parameter(word_embeddings.weight.new_zeros(vocab))

    def forward(self, sequence_output, masked_positions=None):
        h = sequence_output if masked_positions is None else sequence_output[masked_positions]
        return self.transform(h) @ self.decoder.weight.t() + self.bias
''',
            '''from collections import OrderedDict

import torch
from torch import nn
from transformers.activations import ACT2FN


class MLMTransform(nn.Sequential):
    def __init__(self, config):
        super().__init__(OrderedDict(
            dense=nn.Linear(config.hidden_size, config.hidden_size),
            act=ACT2FN[config.hidden_act],
            LayerNorm=nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps),
        ))


class MLMHead(nn.Module):
    def __init__(self, config, word_embeddings):
        super().__init__()
        self.transform = MLMTransform(config)
        self.decoder = nn.Linear(word_embeddings.embedding_dim, word_embeddings.num_embeddings, bias=False)
        self.decoder.weight = word_embeddings.weight
        self.bias = nn.Parameter(torch.zeros(word_embeddings.num_embeddings))

    def forward(self, sequence_output, masked_positions=None):
        logits = self.decoder(self.transform(sequence_output if masked_positions is None
                                             else sequence_output.masked_select(masked_positions[..., None])
                                             .view(-1, sequence_output.shape[-1])))
        return logits + self.bias
''',
        ],
        "mask_tokens": [
            '''import torch


def mask_tokens(input_ids, special_tokens_mask, mask_token_id, vocab_size, mlm_probability=0.15, generator=None):
    dev = input_ids.device
    p = torch.full(input_ids.shape, mlm_probability, device=dev)
    p.masked_fill_(special_tokens_mask.bool(), 0.0)
    chosen = torch.bernoulli(p, generator=generator).bool()
    labels = input_ids.masked_fill(~chosen, -100)
    to_mask = torch.bernoulli(torch.full(input_ids.shape, 0.8, device=dev), generator=generator).bool() & chosen
    to_random = torch.bernoulli(torch.full(input_ids.shape, 0.5, device=dev), generator=generator).bool() \\
        & chosen & ~to_mask
    words = torch.randint(vocab_size, input_ids.shape, generator=generator, device=dev)
    out = input_ids.clone()
    out[to_mask] = mask_token_id
    out[to_random] = words[to_random]
    return out, labels
''',
            '''import torch


def mask_tokens(input_ids, special_tokens_mask, mask_token_id, vocab_size, mlm_probability=0.15, generator=None):
    # one uniform number per position: below p means chosen, and u / p (uniform again) splits 80 / 10 / 10
    u = torch.rand(input_ids.shape, generator=generator, device=input_ids.device)
    chosen = (u < mlm_probability) & ~special_tokens_mask.bool()
    r = u / max(mlm_probability, 1e-12)
    words = torch.randint(0, vocab_size, input_ids.shape, generator=generator, device=input_ids.device)
    out = torch.where(chosen & (r < 0.8), torch.full_like(input_ids, mask_token_id), input_ids)
    out = torch.where(chosen & (r >= 0.8) & (r < 0.9), words, out)
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
    return out, labels
''',
            '''import torch


def mask_tokens(input_ids, special_tokens_mask, mask_token_id, vocab_size, mlm_probability=0.15, generator=None):
    dev = input_ids.device
    out = input_ids.clone()
    labels = torch.full_like(input_ids, -100)
    split = torch.tensor([0.8, 0.1, 0.1], device=dev)
    for row in range(input_ids.shape[0]):
        eligible = (~special_tokens_mask[row].bool()).nonzero().flatten()
        if eligible.numel() == 0:
            continue
        picked = eligible[torch.rand(eligible.numel(), generator=generator, device=dev) < mlm_probability]
        if picked.numel() == 0:
            continue
        labels[row, picked] = input_ids[row, picked]
        action = torch.multinomial(split, picked.numel(), replacement=True, generator=generator)
        out[row, picked[action == 0]] = mask_token_id
        n_random = int((action == 1).sum())
        out[row, picked[action == 1]] = torch.randint(vocab_size, (n_random,), generator=generator, device=dev)
    return out, labels
''',
        ],
        "mlm_loss": [
            '''import torch


def mlm_loss(logits, labels):
    vocab = logits.shape[-1]
    flat = logits.reshape(-1, vocab)
    y = labels.reshape(-1) if labels.numel() == flat.shape[0] else labels[labels != -100]
    keep = y != -100
    if not bool(keep.any()):
        return flat.sum() * 0.0
    logp = flat[keep].log_softmax(dim=-1)
    return -logp.gather(1, y[keep].unsqueeze(1)).mean()
''',
            '''import torch.nn.functional as F


def mlm_loss(logits, labels):
    flat = logits.reshape(-1, logits.shape[-1])
    if labels.numel() != flat.shape[0]:          # masked layout: only the chosen positions have logits
        labels = labels[labels != -100]
    y = labels.reshape(-1)
    total = F.cross_entropy(flat, y, ignore_index=-100, reduction="sum")
    return total / (y != -100).sum().clamp(min=1)
''',
            '''import torch


def mlm_loss(logits, labels):
    if logits.dim() == labels.dim() + 1:
        labels = labels.flatten()
        logits = logits.flatten(0, -2)
    elif labels.dim() > 1:
        labels = labels[labels != -100]
    rows = (labels != -100).nonzero().flatten()
    if rows.numel() == 0:
        return logits.sum() * 0.0
    z = logits[rows]
    nll = torch.logsumexp(z, dim=-1) - z[torch.arange(rows.numel(), device=z.device), labels[rows]]
    return nll.mean()
''',
        ],
    },
}
