"""The classroom end to end on a real JupyterHub (`make hub`), driven through the hub's REST API and the users' servers.

`make hub` on free ports with three fresh Unix users (removed afterwards): the instructor releases 00_bert_anatomy
from the formgrader; each student fetches it from the Assignment List, fills it in through the contents API (one with
every solution, one with a wrong ``head_parameters``) and submits, the second one after the due date; the instructor
collects, autogrades (in the course's sandbox), generates and releases feedback; each student fetches their feedback
and finds their score and the checker's message in it. Students try to read each other's files and must fail.

Needs root (it creates Unix users): skipped unless MTBERT_HUB_E2E=1, which `make test-hub` sets.
"""
from __future__ import annotations

import datetime
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import requests
from nbgrader.api import Gradebook

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "site"))
from mtbert_browser import free_port  # noqa: E402

ASSIGNMENT = "00_bert_anatomy"
WRONG_CELL = "head_parameters"  # bob's wrong answer: counts the encoder too
WRONG_SOURCE = "def head_parameters(model):\n    return sum(p.numel() for p in model.parameters())\n"
WRONG_TEST = "test_head_parameters"
SANDBOX = "off" if os.environ.get("MTBERT_SANDBOX", "on").lower() in ("off", "0", "no", "false") else "on"
INSTRUCTOR_PLUGINS = {"@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:formgrader"}
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("MTBERT_HUB_E2E") != "1",
                       reason="creates Unix users: MTBERT_HUB_E2E=1 (make test-hub)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="make hub needs root (Unix users, servers spawned as them)"),
]


class Hub:
    def __init__(self, url: str, state: Path):
        self.url, self.state = url, state
        self.admin = requests.Session()
        self.admin.headers["Authorization"] = "token " + (state / "api-token").read_text().strip()
        self.config = json.loads((state / "hub.json").read_text())
        self.servers: dict[str, requests.Session] = {}

    def api(self, method: str, path: str, **kw):
        r = self.admin.request(method, f"{self.url}/hub/api{path}", timeout=60, **kw)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text[:500]}"
        return r.json() if r.text else None

    def start(self, user: str, timeout: float = 300) -> requests.Session:
        """Start the user's server through the hub; a session holding a token the hub made for that user."""
        self.admin.post(f"{self.url}/hub/api/users/{user}/server", timeout=timeout)
        deadline = time.time() + timeout
        while not (self.api("GET", f"/users/{user}")["servers"].get("", {}).get("ready")):
            assert time.time() < deadline, f"{user}'s server did not start in {timeout} s"
            time.sleep(1)
        token = self.api("POST", f"/users/{user}/tokens", json={"note": "e2e test", "expires_in": 3600})["token"]
        session = requests.Session()
        session.headers["Authorization"] = f"token {token}"
        self.servers[user] = session
        return session

    def call(self, user: str, method: str, path: str, as_user: str | None = None, timeout: float = 120, **kw):
        """A request to ``user``'s server (with ``as_user``'s token, by default the owner's)."""
        return self.servers[as_user or user].request(method, f"{self.url}/user/{user}{path}", timeout=timeout,
                                                    allow_redirects=False, **kw)

    def ok(self, user: str, method: str, path: str, **kw):
        r = self.call(user, method, path, **kw)
        assert r.status_code < 300, f"{user} {method} {path}: {r.status_code} {r.text[:1000]}"
        body = r.json() if r.text else None
        assert not (isinstance(body, dict) and body.get("success") is False), f"{user} {path}: {body}"
        return body

    def ok_text(self, user: str, path: str) -> str:
        r = self.call(user, "GET", path)
        assert r.status_code == 200, f"{user} GET {path}: {r.status_code}"
        return r.text

    def server_pid(self, user: str) -> int:
        return self.api("GET", f"/users/{user}")["servers"][""]["state"]["pid"]


