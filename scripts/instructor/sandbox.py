"""Run every autograded submission's kernel in a bubblewrap sandbox (https://github.com/containers/bubblewrap).

Wiring (nbgrader_config.py): ``c.Autograde.autograde_preprocessors`` uses ``SandboxedExecute`` instead of nbgrader's
``Execute``, so only ``nbgrader autograde`` (also from the formgrader) is affected. Its kernel manager talks to the
kernel over Unix sockets in a private folder (``transport = "ipc"``: TCP cannot cross a network namespace) and starts
the notebook's usual kernel command through ``python sandbox.py launch -- <kernel argv>``, which execs ``bwrap`` with:

- only the Python installation, the virtual environment and the ``mtbert_ref`` package, read-only (plus /usr and a
  few /etc files); the course folder, gradebook.db, solutions/ and other submissions are simply not there;
- the notebook's own folder as a private, size-limited tmpfs holding read-only copies of its files; /tmp likewise;
- new PID, network (no interfaces but loopback), IPC, UTS and cgroup namespaces; ``--die-with-parent``; the sandbox's
  PID 1 is bwrap, so when the kernel ends every process the student started is killed with it;
- as root: a throw-away uid without capabilities (``setpriv``); otherwise a user namespace; then ``prlimit`` limits
  on address space, processes, CPU seconds, file size and open files.

    python scripts/instructor/sandbox.py check     # exit 1, loudly, when the sandbox cannot run here

Settings (environment): MTBERT_SANDBOX=off grades without a sandbox (trusted code only); MTBERT_SANDBOX_MEM_MB
(8192; none with a GPU), MTBERT_SANDBOX_NPROC (256), MTBERT_SANDBOX_CPU_S (3600), MTBERT_SANDBOX_TMP_MB (1024),
MTBERT_SANDBOX_RO (more read-only paths, ':'-separated).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve()
INSTALL_HINT = ("install it with `make setup-sandbox` (as root: apt-get install bubblewrap; Fedora: dnf install "
                "bubblewrap), or set MTBERT_SANDBOX=off to grade WITHOUT a sandbox: student code then runs with your "
                "rights next to gradebook.db and solutions/ — only for code you trust")
# Environment variables the kernel may see (everything else, e.g. tokens in the instructor's shell, is dropped).
# (Not JPY_PARENT_PID: the kernel would take PID 1, the sandbox's init, for a dead parent; --die-with-parent does it.)
ENV_KEEP = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "NBGRADER_EXECUTION", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
            "HF_HUB_DISABLE_TELEMETRY", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "TORCH_NUM_THREADS",
            "OPENBLAS_NUM_THREADS", "MPLBACKEND", "PYTHONHASHSEED", "CUDA_VISIBLE_DEVICES",
            "JPY_SESSION_NAME", "PYDEVD_DISABLE_FILE_VALIDATION")
ENV_KEEP_PREFIX = ("MTBERT_",)
ENV_DROP = ("MTBERT_INTEGRITY_KEY", "MTBERT_GRADING_SECRET_FILE")
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf", "localtime", "fonts",
             "alternatives")


def enabled() -> bool:
    return os.environ.get("MTBERT_SANDBOX", "on").lower() not in ("off", "0", "no", "false")


def _limit(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def hub_cache() -> str:
    """The Hugging Face hub cache, as huggingface_hub finds it (without importing it)."""
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface")
    return os.environ.get("HF_HUB_CACHE") or os.path.join(home, "hub")


def read_only_paths() -> list[str]:
    """What the kernel needs to run: Python, the environment, the course package (wherever the venv finds it)."""
    paths = [sys.base_prefix, sys.prefix, os.path.realpath(sys.prefix)]
    try:
        import importlib.util
        spec = importlib.util.find_spec("mtbert_ref")
        paths += list(spec.submodule_search_locations or []) if spec else []
    except ImportError:
        pass
    paths.append(hub_cache())  # a hub model named by MTBERT_MODEL, if cached
    paths += [p for p in os.environ.get("MTBERT_SANDBOX_RO", "").split(os.pathsep) if p]
    return sorted({os.path.realpath(p) for p in paths if os.path.exists(p)})


def _mounts_for(paths, covered=("/usr",)) -> list[str]:
    """--ro-bind for each path not inside another; missing parents made first as 0755 dirs (bwrap makes them 0700)."""
    args, bound, made = [], set(covered), set()
    for p in sorted(paths, key=lambda s: (s.count("/"), s)):
        if any(p == b or p.startswith(b.rstrip("/") + "/") for b in bound):
            continue
        for parent in reversed(Path(p).parents[:-1]):
            if str(parent) not in made:
                args += ["--perms", "0755", "--dir", str(parent)]
                made.add(str(parent))
        args += ["--ro-bind", p, p]
        bound.add(p)
    return args


def _parents(path: str, skip=("/", "/tmp")) -> list[str]:
    return [a for parent in reversed(Path(path).parents) if str(parent) not in skip
            for a in ("--perms", "0755", "--dir", str(parent))]


def bwrap_command(kernel_argv: list[str], cwd: str, connection_file: str, socket_dir: str, uid: int | None,
                  conn_fd: int) -> list[str]:
    gpus = [str(p) for p in Path("/dev").glob("nvidia*")]
    # CUDA reserves far more address space than it uses: no address-space limit by default where there is a GPU.
    mem, tmp = _limit("MTBERT_SANDBOX_MEM_MB", 0 if gpus else 8192), _limit("MTBERT_SANDBOX_TMP_MB", 1024)
    cmd = [shutil.which("bwrap") or "bwrap", "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net",
           "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox", "--clearenv"]
    if uid is None:  # not root: an unprivileged user namespace, and no nested ones
        cmd += ["--unshare-user", "--disable-userns"]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        p = "/" + name
        if os.path.islink(p):
            cmd += ["--symlink", os.readlink(p), p]
        elif os.path.isdir(p):
            cmd += ["--ro-bind", p, p]
    cmd += ["--perms", "0755", "--dir", "/etc"]
    for name in ETC_FILES:
        if os.path.exists("/etc/" + name):
            cmd += ["--ro-bind", "/etc/" + name, "/etc/" + name]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(tmp << 20), "--tmpfs", "/dev/shm",
            "--perms", "1777", "--size", str(tmp << 20), "--tmpfs", "/tmp"]
    for dev in gpus:
        cmd += ["--dev-bind", dev, dev]
    if gpus and os.path.isdir("/sys"):
        cmd += ["--ro-bind", "/sys", "/sys"]
    cmd += _mounts_for(read_only_paths())
    # The notebook's folder: a private tmpfs with read-only copies of what nbgrader put there (the notebook itself).
    cmd += _parents(cwd) + ["--perms", "1777", "--size", str(tmp << 20), "--tmpfs", cwd]
    for entry in sorted(os.listdir(cwd)):
        cmd += ["--ro-bind", os.path.join(cwd, entry), os.path.join(cwd, entry)]
    cmd += _parents(socket_dir) + ["--bind", socket_dir, socket_dir,
                                   "--perms", "0444", "--ro-bind-data", str(conn_fd), connection_file]
    cmd += ["--remount-ro", "/", "--chdir", cwd]
    env = {k: v for k, v in os.environ.items() if (k in ENV_KEEP or k.startswith(ENV_KEEP_PREFIX))
           and k not in ENV_DROP}
    env.update(HOME="/tmp", USER="student", PATH=os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"]))
    if os.path.isdir(hub_cache()):
        env["HF_HUB_CACHE"] = os.path.realpath(hub_cache())
    for k, v in sorted(env.items()):
        cmd += ["--setenv", k, v]
    cmd.append("--")
    if uid is not None:  # root: a throw-away uid without any capability
        cmd += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all", "--"]
    cmd += ["prlimit"] + ([f"--as={mem << 20}"] if mem else []) + [f"--nproc={_limit('MTBERT_SANDBOX_NPROC', 256)}",
            f"--cpu={_limit('MTBERT_SANDBOX_CPU_S', 3600)}", f"--fsize={tmp << 20}", "--nofile=1024", "--core=0", "--"]
    return cmd + kernel_argv


def _key_pipe() -> list[str]:
    """Hand the integrity monitor's key to the kernel on a pipe (its environment is readable by student code)."""
    key = os.environ.pop("MTBERT_INTEGRITY_KEY", "")
    if not key:
        return []
    read, write = os.pipe()
    os.write(write, key.encode())
    os.close(write)
    os.set_inheritable(read, True)
    return ["--setenv", "MTBERT_INTEGRITY_FD", str(read)]


