"""The checkers' messages in both languages (issue #17, "checker messages in Chinese").

Every catalogue entry has an English and a Chinese text with the same fields; the converted checker modules build
every message they can print through ``say`` (so a new message written as an English literal fails here); the
language follows MTBERT_LANG or a ``_zh`` working folder; and a real wrong answer gets the Chinese message in the
Chinese edition and the unchanged English one otherwise.
"""
import ast
import re
import string
from pathlib import Path

import pytest
import torch

from mtbert_ref.grading import anatomy, masked_lm, speed
from mtbert_ref.grading.core import GradingError, call_student, expect_equal, expect_tensor
from mtbert_ref.grading.i18n import language, say
from mtbert_ref.grading.messages import MESSAGES, MODULES

GRADING = Path(__file__).resolve().parents[2] / "mtbert_ref" / "grading"
CJK = re.compile(r"[\u4e00-\u9fff]")
PROSE = re.compile(r"[A-Za-z]{2,}[,;:]?\s+[A-Za-z]{2,}")      # two English words in a row
INTERNAL_ERRORS = {"ValueError", "TypeError", "KeyError", "RuntimeError"}   # the course author's, not the student's


def _fields(template: str) -> set:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_message_has_both_languages_with_the_same_fields(key):
    entry = MESSAGES[key]
    assert set(entry) == {"en", "zh"}, key
    assert entry["en"].strip() and entry["zh"].strip(), key
    assert _fields(entry["en"]) == _fields(entry["zh"]), key
    assert key.split(".")[0] in MODULES, f"{key}: a key starts with the name of its checker module"
    if PROSE.search(entry["en"]):       # a sentence (not a bare identifier such as nn.Linear(3, 4))
        assert CJK.search(entry["zh"]), f"{key}: the Chinese text has no Chinese in it"


