"""``make autograde ASSIGNMENT=... JOBS=N``: autograde every submission, N at a time, into the one gradebook.db.

    python scripts/instructor/parallel.py ASSIGNMENT [--jobs N] [--course DIR]

JOBS=1 is plain ``nbgrader autograde ASSIGNMENT --force``. With N > 1, N worker processes take students from one
queue, one at a time, and grade each as ``nbgrader autograde ASSIGNMENT --force --student <id>`` would (every kernel in
its own sandbox): a slow submission holds up one worker, not a fixed share of the class. A worker is one Python
process that loads nbgrader once and runs its AutogradeApp for every student it is handed (``--worker``), so the
class pays nbgrader's start-up N times, not once per student. Why processes over one shared gradebook rather than N gradebooks
merged afterwards: nbgrader writes a student's grades in a few short transactions, sqlite serialises them (waiting up
to 5 s for a lock), and nothing needs merging or can be lost in a merge. A student whose run still failed on a locked
database is retried (up to 3 times); any other failure (a kernel that died) is reported, as nbgrader reports it, and
the exit status is 1. Each kernel gets cores/N threads (OMP/MKL/TORCH_NUM_THREADS) unless set.
"""
from __future__ import annotations

import argparse
import glob
import logging
import os
import queue
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

LOCKED = ("database is locked", "OperationalError: (sqlite3.OperationalError)")


def students(course: Path, assignment: str) -> list[str]:
    return sorted(p.parent.name for p in (course / "submitted").glob(f"*/{assignment}") if p.is_dir())


DONE = "\x1emtbert-parallel-done "  # ends a student's output on a worker's stream, with the exit status


def run(cmd, course, env):
    proc = subprocess.run(cmd, cwd=course, env=env, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def serve(assignment: str) -> int:
    """A worker: grade each student id read from stdin (one per line) with nbgrader's AutogradeApp in this process,
    then write DONE and the status that ``nbgrader autograde --student`` would have exited with."""
    from nbgrader.apps.autogradeapp import AutogradeApp
    for line in sys.stdin:
        student, code = line.rstrip("\n"), 0
        try:
            app = AutogradeApp()
            app.initialize([assignment, "--force", f"--CourseDirectory.student_id={glob.escape(student)}"])
            app.start()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except Exception:  # noqa: BLE001 - reported like nbgrader reports it, and the next student is graded
            traceback.print_exc()
            code = 1
        finally:
            for handler in logging.getLogger(AutogradeApp.__name__).handlers:  # one app after another, one logger
                handler.flush()
        sys.stderr.flush()
        sys.stdout.write(f"{DONE}{code}\n")
        sys.stdout.flush()
    return 0


class Worker:
    """The parent's end of one ``--worker`` process (stdout and stderr on one pipe)."""

    def __init__(self, assignment: str, course: Path, env: dict):
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", assignment],
                                     cwd=course, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)

    def grade(self, student: str) -> tuple[int, str]:
        self.proc.stdin.write(student + "\n")
        self.proc.stdin.flush()
        out = []
        for line in self.proc.stdout:
            if DONE in line:
                before, _, code = line.partition(DONE)
                out.append(before)
                return int(code), "".join(out)
            out.append(line)
        return self.proc.wait() or 1, "".join(out) + "\nthe grading worker process ended unexpectedly\n"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("assignment")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--course", type=Path, default=Path.cwd())
    ap.add_argument("--retries", type=int, default=3)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return serve(args.assignment)
    nbgrader = str(Path(sys.executable).with_name("nbgrader"))
    base = [nbgrader, "autograde", args.assignment, "--force"]
    if args.jobs <= 1:
        return subprocess.call(base, cwd=args.course)
    todo = students(args.course, args.assignment)
    if not todo:
        print(f"no submissions in submitted/*/{args.assignment}", file=sys.stderr)
        return 1
    env = dict(os.environ)
    threads = str(max(1, (os.cpu_count() or 1) // args.jobs))
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TORCH_NUM_THREADS"):
        env.setdefault(k, threads)
    code, out = run([nbgrader, "db", "upgrade"], args.course, env)  # create/upgrade the gradebook once, up front
    if code:
        print(out, file=sys.stderr)
        return code
    work: queue.Queue = queue.Queue()
    for s in todo:
        work.put(s)
    failed, lock = {}, threading.Lock()
    start = time.perf_counter()

    def worker():
        process = None
        try:
            while True:
                try:
                    student = work.get_nowait()
                except queue.Empty:
                    return
                for attempt in range(args.retries + 1):
                    if process is None or process.proc.poll() is not None:
                        process = Worker(args.assignment, args.course, env)
                    code, out = process.grade(student)
                    if not (code and any(m in out for m in LOCKED)):
                        break
                    time.sleep(1 + attempt)
                with lock:
                    sys.stdout.write(out)
                    sys.stdout.flush()
                    if code:
                        failed[student] = "database locked" if any(m in out for m in LOCKED) else "see the log above"
        finally:
            if process is not None:
                process.close()

    pool = [threading.Thread(target=worker) for _ in range(min(args.jobs, len(todo)))]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    print(f"\nautograded {len(todo) - len(failed)}/{len(todo)} submission(s) of {args.assignment} with "
          f"{len(pool)} parallel sandboxes in {time.perf_counter() - start:.0f} s")
    for student, why in sorted(failed.items()):
        print(f"There was an error processing assignment '{args.assignment}' for student '{student}' ({why})",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
