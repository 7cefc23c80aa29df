"""Collect student submissions into nbgrader's layout: submitted/<student_id>/<assignment>/<notebook>.ipynb.

    python scripts/instructor/collect.py ASSIGNMENT DOWNLOADS_DIR        (or: make collect ASSIGNMENT=... FROM=...)

DOWNLOADS_DIR holds one submission per student, either as ``<student_id>.ipynb`` or as a folder
``<student_id>/`` containing exactly one ``.ipynb`` (what most LMS bulk downloads unpack to). Each file is renamed to
the assignment's notebook name, so students may have renamed their copy. A file that is not a readable notebook is
reported (not silently dropped) and the command exits with status 1 after collecting the rest.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]


def release_notebook(assignment: str) -> Path:
    folder = ROOT / "notebooks" / assignment
    nbs = sorted(folder.glob("*.ipynb"))
    if len(nbs) != 1:
        known = sorted(p.name for p in (ROOT / "notebooks").iterdir() if p.is_dir())
        raise SystemExit(f"unknown assignment {assignment!r}: expected one notebook in {folder}; assignments: {known}")
    return nbs[0]


def find_submissions(downloads: Path) -> tuple[dict[str, Path], list[str]]:
    found: dict[str, Path] = {}
    problems: list[str] = []
    for entry in sorted(downloads.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            nbs = [p for p in entry.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts]
            if len(nbs) != 1:
                problems.append(f"{entry.name}: expected one .ipynb in the folder, found {len(nbs)}")
                continue
            student, path = entry.name, nbs[0]
        elif entry.suffix == ".ipynb":
            student, path = entry.stem, entry
        else:
            problems.append(f"{entry.name}: not a notebook (.ipynb) nor a folder")
            continue
        if not re.fullmatch(r"[A-Za-z0-9_.@-]+", student):
            problems.append(f"{entry.name}: student id {student!r} has characters nbgrader does not accept")
            continue
        if student in found:
            problems.append(f"{entry.name}: a second submission for student {student!r}")
            continue
        found[student] = path
    return found, problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("assignment")
    ap.add_argument("downloads", type=Path)
    args = ap.parse_args(argv)
    target_name = release_notebook(args.assignment).name
    if not args.downloads.is_dir():
        raise SystemExit(f"{args.downloads} is not a folder")
    found, problems = find_submissions(args.downloads)
    collected = 0
    for student, path in found.items():
        try:
            nbformat.read(path, as_version=4)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is reported
            problems.append(f"{student}: {path.name} is not a readable notebook ({type(exc).__name__}: {exc})")
            continue
        dest = ROOT / "submitted" / student / args.assignment
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest / target_name)
        collected += 1
    print(f"collected {collected} submission(s) of {args.assignment} into submitted/<student>/{args.assignment}/"
          f"{target_name}")
    for p in problems:
        print(f"NOT COLLECTED: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
