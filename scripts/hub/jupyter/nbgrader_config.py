"""nbgrader settings every user's server on the classroom hub reads (the spawner puts this folder on
JUPYTER_CONFIG_PATH, see scripts/hub/jupyterhub_config.py): the shared exchange and the course id; for the
instructor, the course's own nbgrader_config.py on top."""
import os

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

c.Exchange.root = os.environ.get("MTBERT_EXCHANGE", "/srv/nbgrader/exchange")
c.CourseDirectory.course_id = os.environ.get("MTBERT_COURSE_ID", "mtbert")

# The instructor's server gets MTBERT_COURSE_DIR: nbgrader (formgrader included) reads the course's own configuration
# from there, wherever the server or a terminal's command runs (JupyterHub starts servers in the home folder).
if os.environ.get("MTBERT_COURSE_DIR"):
    load_subconfig(os.path.join(os.environ["MTBERT_COURSE_DIR"], "nbgrader_config.py"))  # noqa: F821
