"""The one weight mapping between transformers' models and the course's.

A mapping is a tuple of ``(transformers prefix, course prefix)`` rules, e.g. ``(("bert.", "bert."),
("cls.predictions.", "head."))``: a key is renamed by the first rule whose prefix it starts with. ``skip`` names
transformers keys that are aliases of another weight (a tied decoder, a duplicated bias) and are not copied.
Every other key must match a rule, and after loading no parameter may be left out, so a forgotten weight
cannot pass silently.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import torch
from torch import nn

__all__ = ["rename_keys", "invert_rules", "load_mapped_state"]

Rules = Sequence[tuple[str, str]]


def rename_keys(state_dict: Mapping[str, torch.Tensor], rules: Rules, skip: Iterable[str] = ()) -> dict:
    """Rename the keys of ``state_dict`` by ``rules`` (prefix → prefix); keys starting with a ``skip`` entry drop.

    Raises KeyError naming the first key no rule matches.
    """
    skip = tuple(skip)
    out = {}
    for key, value in state_dict.items():
        if skip and key.startswith(skip):
            continue
        for src, dst in rules:
            if key.startswith(src):
                out[dst + key[len(src):]] = value
                break
        else:
            raise KeyError(f"no mapping for the weight {key!r}; the mapping knows the prefixes "
                           f"{[src for src, _ in rules]}")
    return out


def invert_rules(rules: Rules) -> tuple[tuple[str, str], ...]:
    """The rules the other way round (course → transformers)."""
    return tuple((dst, src) for src, dst in rules)


def load_mapped_state(model: nn.Module, state_dict: Mapping[str, torch.Tensor], rules: Rules,
                      skip: Iterable[str] = (), may_miss: Iterable[str] = ()) -> nn.Module:
    """Load ``state_dict`` into ``model`` through ``rules``; strict on both sides.

    ``may_miss``: prefixes of ``model``'s keys that may stay unloaded because they are tied to a loaded weight
    (e.g. an MLM decoder that *is* the word-embedding matrix). Raises KeyError listing what is missing or left over.
    """
    mapped = rename_keys(state_dict, rules, skip)
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    may_miss = tuple(may_miss)
    missing = [k for k in missing if not (may_miss and k.startswith(may_miss))]
    if missing or unexpected:
        raise KeyError(f"the weights do not fit {type(model).__name__}: missing {missing[:8]}, "
                       f"unexpected {unexpected[:8]}")
    return model
