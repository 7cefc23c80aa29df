"""`make lab` serves JupyterLab with the course kernel and nbgrader's student extensions.

A smoke test over the REST API, a real-browser test (Debian's chromium via Playwright: open notebook 00, run its
set-up cell, press nbgrader's Validate button, read the checker's message), and the student/instructor switch.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from tornado import ioloop
from tornado.websocket import websocket_connect

from conftest import BIN, NOTEBOOKS, ROOT, notebook_path, subprocess_env

sys.path.insert(0, str(Path(__file__).resolve().parent / "site"))
from mtbert_browser import ConsoleLog, chromium, free_port, screenshot  # noqa: E402

INSTRUCTOR_PLUGINS = ("@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:formgrader")


def _api(url, token, method="GET", body=None):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read() or b"null")


def _status(url, token) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"token {token}"}),
                                    timeout=20) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def _page_config(base, token) -> dict:
    page = urllib.request.urlopen(urllib.request.Request(f"{base}/lab?token={token}"), timeout=20).read().decode()
    assert "JupyterLab" in page or "jupyterlab" in page
    m = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S)
    assert m, page[:2000]
    return json.loads(m.group(1))


@contextlib.contextmanager
def make_lab(tmp_path: Path, *make_vars: str, notebook_dir: Path | None = None):
    """`make lab` on a free port with token auth; yields (base_url, token, log_path). Stopped afterwards."""
    port, token = free_port(), secrets.token_hex(16)
    args = f"--no-browser --port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token}"
    if notebook_dir is not None:
        make_vars = (*make_vars, f"LAB_DIR={notebook_dir}")
    log_path = tmp_path / f"lab-{port}.log"
    log = open(log_path, "wb")  # a file, not a pipe: a server that logs much never blocks on a full pipe
    proc = subprocess.Popen(["make", "-C", str(ROOT), "lab", f"LAB_ARGS={args}", *make_vars], env=subprocess_env(),
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                status = _api(f"{base}/api/status", token)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("make lab exited early:\n" + log_path.read_text()[-3000:])
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within 120 s:\n" + log_path.read_text()[-3000:])
        assert "started" in status
        yield base, token, log_path
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


async def _execute(ws_url, token, code, timeout=60):
    conn = await websocket_connect(ws_url + f"?token={token}")
    msg_id = uuid.uuid4().hex
    conn.write_message(json.dumps({
        "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex, "msg_type": "execute_request",
                   "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False}}))
    out, deadline = [], time.time() + timeout
    while time.time() < deadline:
        raw = await conn.read_message()
        if raw is None:
            break
        msg = json.loads(raw)
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        if msg["msg_type"] == "error":
            out.append("ERROR " + msg["content"]["ename"] + ": " + msg["content"]["evalue"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    conn.close()
    return "".join(out)


@pytest.mark.slow
def test_make_lab_serves_jupyterlab_and_a_kernel_imports_mtbert_ref(tmp_path):
    with make_lab(tmp_path) as (base, token, _):
        config = _page_config(base, token)
        disabled = config.get("disabledExtensions", [])
        assert all(p in disabled for p in INSTRUCTOR_PLUGINS), f"students get instructor panels: {disabled}"
        assert _status(f"{base}/formgrader", token) == 404, "students get the formgrader"
        specs = _api(f"{base}/api/kernelspecs", token)
        assert "python3" in specs["kernelspecs"]
        kernel = _api(f"{base}/api/kernels", token, "POST", {"name": "python3"})
        ws = f"ws://127.0.0.1:{base.rsplit(':', 1)[1]}/api/kernels/{kernel['id']}/channels"
        text = ioloop.IOLoop.current().run_sync(
            lambda: _execute(ws, token, "import mtbert_ref, sys; print('mtbert_ref', mtbert_ref.__version__, sys.prefix)"),
            timeout=90)
        assert "mtbert_ref 0.1.0" in text, text
        assert str(ROOT / ".venv") in text or os.environ.get("VIRTUAL_ENV", "") in text or "ERROR" not in text


@pytest.mark.slow
def test_make_lab_instructor_switch_adds_the_formgrader_and_create_assignment(tmp_path):
    with make_lab(tmp_path, "INSTRUCTOR=1") as (base, token, _):
        disabled = _page_config(base, token).get("disabledExtensions", [])
        assert not [p for p in INSTRUCTOR_PLUGINS if p in disabled], disabled
        assert _status(f"{base}/formgrader", token) != 404, "INSTRUCTOR=1 should serve the formgrader"


@pytest.mark.slow
def test_validate_button_in_a_real_browser_shows_the_checkers_message(tmp_path):
    """A student opens notebook 00, runs the set-up cell, fills nothing and presses Validate."""
    course = tmp_path / "course"  # a copy: validating saves the notebook, and notebooks/ must stay as released
    lesson = notebook_path(NOTEBOOKS, "00_bert_anatomy")
    dest = course / "notebooks" / lesson.parent.name / lesson.name
    dest.parent.mkdir(parents=True)
    shutil.copy(lesson, dest)
    with make_lab(tmp_path, notebook_dir=course) as (base, token, log_path), chromium() as browser:
        context = browser.new_context(viewport={"width": 1500, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        console = ConsoleLog(page)
        page.goto(f"{base}/lab/tree/{dest.relative_to(course).as_posix()}?token={token}")
        page.locator(".jp-NotebookPanel .jp-Notebook").wait_for()
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=180_000)

        # the Nbgrader menu: the student's Assignment List, none of the instructor's panels
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
        items = page.locator(".lm-Menu-itemLabel").all_inner_texts()
        screenshot(page, "lab-student-nbgrader-menu.png")
        page.keyboard.press("Escape")
        assert "Assignment List" in items, items
        assert not [i for i in items if "Formgrader" in i or "Create Assignment" in i], items

        # run the set-up cell (the first code cell) and wait for its output
        setup = page.locator(".jp-Notebook .jp-CodeCell").first
        setup.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        output = setup.locator(".jp-OutputArea-output")
        output.first.wait_for(timeout=240_000)
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=240_000)
        setup_text = output.all_inner_texts()
        setup.scroll_into_view_if_needed()
        screenshot(page, "lab-00-setup-cell.png")
        text = "\n".join(setup_text)
        assert "model :" in text and "device:" in text and "Traceback" not in text, text
        print("set-up cell printed:", text.strip().replace("\n", " | ")[:300])

        # press Validate: nbgrader saves the notebook, runs it top to bottom and shows the results in a dialog
        page.locator(".validate-button").first.click()
        dialog = page.locator(".jp-Dialog")
        dialog.locator(".jp-Dialog-header", has_text="Validation Results").wait_for(timeout=420_000)
        body = dialog.locator(".jp-Dialog-body").inner_text()
        dialog.get_by_text("is not implemented yet").first.scroll_into_view_if_needed()  # the checker's sentence
        screenshot(page, "lab-00-validate-dialog.png")
        sentences = re.findall(r"GradingError: ([^\n]*?\.)(?=\s|$)", body)
        assert sentences, f"no checker message in the dialog:\n{body[:3000]}\n--- server log:\n" \
                          f"{log_path.read_text()[-3000:]}"
        print("Validate dialog, first checker message:", sentences[0])
        assert "is not implemented yet" in sentences[0] and "NotImplementedError" in sentences[0], sentences
        assert "The following cell failed" in body
        errors = [p for p in console.take() if "favicon" not in p]
        print("browser console problems (not failing the test):", errors[:5])
        context.close()


def test_nbgrader_lab_extension_is_enabled():
    out = subprocess.run([str(BIN / "jupyter"), "labextension", "list"], capture_output=True, text=True,
                         env=subprocess_env(), timeout=120)
    text = out.stdout + out.stderr
    lines = [l for l in text.splitlines() if "nbgrader" in l]
    assert lines, text
    assert all("enabled" in l and "OK" in l for l in lines), lines
