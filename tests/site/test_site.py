"""The course website (`make site`, site/README.md): built from the notebooks, then read in a real browser.

The build executes every lesson with the reference solutions in fast mode (a few minutes on 2 cores); the browser
tests serve the built site on a local port and drive Debian's chromium with Playwright.
"""
from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import subprocess
import threading
import time
from collections import deque
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import nbformat
import pytest

from conftest import ASSIGNMENTS, NOTEBOOKS, ROOT, SOLUTIONS, notebook_path, subprocess_env
from mtbert_browser import ConsoleLog, chromium, free_port, screenshot

_spec = importlib.util.spec_from_file_location("mtbert_site_build", ROOT / "site" / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

SEARCH_TERM = "temperature"  # notebook 07's task sampler (proportional, temperature, round-robin); no other lesson
MARKERS = build.MARKERS


# ---------------------------------------------------------------------------------------------- fast, no build
def test_page_shows_the_student_stub_or_with_solutions_the_solution_without_markers():
    lesson = ASSIGNMENTS[0]
    student = nbformat.read(notebook_path(NOTEBOOKS, lesson), as_version=4)
    solution = nbformat.read(notebook_path(SOLUTIONS, lesson), as_version=4)
    executed = build.executable(student, solution, lesson)  # not executed here: only the sources matter
    exercises = [i for i, c in enumerate(student.cells) if c.metadata.get("nbgrader", {}).get("solution")]
    assert exercises, f"{lesson} has no exercise cell"
    student_page = build.page(student, executed, lesson, solutions=False, fast_note="")
    solution_page = build.page(student, executed, lesson, solutions=True, fast_note="")
    for i in exercises:
        assert student_page.cells[i].source == student.cells[i].source
        assert "NotImplementedError" not in solution_page.cells[i].source
    text = "\n".join(c.source for c in solution_page.cells)
    assert not any(m in text for m in MARKERS)
    assert build.hidden_and_solution_lines(solution, student) & {l.strip() for l in text.splitlines()}, \
        "the self-study page should show the solution code"
    assert "{download}`download the student notebook" in student_page.cells[0].source


def test_leak_check_finds_a_solution_line_or_a_marker(tmp_path):
    secret = "return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)"
    page = '<div class="cell_input docutils container"><pre>def f(hidden, mask):\n    {}\n</pre></div>'
    (tmp_path / "a.html").write_text(page.format("raise NotImplementedError()"))
    build.check_html(tmp_path, {secret}, solutions=False)  # the stub: fine
    (tmp_path / "b.html").write_text(page.format(secret))
    with pytest.raises(SystemExit, match="solution/hidden-test code"):
        build.check_html(tmp_path, {secret}, solutions=False)
    (tmp_path / "b.html").write_text("<p>### BEGIN HIDDEN TESTS</p>")
    with pytest.raises(SystemExit, match="BEGIN HIDDEN TESTS"):
        build.check_html(tmp_path, {secret}, solutions=False)


def test_syllabus_comes_from_the_readme():
    rows = build.syllabus_from_readme()
    assert [r["lesson"] for r in rows] == ASSIGNMENTS


# ---------------------------------------------------------------------------------------------- the built site
@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    prebuilt = os.environ.get("MTBERT_SITE_BUILT")  # authoring: test a site already built by `make site`
    if prebuilt:
        return Path(prebuilt).resolve()
    out = tmp_path_factory.mktemp("site") / "html"
    t = time.perf_counter()
    proc = subprocess.run(["make", "-C", str(ROOT), "site", f"SITE_OUT={out}"], env=subprocess_env(),
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode:
        pytest.fail(f"make site failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    print(f"make site: {time.perf_counter() - t:.0f} s\n" + proc.stdout[-1500:])
    return out


@pytest.fixture(scope="module")
def base_url(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    p = context.new_page()
    p.set_default_timeout(30_000)
    yield p
    context.close()


@pytest.mark.slow
def test_make_site_builds_a_page_per_lesson_with_its_download(site):
    lessons = sorted(p.stem for p in (site / "lessons").glob("*.html"))
    assert lessons == ASSIGNMENTS
    assert (site / "index.html").exists() and (site / "search.html").exists()
    for lesson in ASSIGNMENTS:
        html = (site / "lessons" / f"{lesson}.html").read_text()
        downloads = list((site / "_downloads").glob(f"*/{lesson}.ipynb"))
        assert len(downloads) == 1, f"{lesson}: no downloadable student notebook"
        assert downloads[0].read_bytes() == notebook_path(NOTEBOOKS, lesson).read_bytes()
        assert f"{downloads[0].parent.name}/{lesson}.ipynb" in html
        assert "MTBERT_FAST=1" in html, f"{lesson}: the page does not say how its outputs were made"
        assert 'class="cell_output' in html, f"{lesson}: no outputs"


@pytest.mark.slow
def test_the_student_site_has_no_solution_and_no_hidden_test(site):
    secrets = build.course_secrets(ASSIGNMENTS)
    assert len(secrets) > 20, "too few solution lines to check against"
    build.check_html(site, secrets, solutions=False)  # raises on any marker or solution line in a code cell
    for p in site.rglob("*"):
        if p.is_file() and p.suffix in (".html", ".js", ".ipynb", ".txt"):
            text = p.read_text(errors="replace")
            assert not [m for m in MARKERS if m in text], p
    for lesson in ASSIGNMENTS:
        codes = build.code_inputs((site / "lessons" / f"{lesson}.html").read_text())
        assert any("raise NotImplementedError()" in c for c in codes), f"{lesson}: no exercise stub shown"


@pytest.mark.slow
def test_every_page_loads_without_console_errors_and_no_internal_link_is_broken(page, base_url, site):
    log = ConsoleLog(page)
    # from the home page along the links, and every other page the build wrote (search, index)
    pages = [base_url + p.relative_to(site).as_posix() for p in sorted(site.rglob("*.html"))
             if "_static" not in p.parts]  # the themes copy their template macros there: not pages
    todo, seen, problems = deque([base_url + "index.html", *pages]), set(), []
    ids_by_page, fragment_links, other_files = {}, set(), set()
    while todo:
        url = todo.popleft()
        if url in seen:
            continue
        seen.add(url)
        resp = page.goto(url, wait_until="networkidle")
        if resp is None or resp.status != 200:
            problems.append(f"{url}: HTTP {resp.status if resp else 'no response'}")
            continue
        page.wait_for_timeout(200)
        problems += [f"{url}: {p}" for p in log.take()]
        text = page.inner_text("body")
        problems += [f"{url}: shows {m!r}" for m in MARKERS if m in text]
        broken = page.eval_on_selector_all("img", "els => els.filter(e => !e.complete || e.naturalWidth === 0)"
                                                  ".map(e => e.src)")
        problems += [f"{url}: broken image {src}" for src in broken]
        ids_by_page[url] = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
            target, frag = urldefrag(urljoin(url, href))
            if not target.startswith(base_url):
                continue  # external (nbgrader's documentation): not reachable offline, not checked here
            if target.endswith(".html"):
                todo.append(target)
                if frag:
                    fragment_links.add((url, target, frag))
            elif target not in other_files:
                other_files.add(target)
                r = page.request.get(target)
                if r.status != 200:
                    problems.append(f"{url}: link to {href} gives HTTP {r.status}")
    problems += [f"{src}: links to #{frag}, which {target} does not have" for src, target, frag in sorted(fragment_links)
                 if frag not in ids_by_page.get(target, set())]
    lessons = {u for u in seen if "/lessons/" in u and "/zh-CN/" not in u}
    assert len(lessons) == len(ASSIGNMENTS), sorted(seen)
    # the language switch leads the crawl through the Chinese edition too, with the same checks on every page
    assert len({u for u in seen if "/zh-CN/lessons/" in u}) == len(ASSIGNMENTS), sorted(seen)
    assert not problems, "\n".join(problems[:40])
    print(f"{len(seen)} pages, {len(other_files)} other files, {len(fragment_links)} links to anchors: all fine")


@pytest.mark.slow
def test_navigation_reaches_all_ten_lessons(page, base_url):
    page.goto(base_url + "index.html", wait_until="networkidle")
    screenshot(page, "site-home.png")
    sidebar = page.eval_on_selector_all("nav.bd-docs-nav a", "els => els.map(e => e.href)")
    assert [Path(urlparse(h).path).stem for h in sidebar if "/lessons/" in h] == ASSIGNMENTS
    # and page by page with the "next" button, from the home page to the last lesson
    visited = []
    for _ in range(len(ASSIGNMENTS) + 2):
        nxt = page.locator("a.right-next")
        if nxt.count() == 0:
            break
        nxt.first.click()
        page.wait_for_load_state("networkidle")
        visited.append(Path(urlparse(page.url).path).stem)
        assert page.locator("h1").first.inner_text().startswith(visited[-1][:2]), page.url
    assert visited == ASSIGNMENTS


@pytest.mark.slow
def test_a_figure_is_rendered(page, base_url):
    page.goto(base_url + f"lessons/{ASSIGNMENTS[0]}.html", wait_until="networkidle")
    img = page.locator("div.cell_output img").first
    img.scroll_into_view_if_needed()
    stats = img.evaluate("""img => {
        const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
        const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
        const d = ctx.getImageData(0, 0, c.width, c.height).data, colours = new Set();
        for (let i = 0; i < d.length; i += 4 * 97) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        const box = img.getBoundingClientRect();
        return {w: img.naturalWidth, h: img.naturalHeight, shown: box.width * box.height, colours: colours.size};
    }""")
    assert stats["w"] > 200 and stats["h"] > 100 and stats["shown"] > 10_000, stats
    assert stats["colours"] > 20, f"the figure looks blank: {stats}"
    screenshot(page, "site-figure.png")
    page.evaluate("window.scrollTo(0, 0)")
    note = page.locator("div.admonition.note").first
    assert "download the student notebook" in note.inner_text() and "MTBERT_FAST=1" in note.inner_text()
    screenshot(page, "site-lesson-top.png")


@pytest.mark.slow
def test_formulas_are_typeset_offline(page, base_url):
    log = ConsoleLog(page)
    page.goto(base_url + "lessons/05_sequence_classification.html", wait_until="networkidle")
    page.locator("mjx-container").first.wait_for(timeout=30_000)  # MathJax from _static/, not a CDN
    assert page.locator("mjx-container").count() >= 5
    assert not log.take()


@pytest.mark.slow
def test_search_finds_a_term_from_notebook_07(page, base_url):
    page.goto(base_url + "index.html", wait_until="networkidle")
    page.locator("button.search-button__button").first.click()
    box = page.locator("#pst-search-dialog input[name=q]")
    box.fill(SEARCH_TERM)
    box.press("Enter")
    page.wait_for_url("**/search.html?q=*")
    results = page.locator("#search-results")
    results.get_by_text("Search finished").wait_for(timeout=30_000)
    hrefs = results.locator("a").evaluate_all("els => els.map(e => e.href)")
    assert any("lessons/07_" in h for h in hrefs), hrefs
    screenshot(page, "site-search.png")
