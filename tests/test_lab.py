"""`make lab` serves JupyterLab with the course kernel and nbgrader's extension (smoke test, no browser)."""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
import uuid

import pytest
from tornado import ioloop
from tornado.websocket import websocket_connect

from conftest import BIN, ROOT, subprocess_env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(url, token, method="GET", body=None):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read() or b"null")


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
def test_make_lab_serves_jupyterlab_and_a_kernel_imports_mtbert_ref():
    port, token = _free_port(), secrets.token_hex(16)
    args = f"--no-browser --port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token}"
    proc = subprocess.Popen(["make", "-C", str(ROOT), "lab", f"LAB_ARGS={args}"], env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                status = _api(f"{base}/api/status", token)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("make lab exited early:\n" + proc.stdout.read().decode()[-3000:])
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within 60 s")
        assert "started" in status
        page = urllib.request.urlopen(urllib.request.Request(f"{base}/lab?token={token}"), timeout=10).read().decode()
        assert "JupyterLab" in page or "jupyterlab" in page
        specs = _api(f"{base}/api/kernelspecs", token)
        assert "python3" in specs["kernelspecs"]
        kernel = _api(f"{base}/api/kernels", token, "POST", {"name": "python3"})
        ws = f"ws://127.0.0.1:{port}/api/kernels/{kernel['id']}/channels"
        text = ioloop.IOLoop.current().run_sync(
            lambda: _execute(ws, token, "import mtbert_ref, sys; print('mtbert_ref', mtbert_ref.__version__, sys.prefix)"),
            timeout=90)
        assert "mtbert_ref 0.1.0" in text, text
        assert str(ROOT / ".venv") in text or os.environ.get("VIRTUAL_ENV", "") in text or "ERROR" not in text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_nbgrader_lab_extension_is_enabled():
    out = subprocess.run([str(BIN / "jupyter"), "labextension", "list"], capture_output=True, text=True,
                         env=subprocess_env(), timeout=120)
    text = out.stdout + out.stderr
    lines = [l for l in text.splitlines() if "nbgrader" in l]
    assert lines, text
    assert all("enabled" in l and "OK" in l for l in lines), lines
