"""``make flags``: every flag and repair the autograder recorded, as flags.csv and a summary on the terminal.

    python scripts/instructor/flags.py [--course DIR] [--out flags.csv]

Reads the graded notebooks (autograded/<student>/<assignment>/*.ipynb, metadata ``mtbert.flags`` and
``mtbert.repairs`` written by scripts/instructor/verdict.py and repair.py). A flag names the cell, the line and the
technique; it is the instructor's to judge (docs/INSTRUCTOR_GUIDE.md, "Flags"). Exit status 0 always: flags are a
report, not an error.
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from audit import describe

FIELDS = ["student", "assignment", "notebook", "kind", "cell", "grade_id", "line", "code", "technique"]


def collect(course: Path) -> list[dict]:
    rows = []
    for path in sorted((course / "autograded").glob("*/*/*.ipynb")):
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("mtbert", {})
        base = {"student": path.parent.parent.name, "assignment": path.parent.name, "notebook": path.stem}
        rows += [dict(base, **{k: f.get(k) for k in FIELDS if k in f}) for f in meta.get("flags", [])]
        rows += [dict(base, kind="repair", technique=r) for r in meta.get("repairs", [])]
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--course", type=Path, default=Path.cwd())
    ap.add_argument("--out", type=Path, default=Path("flags.csv"))
    args = ap.parse_args(argv)
    rows = collect(args.course)
    with open(args.out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    serious = [r for r in rows if r["kind"] == "tampering"]
    print(f"{len(serious)} tampering flag(s), {sum(r['kind'] == 'kernel' for r in rows)} kernel death(s), "
          f"{sum(r['kind'] == 'repair' for r in rows)} repair(s) in {len({r['student'] for r in rows})} "
          f"submission(s); all in {args.out}")
    for r in serious:
        print(f"  FLAG {r['student']} / {r['assignment']}: {describe(r)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
