"""Build the course website: `make site` (student view) or `make site SOLUTIONS=1` (self-study, with solutions).

1. For every lesson, the executable notebook is the student notebook (notebooks/NN/NN.ipynb, what nbgrader released:
   no hidden tests) with each exercise stub replaced by the reference solution from solutions/NN/NN.ipynb.
2. It is executed once in fast mode (MTBERT_FAST=1, as while grading: training demos run a few steps) in a fresh
   kernel, offline. Executed notebooks are cached in site/build/cache/ under a hash of everything that can change
   an output (the executed code, mtbert_ref/ and its data, the pinned requirements), so outputs are always those of
   the current code; a fresh clone (CI) executes everything.
3. The page shows the student notebook with those outputs (or, with --solutions, the solution code), a note on how
   the outputs were made, and a link to download the student notebook. Sphinx + myst-nb render the pages
   (site/conf.py), with the home page's syllabus taken from README.md.
   The Chinese edition (site/lang.py, `--lang`) is built the same way from notebooks/NN_name_zh/ into zh-CN/ of
   the same folder, reusing the English executions (the code cells are identical); every page links to its
   counterpart in the other language.
4. The built HTML is checked: no solution or hidden-test marker, and in the student view no line of solution or
   hidden-test code that the student notebook does not itself contain.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lang as L  # noqa: E402  (site/lang.py: the site's words in each language)

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "site"
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
CACHE = SITE / "build" / "cache"
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def lessons() -> list[str]:
    """The English lessons (solutions/NN_name_zh/ are their Chinese editions)."""
    return sorted(p.name for p in SOLUTIONS.iterdir()
                  if p.is_dir() and p.name[:2].isdigit() and not p.name.endswith(L.SUFFIX["zh-CN"]))


def notebook_file(base: Path, lesson: str) -> Path:
    nbs = sorted((base / lesson).glob("*.ipynb"))
    if len(nbs) != 1:
        raise SystemExit(f"{base / lesson} should hold exactly one notebook, found {[p.name for p in nbs]}")
    return nbs[0]


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def strip_markers(source: str) -> str:
    return "\n".join(l for l in source.splitlines() if not any(m in l for m in MARKERS))


def hidden_and_solution_lines(solution_nb, *student_nbs) -> set[str]:
    """Code lines that only the instructor's notebook has (inside solution or hidden-test blocks), none of which
    occurs in any of the student notebooks given (a line such as `batch = {k: v.to(device) ...}` in one lesson's
    solution can be ordinary demo code in another lesson)."""
    student_text = "\n".join(c.source for nb in student_nbs for c in nb.cells)
    secret, inside = set(), False
    for cell in solution_nb.cells:
        for line in cell.source.splitlines():
            s = line.strip()
            if s.startswith(("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS")):
                inside = True
                continue
            if s.startswith(("### END SOLUTION", "### END HIDDEN TESTS")):
                inside = False
                continue
            # Short or generic lines ("return x", "else:") also occur in ordinary code: only distinctive ones, and
            # none that the student notebook itself contains (instructions may quote a line of code).
            if inside and len(s) >= 20 and not s.startswith("#") and s not in student_text:
                secret.add(s)
    return secret


def course_secrets(names: list[str]) -> set[str]:
    """Solution and hidden-test lines of these lessons that no student notebook of the course contains."""
    students = [nbformat.read(notebook_file(NOTEBOOKS, n), as_version=4) for n in lessons()]
    return set().union(*(hidden_and_solution_lines(nbformat.read(notebook_file(SOLUTIONS, n), as_version=4), *students)
                         for n in names))


def code_inputs(page_html: str) -> list[str]:
    """The text of every code cell's input on a built page (myst-nb's `cell_input` blocks)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page_html, "html.parser")
    return [div.get_text() for div in soup.select("div.cell_input")]