def launch(kernel_argv: list[str]) -> None:
    """The kernel command nbgrader runs (cwd = the submission's folder): exec the same kernel inside bwrap."""
    key_args = _key_pipe()
    conn = kernel_argv[kernel_argv.index("-f") + 1]
    socket_dir = os.path.join(os.path.dirname(conn), "sock")
    uid = None
    if os.geteuid() == 0:  # a uid of its own per sandbox: the process limit then counts only this sandbox
        uid = 200000 + os.getpid() % 100000
        os.chown(socket_dir, uid, uid)
    fd = os.open(conn, os.O_RDONLY)
    os.set_inheritable(fd, True)
    cmd = bwrap_command(kernel_argv, os.getcwd(), conn, socket_dir, uid, fd)
    at = cmd.index("--")
    os.execv(cmd[0], cmd[:at] + key_args + cmd[at:])


def problem() -> str | None:
    """Why the sandbox cannot run here, or None."""
    if not shutil.which("bwrap"):
        return "bubblewrap (bwrap) is not installed"
    with tempfile.TemporaryDirectory() as d:
        sock = os.path.join(d, "sock")
        os.mkdir(sock)
        conn = os.path.join(d, "kernel.json")
        Path(conn).write_text("{}")
        fd = os.open(conn, os.O_RDONLY)
        try:
            cmd = bwrap_command([sys.executable, "-c", "pass", "-f", conn], d, conn, sock,
                                200000 if os.geteuid() == 0 else None, fd)
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, pass_fds=(fd,))
        finally:
            os.close(fd)
    if proc.returncode:
        return f"bubblewrap is installed but cannot start a sandbox here: {proc.stderr.strip()[-500:]}"
    return None


