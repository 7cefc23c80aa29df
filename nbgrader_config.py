"""nbgrader configuration for the mtbert course.

The course directory is the repository root: instructor notebooks live in solutions/<assignment>/,
`nbgrader generate_assignment` writes the student versions to notebooks/<assignment>/ (``make release``).
Submissions, autograded copies, feedback and gradebook.db are build artefacts (git-ignored).
"""
import os

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "mtbert"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")
# Only notebooks are part of an assignment; data ships inside the mtbert_ref package.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*"]

# What a student sees in place of the solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Execution while autograding. A training demo shrinks when NBGRADER_EXECUTION is set (see mtbert_ref.device.under_grading),
# so no cell of a correct CPU submission comes near this limit; an endless loop is cut off after it.
c.Execute.timeout = int(os.environ.get("MTBERT_CELL_TIMEOUT", "240"))
c.Execute.interrupt_on_timeout = True
c.Autograde.create_student = True
# A deleted test cell is put back (and run) instead of silently costing, or saving, its points.
c.OverwriteCells.add_missing_cells = True
# Starting a kernel and importing torch/transformers can take long on a loaded machine; never fail a submission
# because the kernel was slow to start.
c.Execute.startup_timeout = 300

# Autograding runs every submission's kernel in a bubblewrap sandbox (scripts/instructor/sandbox.py; threat model in
# docs/INSTRUCTOR_GUIDE.md): only nbgrader's Execute step of `autograde` is replaced, validate and the students'
# JupyterLab are unchanged. MTBERT_SANDBOX=off grades without it (and says so in the log). The same step audits the
# submission, checks the kernel's integrity reports and flags what it finds (verdict.py, docs/INSTRUCTOR_GUIDE.md).
import importlib.util  # noqa: E402
import sys  # noqa: E402


def _instructor_scripts():
    """scripts/instructor of this course, or of the checkout the environment's mtbert_ref comes from (a copy of this
    file in another folder, as the tests make)."""
    spec = importlib.util.find_spec("mtbert_ref")
    bases = [c.CourseDirectory.root] + [os.path.dirname(p) for p in (spec.submodule_search_locations or [])] \
        if spec else [c.CourseDirectory.root]
    for base in bases:
        if os.path.isfile(os.path.join(base, "scripts", "instructor", "sandbox.py")):
            return os.path.join(base, "scripts", "instructor")
    return None


if _instructor_scripts():
    sys.path.insert(0, _instructor_scripts())
    from nbgrader.converters.autograde import Autograde as _Autograde
    from nbgrader.preprocessors import Execute as _Execute
    from repair import RepairSubmission
    from sandbox import SandboxedExecute

    c.Autograde.autograde_preprocessors = [SandboxedExecute if pp is _Execute else pp
                                           for pp in _Autograde.autograde_preprocessors.default()]
    # Copy/paste, stripped metadata and untouched test cells are sorted out before nbgrader reads the ids (repair.py).
    c.Autograde.sanitize_preprocessors = [RepairSubmission] + list(_Autograde.sanitize_preprocessors.default())
    # Feedback shows no hidden-test code (feedback.py).
    from feedback import HideHiddenTests
    from nbgrader.converters.generate_feedback import GenerateFeedback as _GenerateFeedback

    c.GenerateFeedback.preprocessors = list(_GenerateFeedback.preprocessors.default()) + [HideHiddenTests]
    # Canvas / Moodle / plain-folder downloads for `nbgrader zip_collect` (make collect; scripts/instructor/lms.py).
    c.ZipCollectApp.collector_plugin = "lms.LMSCollector"
