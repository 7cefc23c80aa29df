"""The site's own words in each language (issue #17): the English site at the root of the build, the Chinese one in
zh-CN/ beside it, every page linking to the same page in the other language. The lessons' words come from the
notebooks (notebooks/NN_name/ and notebooks/NN_name_zh/, generated from one source: scripts/authoring/translate.py)."""
from __future__ import annotations

LANGS = ("en", "zh-CN")
SUBDIR = {"en": "", "zh-CN": "zh-CN"}      # where each edition lives inside the build folder
SUFFIX = {"en": "", "zh-CN": "_zh"}        # notebooks/<lesson><suffix>/
README = {"en": "README.md", "zh-CN": "README.zh-CN.md"}
SYLLABUS_HEADING = {"en": "## Syllabus", "zh-CN": "## 课程大纲"}
SWITCH_LABEL = {"en": "中文版", "zh-CN": "English"}  # the link names the *other* edition, in its own language

TEXT = {
    "en": {
        "title": "mtbert — BERT heads, from MLM to multi-task",
        "fast_note": "Outputs were made by running the reference solutions offline in fast mode (`MTBERT_FAST=1`, as "
                     "while grading), so training demos ran only a few steps: their numbers are smaller than in a "
                     "full run on your machine.",
        "view_solutions": "This is the **self-study edition**: exercise cells show the reference solution.",
        "view_student": "Exercise cells show what you fill in (`raise NotImplementedError()`); the outputs below "
                        "them are the reference solution's.",
        "note": "Work through this lesson in Jupyter: {{download}}`download the student notebook <{href}>` "
                "(or `make lab` in the course repository). {view} {fast}",
        "edition_solutions": "This is the **self-study edition**: the lessons show the reference solutions.",
        "edition_student": "The lessons show the exercises as students get them; solutions are not on this site.",
        "about": "Each lesson is a Jupyter notebook, autograded with [nbgrader](https://nbgrader.readthedocs.io): you "
                 "implement the graded functions in the notebook, a test cell below each one checks your code "
                 "against the course's reference. This site shows every lesson with its explanations, code and "
                 "outputs.",
        "work": "To work on a lesson, download its student notebook from its page, or clone the course repository "
                "and run `make lab`.",
        "syllabus": "Syllabus",
        "columns": "| lesson | what it covers | you implement (graded) | time |",
        "caption": "Lessons",
    },
    "zh-CN": {
        "title": "mtbert — BERT 任务头：从掩码语言模型到多任务学习",
        "fast_note": "页面上的输出来自离线以快速模式（`MTBERT_FAST=1`，与评分时相同）运行参考答案，训练演示只跑了几步："
                     "其中的数字比在你的机器上完整运行时要小。",
        "view_solutions": "这是**自学版**：练习单元格显示的是参考答案。",
        "view_student": "练习单元格显示的是你要填写的内容（`raise NotImplementedError()`）；其下方的输出来自参考答案。",
        "note": "请在 Jupyter 中学习本课：{{download}}`下载学生版笔记本 <{href}>`（或在课程仓库中运行 `make lab`）。"
                "{view}{fast}",
        "edition_solutions": "这是**自学版**：各课显示参考答案。",
        "edition_student": "各课显示的是学生拿到的练习；本网站不含参考答案。",
        "about": "每一课都是一个 Jupyter 笔记本，由 [nbgrader](https://nbgrader.readthedocs.io) 自动评分：你在笔记本中"
                 "实现计分的函数，每个函数下方的测试单元格把你的代码与课程的参考实现对照检查。本网站展示每一课的讲解、"
                 "代码和输出。",
        "work": "要动手学习某一课，请在该课页面下载学生版笔记本，或者克隆课程仓库并运行 `make lab`。",
        "syllabus": "课程大纲",
        "columns": "| 课 | 内容 | 你要实现的（计分） | 用时 |",
        "caption": "课程",
    },
}


def other(lang: str) -> str:
    return LANGS[1 - LANGS.index(lang)]


def switch_link(lang: str, page: str, depth: int) -> str:
    """Raw HTML: a link from `page` (an English lesson name, or "index") of edition `lang` to the same page of the
    other edition. `depth` is how many folders the page sits below its edition's root (lessons/: 1)."""
    target = other(lang)
    up = "../" * (depth + (1 if SUBDIR[lang] else 0))
    base = up + (SUBDIR[target] + "/" if SUBDIR[target] else "")
    name = "index" if page == "index" else f"lessons/{page}{SUFFIX[target]}"
    return f'<a class="mtbert-lang-switch" href="{base}{name}.html" hreflang="{target}">{SWITCH_LABEL[lang]}</a>'
