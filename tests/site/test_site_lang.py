"""The site in two languages (site/lang.py, `site/build.py --lang`): fast checks without a build. The built Chinese
edition (zh-CN/ of `make site`) is read in the browser by test_site.py's crawl, which follows the language links."""
from __future__ import annotations

import importlib.util
import posixpath
import re

import nbformat

from conftest import ASSIGNMENTS, NOTEBOOKS, ROOT, SOLUTIONS, notebook_path

_spec = importlib.util.spec_from_file_location("mtbert_site_build_lang", ROOT / "site" / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)
L = build.L
ENGLISH = [a for a in ASSIGNMENTS if not a.endswith("_zh")]


def _href(html: str) -> str:
    return re.search(r'href="([^"]+)"', html).group(1)


def test_the_language_links_point_at_the_same_page_of_the_other_edition():
    lesson = ENGLISH[0]
    en_page = f"lessons/{lesson}.html"                    # relative to the site's root
    zh_page = f"zh-CN/lessons/{lesson}_zh.html"
    assert posixpath.normpath(posixpath.join(posixpath.dirname(en_page), _href(L.switch_link("en", lesson, 1)))) \
        == zh_page
    assert posixpath.normpath(posixpath.join(posixpath.dirname(zh_page), _href(L.switch_link("zh-CN", lesson, 1)))) \
        == en_page
    assert posixpath.normpath(posixpath.join("", _href(L.switch_link("en", "index", 0)))) == "zh-CN/index.html"
    assert posixpath.normpath(posixpath.join("zh-CN", _href(L.switch_link("zh-CN", "index", 0)))) == "index.html"


def test_the_english_site_lists_english_lessons_and_the_chinese_one_chinese():
    assert build.lessons() == ENGLISH
    assert [r["lesson"] for r in build.syllabus_from_readme("zh-CN")] == [f"{a}_zh" for a in ENGLISH]
    index = build.index_page({f"{a}_zh": a for a in ENGLISH}, solutions=False, fast_note="", lang="zh-CN")
    assert "## 课程大纲" in index and 'hreflang="en"' in index and f"lessons/{ENGLISH[0]}_zh" in index


def test_a_chinese_page_has_chinese_prose_the_english_outputs_and_a_switch():
    lesson = ENGLISH[0]
    student = nbformat.read(notebook_path(NOTEBOOKS, lesson), as_version=4)
    solution = nbformat.read(notebook_path(SOLUTIONS, lesson), as_version=4)
    zh_student = nbformat.read(notebook_path(NOTEBOOKS, f"{lesson}_zh"), as_version=4)
    executed = build.executable(student, solution, lesson)  # not executed: only which cells go where matters
    code = next(i for i, c in enumerate(executed.cells) if c.cell_type == "code")
    executed.cells[code].outputs = [nbformat.v4.new_output("stream", name="stdout", text="an English output\n")]
    run = build.localised(executed, zh_student)
    for solutions in (False, True):
        nb = build.page(zh_student, run, f"{lesson}_zh", solutions, fast_note="", lang="zh-CN")
        assert "下载学生版笔记本" in nb.cells[0].source and 'hreflang="en"' in nb.cells[0].source
        assert f"../downloads/{lesson}_zh.ipynb" in nb.cells[0].source
        assert nb.cells[code].outputs[0]["text"] == "an English output\n"
        md = [c.source for c in nb.cells[1:] if c.cell_type == "markdown"]
        assert md == [c.source for c in zh_student.cells[1:] if c.cell_type == "markdown"]