@pytest.fixture
def hub(tmp_path):
    tag = secrets.token_hex(3)
    instructor, students = f"e2e{tag}-teacher", [f"e2e{tag}-alice", f"e2e{tag}-bob"]
    exchange_base = Path("/srv/mtbert-e2e") / tag
    state, port = tmp_path / "state", free_port()
    args = f"--JupyterHub.hub_port={free_port()} --ConfigurableHTTPProxy.api_url=http://127.0.0.1:{free_port()}"
    log_path = tmp_path / "hub.log"
    proc = subprocess.Popen(
        ["make", "-C", str(ROOT), "hub", f"HUB_DIR={state}", f"HUB_URL=http://127.0.0.1:{port}",
         f"HUB_INSTRUCTOR={instructor}", f"HUB_STUDENTS={' '.join(students)}", f"HUB_EXCHANGE={exchange_base}/exchange",
         "HUB_TRAVERSE=1", f"HUB_ARGS={args}"],
        stdout=open(log_path, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if requests.get(f"{url}/hub/api/", timeout=5).ok:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, "make hub exited:\n" + log_path.read_text()[-4000:]
            time.sleep(1)
        else:
            pytest.fail("the hub did not answer in 10 min:\n" + log_path.read_text()[-4000:])
        yield Hub(url, state)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the hub stops the users' servers (cleanup_servers)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        print("hub log tail:\n" + log_path.read_text()[-3000:])
        for user in [instructor, *students]:  # users made for this test: all their processes are the test's
            for _ in range(20):
                subprocess.run(["pkill", "-KILL", "-u", user], check=False)
                if subprocess.run(["userdel", "--remove", user], capture_output=True).returncode in (0, 6, 12):
                    break  # 6: no such user; 12: home removed with a warning
                time.sleep(0.5)
        shutil.rmtree(exchange_base, ignore_errors=True)


def _solution_sources() -> dict[str, str]:
    nb = nbformat.read(ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("solution")}


def _points() -> dict[str, float]:
    nb = nbformat.read(ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"]["points"]) for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade")}


def _fill(hub: Hub, student: str, right: bool) -> None:
    """Write the answers into the fetched notebook through the student's contents API."""
    path = f"/api/contents/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
    model = hub.ok(student, "GET", path)
    answers = _solution_sources()
    if not right:
        answers[WRONG_CELL] = WRONG_SOURCE
    filled = 0
    for cell in model["content"]["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if cell["metadata"].get("nbgrader", {}).get("solution") and grade_id in answers:
            cell["source"], filled = answers[grade_id], filled + 1
    assert filled == len(answers), f"{student}: filled {filled} of {len(answers)} answer cells"
    hub.ok(student, "PUT", path, json={"type": "notebook", "format": "json", "content": model["content"]})


def _feedback_html(hub: Hub, student: str) -> str:
    listing = hub.ok(student, "GET", f"/api/contents/{ASSIGNMENT}/feedback")["content"]
    assert len(listing) == 1, listing
    html = hub.ok(student, "GET", f"/api/contents/{listing[0]['path']}/{ASSIGNMENT}.html",
                  params={"type": "file", "format": "text"})
    return html["content"]


def _disabled(hub: Hub, user: str) -> set[str]:
    """The JupyterLab plugins switched off in the user's page config."""
    page = hub.ok_text(user, "/lab")
    m = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S)
    assert m, page[:2000]
    return set(json.loads(m.group(1)).get("disabledExtensions") or ())


def _as(user: str, *cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", user, "--", *cmd], capture_output=True, text=True, cwd="/")


def test_classroom_round_trip_through_the_hub(hub):
    t0 = time.time()
    instructor, (alice, bob) = hub.config["instructor"], hub.config["students"]
    course = {"course_id": hub.config["course_id"], "assignment_id": ASSIGNMENT}
    for user in (instructor, alice, bob):
        hub.start(user)
        assert os.stat(f"/proc/{hub.server_pid(user)}").st_uid == pwd.getpwnam(user).pw_uid, f"{user}'s server uid"
        specs = hub.ok(user, "GET", "/api/kernelspecs")
        assert specs["kernelspecs"][specs["default"]]["spec"]["display_name"] == "Python 3 (mtbert)", specs
    # panels: the formgrader for the instructor only
    assert hub.call(instructor, "GET", "/formgrader/api/status").status_code == 200
    assert not INSTRUCTOR_PLUGINS & _disabled(hub, instructor)
    for student in (alice, bob):
        assert hub.call(student, "GET", "/formgrader/api/status").status_code == 404
        assert INSTRUCTOR_PLUGINS <= _disabled(hub, student), _disabled(hub, student)

    # release; fetch; fill; submit (bob after the due date)
    hub.ok(instructor, "POST", f"/formgrader/api/assignment/{ASSIGNMENT}/release", timeout=300)
    for student, right in ((alice, True), (bob, False)):
        hub.ok(student, "POST", "/assignments/fetch", json=course, timeout=300)
        _fill(hub, student, right)
    hub.ok(alice, "POST", "/assignments/submit", json=course, timeout=300)
    time.sleep(1.5)
    due = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    hub.ok(instructor, "PUT", f"/formgrader/api/assignment/{ASSIGNMENT}",
           json={"duedate_notimezone": due, "duedate_timezone": "UTC"})
    time.sleep(1.5)
    hub.ok(bob, "POST", "/assignments/submit", json=course, timeout=300)

    # nothing a student does reaches the other's files
    exchange = Path(hub.config["exchange"]) / hub.config["course_id"]
    bob_nb = Path(pwd.getpwnam(bob).pw_dir) / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert bob_nb.is_file()
    for cmd in (["cat", str(bob_nb)], ["ls", pwd.getpwnam(bob).pw_dir], ["ls", str(exchange / "inbound")],
                ["touch", str(bob_nb)], ["ls", hub.config["course_dir"]]):
        r = _as(alice, *cmd)
        assert r.returncode != 0 and "Permission denied" in r.stderr, f"{alice} ran {cmd}: {r}"
    assert hub.call(bob, "GET", f"/api/contents/{ASSIGNMENT}", as_user=alice).status_code in (302, 403), \
        "alice's token opened bob's server"
    assert hub.call(alice, "GET", f"/api/contents/%2E%2E/{Path(pwd.getpwnam(bob).pw_dir).name}").status_code >= 400
    assert hub.call(instructor, "GET", "/formgrader/api/status", as_user=alice).status_code in (302, 403)

    # collect, autograde (the course's sandbox), feedback
    hub.ok(instructor, "POST", f"/formgrader/api/assignment/{ASSIGNMENT}/collect", timeout=300)
    for student in (alice, bob):
        log = hub.ok(instructor, "POST", f"/formgrader/api/submission/{ASSIGNMENT}/{student}/autograde",
                     timeout=1500)["log"]
        # the course's nbgrader_config.py grades in the bubblewrap sandbox; it says so when it is switched off
        assert ("WITHOUT a sandbox" in log) == (SANDBOX == "off"), log[-2000:]
    hub.ok(instructor, "POST", f"/formgrader/api/assignment/{ASSIGNMENT}/generate_feedback", timeout=600)
    hub.ok(instructor, "POST", f"/formgrader/api/assignment/{ASSIGNMENT}/release_feedback", timeout=300)

    points = _points()
    full = sum(points.values())
    expected = {alice: full, bob: full - points[WRONG_TEST]}
    messages = {alice: "head_parameters is right on", bob: "head_parameters on a tiny"}
    with Gradebook(f"sqlite:///{hub.config['course_dir']}/gradebook.db") as gb:
        late = {s: gb.find_submission(ASSIGNMENT, s).total_seconds_late for s in (alice, bob)}
    scores = {}
    for student in (alice, bob):
        graded = hub.ok(instructor, "GET", f"/formgrader/api/submission/{ASSIGNMENT}/{student}")
        hub.ok(student, "POST", "/assignments/fetch_feedback", json=course, timeout=300)
        html = _feedback_html(hub, student)
        m = re.search(r"Score: ([\d.]+) / ([\d.]+)", html)
        assert m, f"{student}'s feedback has no score:\n{html[:2000]}"
        scores[student] = float(m.group(1))
        assert (graded["score"], graded["max_score"]) == (expected[student], full), graded
        assert (scores[student], float(m.group(2))) == (expected[student], full), m.group(0)
        assert messages[student] in html, f"{student}'s feedback lacks {messages[student]!r}"
    assert late[alice] == 0 and late[bob] > 0, late
    print(f"hub e2e: {time.time() - t0:.0f} s (sandbox {SANDBOX}); scores {alice} {scores[alice]}/{full}, "
          f"{bob} {scores[bob]}/{full} (late by {late[bob]:.1f} s)")
