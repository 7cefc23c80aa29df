"""JupyterHub configuration of the one-machine classroom (`make hub`; docs/DEPLOY.md).

Reads ``hub.json`` from the state folder (MTBERT_HUB_STATE, else the working directory), written by
scripts/hub/setup.py. The hub runs as root; each user logs in with their Unix password (PAM) and their JupyterLab runs
as their own Unix user (LocalProcessSpawner), from the course venv, with the course kernel:

- everyone: this folder's jupyter/ on JUPYTER_CONFIG_PATH (nbgrader's exchange and course id);
- students: also lab/student/ (as in `make lab`): no formgrader, no Create Assignment; they keep the Assignment List
  (fetch, submit, fetch feedback) and Validate;
- the instructor: the server opens in the course directory (the formgrader needs it) and gets the grading secret.

Course automation (the end-to-end test, scripts) uses the service ``course-admin`` with the token in
``<state>/api-token``: it may start and stop servers and make tokens for the course's users, nothing else.
"""
import json
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821  (provided by traitlets when jupyterhub loads this file)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VENV_BIN = Path(sys.executable).parent
STATE = Path(os.environ.get("MTBERT_HUB_STATE", os.getcwd()))
try:
    HUB = json.loads((STATE / "hub.json").read_text())
except FileNotFoundError:
    raise SystemExit(f"{STATE / 'hub.json'} is missing: run scripts/hub/setup.py first (make hub does)")
SECRET_FILE = ".mtbert-grading-secret"  # written by scripts/hub/setup.py

c.JupyterHub.bind_url = os.environ.get("MTBERT_HUB_URL", "http://127.0.0.1:8000")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops the users' servers

# Log in with the Unix password: the same accounts that separate the users' files.
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = {HUB["instructor"], *HUB["students"]}

c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
c.Spawner.cmd = [str(VENV_BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 180  # importing JupyterLab on a loaded machine
c.Spawner.http_timeout = 180
c.Spawner.env_keep = ["JUPYTERHUB_SINGLEUSER_APP", "LANG", "LC_ALL", "TZ", "MTBERT_SANDBOX", "OMP_NUM_THREADS",
                      "MKL_NUM_THREADS", "TORCH_NUM_THREADS", "MTBERT_CELL_TIMEOUT"]
c.Spawner.environment = {
    # nbgrader runs alembic and the kernels from the venv
    "PATH": os.pathsep.join([str(VENV_BIN), "/usr/local/bin", "/usr/bin", "/bin"]),
    "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "MPLBACKEND": "Agg",
    "MTBERT_EXCHANGE": HUB["exchange"], "MTBERT_COURSE_ID": HUB["course_id"],
}


def per_user(spawner):
    """The student or instructor configuration for this user's server."""
    name = spawner.user.name
    env = dict(spawner.environment)  # a copy: the configured dict is shared by every user's spawner
    config_path = [str(HERE / "jupyter")]
    if name == HUB["instructor"]:
        spawner.notebook_dir = HUB["course_dir"]  # the formgrader wants the course inside the server's folder
        env["MTBERT_COURSE_DIR"] = HUB["course_dir"]  # nbgrader reads the course's config (see jupyter/)
        secret = Path(os.path.expanduser(f"~{name}")) / SECRET_FILE
        if secret.is_file():
            env["MTBERT_GRADING_SECRET"] = secret.read_text().strip()
    else:
        config_path.insert(0, str(ROOT / "lab" / "student"))
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(config_path)
    spawner.environment = env


c.Spawner.pre_spawn_hook = per_user

c.JupyterHub.services = [{"name": "course-admin", "api_token": (STATE / "api-token").read_text().strip()}]
c.JupyterHub.load_roles = [{
    "name": "course-admin",
    "scopes": ["admin:servers", "tokens", "read:users", "list:users"],
    "services": ["course-admin"],
}]
