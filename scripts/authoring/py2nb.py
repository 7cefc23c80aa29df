"""Author an nbgrader instructor notebook from a percent-format .py file (an authoring aid: after the first draft the .ipynb in solutions/ is the source of truth; edit it in Jupyter).

Cell markers (each on its own line):
  # %% [markdown]                       markdown cell; following lines start with "# " (stripped) or are blank "#"
  # %%                                  plain code cell (student may edit; not graded)
  # %% [locked id=setup]                read-only code cell
  # %% [solution id=ex1]                autograded-answer cell: contain ### BEGIN SOLUTION / ### END SOLUTION
  # %% [tests id=test_ex1 points=2]     autograder tests cell (may contain ### BEGIN HIDDEN TESTS / ### END HIDDEN TESTS)
  # %% [answer id=q1]                   manually graded markdown answer? (not used)
Usage: python py2nb.py src.py out.ipynb
"""
import re
import sys

import nbformat

MARK = re.compile(r"^# %%(?:\s*\[(?P<kind>\w+)(?P<attrs>[^\]]*)\])?\s*$")


def parse_attrs(s):
    return dict(kv.split("=", 1) for kv in s.split())


def build(src_text):
    cells = []
    cur = None
    for line in src_text.splitlines():
        m = MARK.match(line)
        if m:
            if cur:
                cells.append(cur)
            cur = {"kind": m.group("kind") or "code", "attrs": parse_attrs(m.group("attrs") or ""), "lines": []}
            continue
        if cur is None:
            continue
        cur["lines"].append(line)
    if cur:
        cells.append(cur)
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "language_info": {"name": "python"},
    }
    ids = set()
    for c in cells:
        lines = c["lines"]
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        kind = c["kind"]
        if kind == "markdown":
            text = "\n".join(l[2:] if l.startswith("# ") else ("" if l.strip() == "#" else l) for l in lines)
            cell = nbformat.v4.new_markdown_cell(text)
        else:
            cell = nbformat.v4.new_code_cell("\n".join(lines))
        a = c["attrs"]
        if kind in ("solution", "tests", "locked"):
            gid = a["id"]
            assert gid not in ids, gid
            ids.add(gid)
            md = {"grade": kind == "tests", "grade_id": gid, "locked": kind != "solution",
                  "schema_version": 3, "solution": kind == "solution", "task": False}
            if kind == "tests":
                md["points"] = int(a.get("points", 1))
            cell.metadata["nbgrader"] = md
        cell.id = re.sub(r"[^A-Za-z0-9-_]", "-", a.get("id", f"cell-{len(nb.cells)}"))[:64]
        nb.cells.append(cell)
    # cell ids must be unique
    seen = set()
    for i, cell in enumerate(nb.cells):
        if cell.id in seen:
            cell.id = f"{cell.id}-{i}"
        seen.add(cell.id)
    return nb


if __name__ == "__main__":
    nb = build(open(sys.argv[1]).read())
    nbformat.validate(nb)
    nbformat.write(nb, sys.argv[2])
    print(f"wrote {sys.argv[2]}: {len(nb.cells)} cells")