# --- nbgrader side ----------------------------------------------------------------------------------------------
if __name__ == "__main__":  # `launch` (once per kernel) and `check` start fast without importing nbgrader
    AsyncKernelManager = Execute = object
else:
    from jupyter_client.manager import AsyncKernelManager
    from nbclient.exceptions import DeadKernelError
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import Execute

    import verdict

# The kernel's first line, before any cell: the integrity monitor (mtbert_ref/grading/integrity.py).
MONITOR = "--IPKernelApp.exec_lines=__import__('mtbert_ref.grading.integrity').grading.integrity.install()"


def grading_secret() -> str:
    """The course's grading secret (hidden cases, mtbert_ref.grading.core.hidden_seed): MTBERT_GRADING_SECRET, or the
    file MTBERT_GRADING_SECRET_FILE (default ~/.config/mtbert/grading_secret, created once, mode 600) — outside the
    course folder, so no sandbox and no student sees it."""
    if os.environ.get("MTBERT_GRADING_SECRET"):
        return os.environ["MTBERT_GRADING_SECRET"]
    path = Path(os.environ.get("MTBERT_GRADING_SECRET_FILE") or Path.home() / ".config" / "mtbert" / "grading_secret")
    if not path.exists():
        import secrets
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, secrets.token_hex(32).encode())
        os.close(fd)
    return path.read_text().strip()


class MonitoredKernelManager(AsyncKernelManager):
    """The notebook's usual kernel, with the integrity monitor installed before the first cell."""

    def format_kernel_cmd(self, extra_arguments=None):
        return [*super().format_kernel_cmd(extra_arguments), MONITOR]


