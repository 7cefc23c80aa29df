"""Collect LMS bulk downloads with nbgrader's ``zip_collect``: the file names of Canvas and Moodle, or a plain folder.

    python scripts/instructor/lms.py ASSIGNMENT FROM [--lms auto|canvas|canvas-id|moodle|plain]
    (or: make collect ASSIGNMENT=... FROM=... [LMS=...])

FROM is a bulk-download zip, a folder of zips, or a folder of files. It is copied to
``downloaded/<assignment>/archive/``, then ``nbgrader zip_collect --force`` extracts it and asks ``LMSCollector`` (the
``ZipCollectApp.collector_plugin`` set in nbgrader_config.py) who submitted each file:

- canvas     ``garciajose_12345_678901_00_bert_anatomy.ipynb``, ``..._LATE_12345_...``, a resubmission ``...-1.ipynb``;
             the student id is the name part (``canvas-id``: Canvas's numeric user id instead);
- moodle     ``José García_4567_assignsubmission_file_/00_bert_anatomy.ipynb`` (or without the folder); the student
             id is the full name, spaces and non-ASCII letters included (``李雷``);
- plain      ``<student_id>.ipynb`` or ``<student_id>/<any name>.ipynb``;
- auto       (default) whichever of the three the name fits.

A notebook whose name is not the assignment's (a renamed copy) is collected under the assignment's notebook name when
the assignment has one notebook; of several submissions of one notebook the highest resubmission number wins. Every
file that is not collected (unreadable, unknown name, superseded) is listed as ``NOT COLLECTED``, and the command then
exits with status 1 after collecting the rest.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

PATTERNS = {
    "canvas": r"^(?:.*/)?(?P<student_id>[^/_]+)_(?P<late>LATE_)?(?P<user_id>\d+)_(?P<submission_id>\d+)_"
              r"(?P<file>[^/]+?)(?:-(?P<resubmission>\d+))?\.ipynb$",
    "moodle": r"^(?:.*/)?(?P<student_id>[^/]+?)_(?P<participant_id>\d+)_assign(?:submission|feedback)_file_/?"
              r"(?:[^/]*/)*?(?P<file>[^/]+?)\.ipynb$",
    "plain": r"^(?P<student_id>[^/]+?)(?:\.ipynb|/(?:.*/)?(?P<file>[^/]+?)\.ipynb)$",
}
PATTERNS["canvas-id"] = PATTERNS["canvas"]
LMS_CHOICES = ("auto", "canvas", "canvas-id", "moodle", "plain")


def parse(relpath: str, lms: str = "auto") -> dict | None:
    """Who submitted the file at ``relpath`` (relative to the extracted folder, '/'-separated) and which notebook it
    is: {'lms', 'student_id', 'file' (name without .ipynb, or None), 'resubmission' (int), 'late' (bool)}, or None."""
    for name in (("moodle", "canvas", "plain") if lms == "auto" else (lms,)):
        m = re.match(PATTERNS[name], relpath)
        if m:
            g = m.groupdict()
            student = g["user_id"] if name == "canvas-id" else g["student_id"]
            return dict(lms=name, student_id=student.strip(), file=g.get("file"),
                        resubmission=int(g.get("resubmission") or 0), late=bool(g.get("late")))
    return None


try:
    from nbgrader.plugins import FileNameCollectorPlugin
    from traitlets import Unicode
except ImportError:  # parse() is usable without nbgrader
    FileNameCollectorPlugin, Unicode = object, None


class LMSCollector(FileNameCollectorPlugin):
    """nbgrader ``zip_collect`` plugin: Canvas / Moodle / plain names (see the module's docstring)."""

    if Unicode is not None:
        lms = Unicode("auto", help="canvas, canvas-id, moodle, plain or auto").tag(config=True)

    _chosen: dict | None = None

    def _extracted(self) -> str:
        app = self.parent
        return app._format_collect_path(app.extracted_directory)

    def _relpath(self, path: str) -> str:
        rel = Path(os.path.relpath(path, self._extracted())).as_posix()
        archive = Path(self.parent._format_collect_path(self.parent.archive_directory))
        first, _, rest = rel.partition("/")
        if rest and (archive / f"{first}.zip").exists():  # zip_collect extracts x.zip into x/
            rel = rest
        return rel

    def _released(self) -> list[str]:
        app = self.parent
        folder = Path(app.coursedir.format_path(app.coursedir.release_directory, ".", app.coursedir.assignment_id))
        return sorted(p.stem for p in folder.glob("*.ipynb"))

    def _not_collected(self, path: str, why: str) -> None:
        self.log.warning("NOT COLLECTED: %s: %s", self._relpath(path), why)

    def _choose(self) -> dict:
        """Look at every file once: which one each (student, notebook) is collected from, and under what name."""
        import nbformat
        released, chosen, rank = self._released(), {}, {}
        for root, _, files in os.walk(self._extracted()):
            for f in sorted(files):
                path = os.path.join(root, f)
                if not f.endswith(".ipynb") or ".ipynb_checkpoints" in path or "__MACOSX" in path:
                    continue
                info = parse(self._relpath(path), self.lms)
                if info is None:
                    self._not_collected(path, f"the name fits no {self.lms} pattern (see scripts/instructor/lms.py)")
                    continue
                try:
                    nbformat.read(path, as_version=4)
                except Exception as exc:  # noqa: BLE001 - any unreadable file is reported
                    self._not_collected(path, f"not a readable notebook ({type(exc).__name__}: {exc})")
                    continue
                name = info["file"] or (released[0] if len(released) == 1 else None)
                if name not in released and len(released) == 1:
                    self.log.info("%s: %r collected as %s.ipynb", info["student_id"], name, released[0])
                    name = released[0]
                if name is None:
                    self._not_collected(path, "which notebook is it? name it after one of " + ", ".join(released))
                    continue
                key = (info["student_id"], name)
                exact = info["file"] == name
                score = (info["resubmission"], exact, f)
                if key in chosen:
                    loser = path if score < rank[key] else chosen[key]["path"]
                    self._not_collected(loser, f"superseded by another submission of {name}.ipynb by {key[0]}")
                    if score < rank[key]:
                        continue
                chosen[key], rank[key] = dict(info, path=path, file_id=name + ".ipynb"), score
        return {v["path"]: v for v in chosen.values()}

    def collect(self, submitted_file: str) -> dict | None:
        if self._chosen is None:
            self._chosen = self._choose()
        info = self._chosen.get(submitted_file)
        if info is None:
            if not submitted_file.endswith(".ipynb") and "__MACOSX" not in submitted_file:
                self._not_collected(submitted_file, "not a notebook")
            return None
        if info["late"]:
            self.log.info("%s: marked LATE by the LMS", info["student_id"])
        return dict(student_id=info["student_id"], file_id=info["file_id"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("assignment")
    ap.add_argument("source", type=Path, help="a bulk-download zip, or a folder")
    ap.add_argument("--lms", default="auto", choices=LMS_CHOICES)
    ap.add_argument("--course", type=Path, default=Path(__file__).resolve().parents[2], help="course root")
    args = ap.parse_args(argv)
    if not (args.course / "notebooks" / args.assignment).is_dir():
        known = sorted(p.name for p in (args.course / "notebooks").iterdir() if p.is_dir())
        raise SystemExit(f"unknown assignment {args.assignment!r}; assignments: {known}")
    if not args.source.exists():
        raise SystemExit(f"{args.source} does not exist")
    archive = args.course / "downloaded" / args.assignment / "archive"
    shutil.rmtree(archive, ignore_errors=True)
    archive.mkdir(parents=True)
    if args.source.is_dir():
        shutil.copytree(args.source, archive, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".*", "__MACOSX"))
    else:
        shutil.copy2(args.source, archive)
    nbgrader = Path(sys.executable).with_name("nbgrader")
    proc = subprocess.run([str(nbgrader), "zip_collect", args.assignment, "--force", f"--LMSCollector.lms={args.lms}"],
                          cwd=args.course, capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    skipped = [line for line in (proc.stdout + proc.stderr).splitlines() if "NOT COLLECTED" in line]
    students = sorted(p.parent.name for p in (args.course / "submitted").glob(f"*/{args.assignment}")) \
        if (args.course / "submitted").is_dir() else []
    print(f"\n{len(students)} student(s) have a submission of {args.assignment} in submitted/; "
          f"{len(skipped)} file(s) NOT COLLECTED (listed above)")
    return 1 if proc.returncode or skipped else 0


if __name__ == "__main__":
    sys.exit(main())