def executable(student_nb, solution_nb, lesson: str):
    """The student notebook with each exercise cell's stub replaced by the reference solution."""
    solution_cells = {_nbgrader(c).get("grade_id"): c for c in solution_nb.cells if _nbgrader(c).get("grade_id")}
    nb = copy.deepcopy(student_nb)
    for cell in nb.cells:
        meta = _nbgrader(cell)
        if meta.get("solution"):
            ref = solution_cells.get(meta.get("grade_id"))
            if ref is None or ref.cell_type != cell.cell_type:
                raise SystemExit(f"{lesson}: exercise cell {meta.get('grade_id')!r} has no matching cell in solutions/ "
                                 "(run `make release`)")
            cell.source = strip_markers(ref.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def _tree_digest(path: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
            h.update(str(p.relative_to(ROOT)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def cache_key(nb, env_digest: str) -> str:
    code = json.dumps([[c.cell_type, c.source] for c in nb.cells])
    return hashlib.sha256((code + env_digest).encode()).hexdigest()[:20]


def kernel_env() -> dict:
    env = dict(os.environ)
    env.update(MTBERT_FAST="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1",
               # figures inline, as in Jupyter (the Makefile's MPLBACKEND=Agg would drop them)
               MPLBACKEND="module://matplotlib_inline.backend_inline", TQDM_DISABLE="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("NBGRADER_EXECUTION", None)
    return env


def execute(nb, lesson: str, timeout: int):
    with tempfile.TemporaryDirectory(prefix=f"mtbert-site-{lesson}-") as cwd:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
                                resources={"metadata": {"path": cwd}}, startup_timeout=300)
        try:
            client.execute(env=kernel_env())  # passed on to the kernel manager's start_kernel
        except Exception as exc:  # name the lesson and the cell, then stop the build
            raise SystemExit(f"{lesson}: executing the reference notebook failed:\n{str(exc)[-3000:]}") from None
    return nb


def clean_outputs(cell):
    """Outputs that render offline: widget views become their text fallback; no execution timing metadata."""
    outs = []
    for out in cell.get("outputs", []):
        data = out.get("data")
        if data and WIDGET_MIME in data:
            data.pop(WIDGET_MIME)
            if not data:
                continue
        outs.append(out)
    cell.outputs = outs
    cell.metadata.pop("execution", None)


def localised(executed_nb, student_nb):
    """The executed (English) notebook with the prose of `student_nb`, an edition with the same cells."""
    nb = copy.deepcopy(executed_nb)
    if len(nb.cells) != len(student_nb.cells):
        raise SystemExit("the Chinese student notebook and the English one have different cells: run "
                         "scripts/authoring/translate.py --release")
    for cell, prose in zip(nb.cells, student_nb.cells):
        if cell.cell_type == "markdown":
            cell.source = prose.source
    return nb


def page(student_nb, executed_nb, lesson: str, solutions: bool, fast_note: str, lang: str = "en"):
    nb = copy.deepcopy(executed_nb if solutions else student_nb)
    nb.metadata.pop("widgets", None)
    for cell, done in zip(nb.cells, executed_nb.cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = done.outputs, done.execution_count
            clean_outputs(cell)
        if _nbgrader(cell).get("solution") and solutions:
            cell.source = strip_markers(cell.source)
    first = nb.cells[0]
    lines = first.source.splitlines()
    if first.cell_type != "markdown" or not lines or not lines[0].startswith("# "):
        raise SystemExit(f"{lesson}: the first cell must be a markdown cell starting with the '# ' title")
    words = L.TEXT[lang]
    view = words["view_solutions" if solutions else "view_student"]
    english = lesson.removesuffix(L.SUFFIX[lang]) if L.SUFFIX[lang] else lesson  # the page's name in English
    note = "```{note}\n" + words["note"].format(href=f"../downloads/{lesson}.ipynb", view=view, fast=fast_note) + \
        "\n```"
    first.source = "\n".join([lines[0], "", L.switch_link(lang, english, depth=1), "", note, *lines[1:]])
    return nb


def syllabus_from_readme(lang: str = "en") -> list[dict]:
    """Rows of README.md's (README.zh-CN.md's) syllabus table: lesson folder, what you implement, time."""
    text = (ROOT / L.README[lang]).read_text(encoding="utf-8")
    section = text.split(L.SYLLABUS_HEADING[lang], 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cols) >= 6 and re.fullmatch(r"\d\d", cols[0]):
            m = re.match(r"`(\d\d_[a-z_]+)`\s*—\s*(.*)", cols[1])
            if m:
                rows.append({"lesson": m.group(1), "topics": m.group(2), "implement": cols[2], "time": cols[-1]})
    return rows


def index_page(titles: dict[str, str], solutions: bool, fast_note: str, lang: str = "en") -> str:
    words = L.TEXT[lang]
    rows = {r["lesson"]: r for r in syllabus_from_readme(lang)}
    table = [words["columns"], "|---|---|---|---|"]
    for lesson, title in titles.items():
        r = rows.get(lesson, {})
        table.append(f"| {{doc}}`{title} <lessons/{lesson}>` | {r.get('topics', '')} | "
                     f"{r.get('implement', '')} | {r.get('time', '')} |")
    intro = (ROOT / L.README[lang]).read_text(encoding="utf-8").split("\n\n", 2)[1].strip()
    edition = words["edition_solutions" if solutions else "edition_student"]
    toc = "\n".join(f"lessons/{lesson}" for lesson in titles)
    return f"""# {words["title"]}

{L.switch_link(lang, "index", depth=0)}

{intro}

{words["about"]} {edition} {fast_note}

{words["work"]}

## {words["syllabus"]}

{chr(10).join(table)}

```{{toctree}}
:maxdepth: 1
:caption: {words["caption"]}
:hidden:

{toc}
```
"""


def check_html(out: Path, secrets: set[str], solutions: bool) -> None:
    """No marker anywhere; in the student view, no solution or hidden-test line in any code cell's input."""
    problems = []
    for p in sorted(out.rglob("*")):
        if p.suffix not in (".html", ".js", ".txt", ".ipynb") or "_static" in p.parts:
            continue
        text = p.read_text(errors="replace")
        problems += [f"{p.relative_to(out)}: contains {m!r}" for m in MARKERS if m in text]
        if not solutions and p.suffix == ".html":
            lines = {l.strip() for block in code_inputs(text) for l in block.splitlines()}
            problems += [f"{p.relative_to(out)}: shows solution/hidden-test code {s!r}" for s in sorted(secrets & lines)]
    if problems:
        raise SystemExit("the built site leaks instructor material:\n  " + "\n  ".join(problems[:20]))


def executed_lesson(lesson: str, args, env_digest: str, timings: list):
    """The English lesson executed with the reference solutions (from the cache when its code is unchanged)."""
    student_nb = nbformat.read(notebook_file(NOTEBOOKS, lesson), as_version=4)
    solution_nb = nbformat.read(notebook_file(SOLUTIONS, lesson), as_version=4)
    nb = executable(student_nb, solution_nb, lesson)
    cached = CACHE / f"{lesson}-{cache_key(nb, env_digest)}.ipynb"
    t = time.perf_counter()
    if cached.exists() and not args.no_cache:
        executed, how = nbformat.read(cached, as_version=4), "cached"
    else:
        print(f"executing {lesson} (reference solutions, MTBERT_FAST=1) ...", flush=True)
        executed = execute(nb, lesson, args.timeout)
        for old in CACHE.glob(f"{lesson}-*.ipynb"):
            old.unlink()
        nbformat.write(executed, cached)
        how = "executed"
    timings.append((lesson, how, time.perf_counter() - t))
    print(f"  {lesson}: {how} in {timings[-1][2]:.0f} s", flush=True)
    return executed


def build_edition(lang: str, out: Path, work: str, executed: dict, args) -> int:
    """Write the sources of one edition into `work`-src (beside the site, not in it) and render them into `out`."""
    t = time.perf_counter()
    src = Path(work + "-src")
    shutil.rmtree(src, ignore_errors=True)
    (src / "lessons").mkdir(parents=True)
    (src / "downloads").mkdir()
    fast_note = L.TEXT[lang]["fast_note"]
    titles = {}
    for lesson, done in executed.items():
        name = lesson + L.SUFFIX[lang]
        student_nb = nbformat.read(notebook_file(NOTEBOOKS, name), as_version=4)
        run = done if lang == "en" else localised(done, student_nb)
        nbformat.write(page(student_nb, run, name, args.solutions, fast_note, lang), src / "lessons" / f"{name}.ipynb")
        shutil.copy(notebook_file(NOTEBOOKS, name), src / "downloads" / f"{name}.ipynb")
        titles[name] = student_nb.cells[0].source.splitlines()[0][2:].strip()
    (src / "index.md").write_text(index_page(titles, args.solutions, fast_note, lang), encoding="utf-8")
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(SITE), "-q", "-W", "--keep-going", "-E",
           "-d", work + "-doctrees", str(src), str(out)]
    if args.solutions:
        cmd[3:3] = ["-t", "solutions"]  # conf.py: the self-study title
    if lang != "en":
        cmd[3:3] = ["-t", "zh"]  # conf.py: the Chinese language and title
    if subprocess.run(cmd).returncode:
        print(f"sphinx-build failed ({lang})", file=sys.stderr)
        return 1
    n_pages = len(list(out.glob("*.html"))) + len(list((out / "lessons").glob("*.html")))
    print(f"site ({lang}): {n_pages} pages in {out} (sphinx {time.perf_counter() - t:.0f} s)")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=SITE / "build" / "html")
    ap.add_argument("--solutions", action="store_true", help="self-study build: show the solution code")
    ap.add_argument("--lang", choices=[*L.LANGS, "all"], default="all",
                    help="the edition(s) to build (default all: English in OUT, Chinese in OUT/zh-CN; the language "
                         "switch of a single edition links to the other one's folder)")
    ap.add_argument("--only", nargs="*", help="build only these lessons (e.g. 00_bert_anatomy); for authoring")
    ap.add_argument("--no-cache", action="store_true", help="execute every notebook again")
    ap.add_argument("--timeout", type=int, default=int(os.environ.get("MTBERT_CELL_TIMEOUT", "600")),
                    help="seconds per cell (default 600)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    out = args.out.resolve()
    CACHE.mkdir(parents=True, exist_ok=True)
    env_digest = _tree_digest(ROOT / "mtbert_ref") + hashlib.sha256((ROOT / "requirements.txt").read_bytes()).hexdigest()
    timings = []
    executed = {lesson: executed_lesson(lesson, args, env_digest, timings) for lesson in lessons()
                if not args.only or lesson in args.only}
    for lang in (L.LANGS if args.lang == "all" else [args.lang]):
        work = str(out) + (f"-{lang}" if L.SUBDIR[lang] else "")
        if build_edition(lang, out / L.SUBDIR[lang] if L.SUBDIR[lang] else out, work, executed, args):
            return 1
    check_html(out, course_secrets(list(executed)), args.solutions)
    print(f"site: notebooks {sum(x[2] for x in timings):.0f} s, total {time.perf_counter() - t0:.0f} s")
    print(f"open {out / 'index.html'} or serve it: python -m http.server -d {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