class SandboxKernelManager(MonitoredKernelManager):
    """Starts the notebook's kernel through ``sandbox.py launch`` and talks to it over Unix sockets in a private
    folder (one per kernel)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sandbox_dir = tempfile.mkdtemp(prefix="mtbert-kernel-")
        os.mkdir(os.path.join(self.sandbox_dir, "sock"))
        self.transport = "ipc"
        self.ip = os.path.join(self.sandbox_dir, "sock", "k")
        self.connection_file = os.path.join(self.sandbox_dir, "kernel.json")
        if self.kernel_spec is not None:  # a signal to bwrap would not reach the kernel: ask the kernel itself
            self.kernel_spec.interrupt_mode = "message"

    def format_kernel_cmd(self, extra_arguments=None):
        return [sys.executable, str(HERE), "launch", "--", *super().format_kernel_cmd(extra_arguments)]

    async def cleanup_resources(self, restart=False):
        await super().cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self.sandbox_dir, ignore_errors=True)


class SandboxedExecute(Execute):
    """nbgrader's Execute preprocessor for ``autograde``: every kernel in a sandbox (MTBERT_SANDBOX=off: without,
    and says so), the submission audited before it runs, the integrity monitor's reports checked after, a kernel
    death that keeps the points already earned, and every finding flagged in the graded notebook (verdict.py)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxKernelManager if enabled() else MonitoredKernelManager)
        super().__init__(*args, **kwargs)
        self._running = None

    def on_cell_start(self, **kwargs):  # nbclient hook: which cell a dying kernel was running
        self._running = kwargs.get("cell_index")

    def _released(self, resources):
        info = resources.get("nbgrader", {})
        try:
            path = CourseDirectory(config=self.config).format_path(
                CourseDirectory(config=self.config).release_directory, ".", info["assignment"])
            import nbformat
            return nbformat.read(os.path.join(path, info["notebook"] + ".ipynb"), as_version=4)
        except (KeyError, OSError, ValueError) as exc:
            self.log.warning("released notebook not found (%s): every code cell is audited", exc)
            return None

    def preprocess(self, nb, resources, *args, **kwargs):
        if not enabled():
            self.log.warning("MTBERT_SANDBOX=off: this submission runs WITHOUT a sandbox, with your rights")
        elif not shutil.which("bwrap"):
            raise RuntimeError("the grading sandbox is not available: bubblewrap (bwrap) is not installed; "
                               + INSTALL_HINT)
        import secrets
        flags = verdict.audit(nb, self._released(resources))
        key = secrets.token_hex(32)
        os.environ["MTBERT_INTEGRITY_KEY"] = key  # to the launcher only: it hands it on through a pipe
        os.environ["MTBERT_GRADING_SECRET"] = grading_secret()
        last_cell = None
        try:
            nb, resources = super().preprocess(nb, resources, *args, **kwargs)
        except DeadKernelError as exc:
            self.log.warning("the kernel died in cell %s; keeping the points of the tests that ran", self._running)
            flags += verdict.finish_dead_kernel(nb, self._running, exc)
            last_cell = self._running
        finally:
            os.environ.pop("MTBERT_INTEGRITY_KEY", None)
        flags += verdict.read_heartbeats(nb, key.encode(), last_cell=last_cell)
        for f in flags:
            self.log.warning("FLAG %s: %s", resources.get("nbgrader", {}).get("student", "?"),
                             verdict.describe(f))
        verdict.write_flags(nb, flags)
        return nb, resources


def main(argv: list[str]) -> int:
    if argv[:1] == ["launch"]:
        launch(argv[argv.index("--") + 1:])
    if argv[:1] == ["check"]:
        if not enabled():
            print("\n*** WARNING: MTBERT_SANDBOX=off — submissions run WITHOUT a sandbox, with your rights. ***\n",
                  file=sys.stderr)
            return 0
        why = problem()
        if why:
            print(f"\n*** The grading sandbox cannot run: {why}.\n*** Refusing to run student code unsandboxed; "
                  f"{INSTALL_HINT}.\n", file=sys.stderr)
            return 1
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
