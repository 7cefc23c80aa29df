"""The Chinese edition (issue #17): solutions/NN_name_zh/ generated from solutions/NN_name/ and a translation file.

One source: the English solution notebook. translations/zh-CN/NN_name.json maps the sha256 of each English markdown
cell's source to {"en": <that English source, for review>, "zh": <its translation>}. The generator copies the English
notebook, replaces each markdown cell's source with its translation and leaves everything else as it is: every code
cell byte for byte, and the nbgrader metadata (grade ids, points, locks), so the same checkers grade both editions.

  python scripts/authoring/translate.py              write solutions/NN_name_zh/NN_name_zh.ipynb for every notebook
  python scripts/authoring/translate.py --release    ... then `nbgrader generate_assignment NN_name_zh --force`
  python scripts/authoring/translate.py --check      fail on a stale or missing translation, on a generated notebook
                                                     that differs from the committed one, on any code cell that differs
  python scripts/authoring/translate.py --update     add an entry {"en": ..., "zh": ""} for every English cell that has
                                                     none (then translate those), and drop entries no cell uses

After editing an English markdown cell: `--check` names the cell and shows what changed; `--update`, translate the new
entry (its "en" is the new English text), then run without options and with --release. docs/TERMINOLOGY.md lists the
Chinese terms.
"""
from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
TRANSLATIONS = ROOT / "translations" / "zh-CN"
SUFFIX = "_zh"
LANGUAGE = "zh-CN"


def english_notebooks() -> list[str]:
    """The English lessons: solutions/NN_name/ folders that are not themselves a translation."""
    return sorted(p.name for p in SOLUTIONS.iterdir()
                  if p.is_dir() and p.name[:2].isdigit() and not p.name.endswith(SUFFIX))


def zh_name(name: str) -> str:
    return name + SUFFIX


def source_path(name: str) -> Path:
    return SOLUTIONS / name / f"{name}.ipynb"


def translation_path(name: str) -> Path:
    return TRANSLATIONS / f"{name}.json"


