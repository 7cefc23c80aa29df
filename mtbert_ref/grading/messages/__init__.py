"""The checkers' messages in English and Chinese: one catalogue module per checker module (issue #17).

Each module holds ``MESSAGES = {key: {"en": ..., "zh": ...}}``; keys start with the checker module's name and are
unique across modules. The texts are ``str.format`` templates: both languages take the same ``{fields}``.
English is the original wording; Chinese follows docs/TERMINOLOGY.md (identifiers, values and code unchanged).
"""
from __future__ import annotations

import importlib

__all__ = ["MODULES", "MESSAGES"]

MODULES = ("core", "anatomy", "concepts", "masked_lm", "multiple_choice", "speed")


def _merge() -> dict:
    merged: dict = {}
    for name in MODULES:
        catalogue = importlib.import_module(f"{__name__}.{name}").MESSAGES
        for key in catalogue:
            if key in merged:
                raise KeyError(f"message key {key!r} of messages/{name}.py is already defined by another module")
        merged.update(catalogue)
    return merged


MESSAGES: dict = _merge()