def _literals_outside_say(tree: ast.AST):
    """String literals of a module that are not docstrings, not a ``say`` key and not an internal error's text."""
    skip = set()
    for node in tree.body:                  # module-level tables in UPPER_CASE hold test inputs, not messages
        if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) and t.id.upper() == t.id for t in node.targets):
            skip.update(id(sub) for sub in ast.walk(node.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            skip.add(id(node.value))                                      # docstrings and bare strings
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "say" and node.args:
            skip.add(id(node.args[0]))
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and \
                getattr(node.exc.func, "id", None) in INTERNAL_ERRORS:
            skip.update(id(sub) for sub in ast.walk(node.exc))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node


@pytest.mark.parametrize("module", MODULES)
def test_converted_checker_modules_build_every_message_with_say(module):
    tree = ast.parse((GRADING / f"{module}.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "GradingError":
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and arg.func.attr == "strip":
                arg = arg.func.value                                      # say(...).strip()
            assert isinstance(arg, ast.Call) and getattr(arg.func, "id", None) == "say", \
                f"{module}.py line {node.lineno}: GradingError's message should be say(...)"
    english = [(n.lineno, n.value) for n in _literals_outside_say(tree) if PROSE.search(n.value)]
    assert not english, f"{module}.py has English text outside the message catalogue: {english}"


@pytest.mark.parametrize("module", MODULES)
def test_every_key_a_module_says_is_in_the_catalogue(module):
    tree = ast.parse((GRADING / f"{module}.py").read_text(encoding="utf-8"))
    keys = [n.args[0].value for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "say"
            and n.args and isinstance(n.args[0], ast.Constant)]
    assert keys and all(key in MESSAGES for key in keys), [k for k in keys if k not in MESSAGES]
    for node in ast.walk(tree):         # each call fills exactly the fields of its message
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "say" and node.args and \
                isinstance(node.args[0], ast.Constant):
            given = {kw.arg for kw in node.keywords}
            assert given == _fields(MESSAGES[node.args[0].value]["en"]), (module, node.lineno, node.args[0].value)


@pytest.mark.parametrize("value, folder, expected", [
    ("zh", "notebooks", "zh"), ("zh_CN.UTF-8", "notebooks", "zh"), ("ZH-cn", "x", "zh"), ("en", "05_x_zh", "en"),
    ("en_US.UTF-8", "05_x_zh", "en"), ("", "05_x_zh", "zh"), ("", "05_x", "en"), ("fr", "05_x", "en"),
    (None, "07_multi_task_zh", "zh"), (None, "07_multi_task", "en"), (None, "zh", "en"),
])
def test_language_from_mtbert_lang_or_the_zh_folder(value, folder, expected, monkeypatch, tmp_path):
    if value is None:
        monkeypatch.delenv("MTBERT_LANG", raising=False)
    else:
        monkeypatch.setenv("MTBERT_LANG", value)
    (tmp_path / folder).mkdir()
    monkeypatch.chdir(tmp_path / folder)
    assert language() == expected


def _message(checker, *args, **kwargs) -> str:
    with pytest.raises(GradingError) as err:
        checker(*args, **kwargs)
    return str(err.value)


def _wrong_pool(h, m):                      # averages the padding too
    return h.mean(dim=1)


def _frozen_flipped(m, trainable_only=False):
    return sum(p.numel() for p in m.parameters() if not p.requires_grad or not trainable_only)


def _mlm_loss_everywhere(logits, labels):   # averages over unlabelled positions too
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).clamp(min=0))


def _pad_in_place(examples, pad_token_id=0):
    longest = max(len(ex["input_ids"]) for ex in examples)
    for ex in examples:
        ex["input_ids"] += [pad_token_id] * (longest - len(ex["input_ids"]))
    return {"input_ids": torch.tensor([ex["input_ids"] for ex in examples])}


WRONG = [   # (checker, wrong answer, kwargs, English words, Chinese words)
    (anatomy.check_masked_mean_pool, _wrong_pool, {}, "values differ", "个值中有"),
    (anatomy.check_count_parameters, _frozen_flipped, {}, "FROZEN parameters", "条件写反了"),
    (masked_lm.check_mlm_loss, _mlm_loss_everywhere, {}, "averages over every position", "所有位置上取平均"),
    (speed.check_pad_batch, _pad_in_place, {}, "changed the examples", "修改了传给它的样本"),
]


@pytest.mark.parametrize("checker, wrong, kwargs, english, chinese", WRONG)
def test_a_wrong_answer_gets_the_message_of_the_edition(checker, wrong, kwargs, english, chinese, monkeypatch):
    monkeypatch.setenv("MTBERT_LANG", "zh")
    zh = _message(checker, wrong, **kwargs)
    monkeypatch.setenv("MTBERT_LANG", "en")
    en = _message(checker, wrong, **kwargs)
    assert english in en and not CJK.search(en), en
    assert chinese in zh and english not in zh, zh


def test_a_zh_folder_gives_chinese_without_mtbert_lang(monkeypatch, tmp_path):
    monkeypatch.delenv("MTBERT_LANG", raising=False)
    (tmp_path / "00_bert_anatomy_zh").mkdir()
    monkeypatch.chdir(tmp_path / "00_bert_anatomy_zh")
    assert "个值中有" in _message(anatomy.check_masked_mean_pool, _wrong_pool)


def test_the_generic_checks_speak_both_languages(monkeypatch):
    cases = [
        (lambda: expect_tensor(torch.zeros(2), torch.zeros(3), "x"), "has shape (2,), expected (3,)", "的形状是 (2,)，应为 (3,)"),
        (lambda: expect_equal(3, 4, "n", "Count again."), "n: got 3, expected 4. Count again.", "n：得到 3，应为 4。"),
        (lambda: call_student(lambda: 1 / 0, name="f"), "`f` raised ZeroDivisionError", "`f` 抛出了 ZeroDivisionError"),
    ]
    for run, english, chinese in cases:
        monkeypatch.setenv("MTBERT_LANG", "en")
        assert english in _message(run)
        monkeypatch.setenv("MTBERT_LANG", "zh")
        assert chinese in _message(run)


def test_say_fills_the_same_fields_in_both_languages(monkeypatch):
    monkeypatch.setenv("MTBERT_LANG", "zh")
    zh = say("core.took_too_long", what="`f`", seconds=2.5)
    monkeypatch.setenv("MTBERT_LANG", "en")
    en = say("core.took_too_long", what="`f`", seconds=2.5)
    assert "2.5" in zh and "`f`" in zh and CJK.search(zh)
    assert en.startswith("`f` took longer than 2.5 s and was stopped.")