def cell_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def _shown(path: Path) -> str:
    """The path relative to the repository when it is inside it (messages), else as it is."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def load_table(name: str) -> dict[str, dict]:
    path = translation_path(name)
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("cells"), dict):
        raise SystemExit(f"{path}: expected {{\"cells\": {{<sha256>: {{\"en\": ..., \"zh\": ...}}}}}}")
    return data["cells"]


def save_table(name: str, cells: dict[str, dict]) -> None:
    TRANSLATIONS.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"cells": cells}, ensure_ascii=False, indent=1)
    translation_path(name).write_text(text + "\n", encoding="utf-8")


def _stale_hint(source: str, table: dict[str, dict], used: set[str]) -> str:
    """The diff between this English cell and the unused entry most like it (the cell's old text, usually)."""
    unused = {h: e.get("en", "") for h, e in table.items() if h not in used}
    best = difflib.get_close_matches(source, list(unused.values()), n=1, cutoff=0.3)
    if not best:
        return "English text:\n" + source
    diff = difflib.unified_diff(best[0].splitlines(), source.splitlines(), "translated English", "English now",
                                lineterm="", n=1)
    return "what changed since it was translated:\n" + "\n".join(diff)


def translate(name: str) -> tuple[nbformat.NotebookNode, list[str]]:
    """The Chinese notebook of lesson `name` and the problems found (stale or missing translations)."""
    nb = nbformat.read(source_path(name), as_version=4)
    table = load_table(name)
    problems, used, missing = [], set(), []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        h = cell_hash(cell.source)
        entry = table.get(h)
        if entry is None:
            missing.append((i, cell.source))
            continue
        used.add(h)
        if not entry.get("zh", "").strip():
            problems.append(f"{name} cell {i}: not translated yet (empty \"zh\" for {h[:12]})")
            continue
        cell.source = entry["zh"]
    for i, source in missing:  # after the loop, so that the hint only offers entries no other cell uses
        problems.append(f"{name} cell {i}: no translation of this English text in {_shown(translation_path(name))}"
                        f" (stale or new; run --update, then translate the new entry)\n{_stale_hint(source, table, used)}")
    nb.metadata["mtbert"] = {"language": LANGUAGE, "translated_from": f"solutions/{name}/{name}.ipynb"}
    return nb, problems


def zh_path(name: str) -> Path:
    return SOLUTIONS / zh_name(name) / f"{zh_name(name)}.ipynb"


def code_cell_differences(name: str) -> list[str]:
    """Cells of the committed Chinese notebook whose type, code, outputs or nbgrader metadata differ from English."""
    en = nbformat.read(source_path(name), as_version=4)
    zh = nbformat.read(zh_path(name), as_version=4)
    if len(en.cells) != len(zh.cells):
        return [f"{zh_name(name)} has {len(zh.cells)} cells, {name} {len(en.cells)}"]
    out = []
    for i, (a, b) in enumerate(zip(en.cells, zh.cells)):
        if a.cell_type != b.cell_type or a.metadata != b.metadata or a.get("id") != b.get("id"):
            out.append(f"{zh_name(name)} cell {i}: type, id or metadata (nbgrader) differs from {name}")
        elif a.cell_type == "code" and (a.source != b.source or a.outputs != b.outputs):
            out.append(f"{zh_name(name)} cell {i}: the code cell differs from {name} (code cells are never translated)")
    return out


def check(names: list[str]) -> list[str]:
    problems = []
    for name in names:
        nb, found = translate(name)
        problems += found
        path = zh_path(name)
        if not path.exists():
            problems.append(f"{_shown(path)} is missing: run scripts/authoring/translate.py")
            continue
        problems += code_cell_differences(name)
        if not found and path.read_text(encoding="utf-8") != nbformat.writes(nb) + "\n":
            problems.append(f"{_shown(path)} differs from what the generator makes of {name} and its "
                            "translation: run scripts/authoring/translate.py --release")
    return problems


def update(name: str) -> tuple[int, int]:
    """Add empty entries for untranslated cells, drop unused ones; returns (added, dropped)."""
    nb = nbformat.read(source_path(name), as_version=4)
    table = load_table(name)
    wanted = {cell_hash(c.source): c.source for c in nb.cells if c.cell_type == "markdown"}
    unused = {e.get("en", ""): e for h, e in table.items() if h not in wanted}
    new = {}
    for h, src in wanted.items():
        if h in table:
            new[h] = table[h]
            continue
        new[h] = {"en": src, "zh": ""}
        old = difflib.get_close_matches(src, list(unused), n=1, cutoff=0.3)
        if old:  # the cell's earlier text and translation, to edit rather than start again
            new[h]["previous"] = {"en": old[0], "zh": unused.pop(old[0]).get("zh", "")}
    save_table(name, new)
    return len(set(wanted) - set(table)), len(set(table) - set(wanted))


def write(name: str) -> Path:
    nb, problems = translate(name)
    if problems:
        raise SystemExit("\n\n".join(problems))
    path = zh_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return path


def release(name: str) -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "generate_assignment", zh_name(name), "--force"],
                   cwd=ROOT, env=env, check=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="fail on stale/missing translations or an out-of-date file")
    mode.add_argument("--update", action="store_true", help="add empty entries for new English cells, drop unused ones")
    ap.add_argument("--release", action="store_true", help="after writing, run nbgrader generate_assignment on each")
    ap.add_argument("--only", nargs="*", help="these lessons only (English names, e.g. 03_extractive_qa)")
    args = ap.parse_args(argv)
    names = english_notebooks()
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            raise SystemExit(f"unknown lesson(s) {unknown}; expected some of {names}")
        names = [n for n in names if n in args.only]
    if args.check:
        problems = check(names)
        print("\n\n".join(problems) if problems else f"{len(names)} Chinese notebooks in sync with their sources")
        return 1 if problems else 0
    for name in names:
        if args.update:
            added, dropped = update(name)
            print(f"{_shown(translation_path(name))}: {added} new entries to translate, {dropped} dropped")
            continue
        print(f"wrote {_shown(write(name))}")
        if args.release:
            release(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
