"""The language of the checkers' messages (issue #17): English, or Chinese for the Chinese edition.

Code cells are identical in both editions, so no cell can say which edition is running. The language is chosen
outside the notebook instead:

1. ``MTBERT_LANG``: a value starting with ``zh`` gives Chinese, one starting with ``en`` English (case ignored);
2. otherwise the kernel's working directory: the Chinese assignments live in folders ending in ``_zh``
   (``07_multi_task_zh``), and JupyterLab, nbclient and nbgrader's autograde all start the kernel in the
   notebook's folder, so a Chinese notebook speaks Chinese wherever it runs;
3. otherwise English.

The language changes only the words, never a verdict. The messages live in :mod:`.messages`, one catalogue per
checker module; :func:`say` picks and fills one.
"""
from __future__ import annotations

import os

__all__ = ["LANGUAGES", "language", "say"]

LANGUAGES = ("en", "zh")


def language() -> str:
    """``"zh"`` or ``"en"``: from ``MTBERT_LANG`` if it names one, else from the working directory's name."""
    chosen = os.environ.get("MTBERT_LANG", "").strip().lower()
    for lang in LANGUAGES:
        if chosen.startswith(lang):
            return lang
    try:
        folder = os.path.basename(os.getcwd().rstrip(os.sep))
    except OSError:          # the working directory was removed
        return "en"
    return "zh" if folder.lower().endswith("_zh") else "en"


def say(key: str, /, **fields) -> str:
    """The message ``key`` of the catalogue in the current language, with ``fields`` filled in (``str.format``; a
    field may itself be called ``key``)."""
    from .messages import MESSAGES
    return MESSAGES[key][language()].format(**fields)
