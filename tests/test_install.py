"""The grader trusts the code it actually loads, however the course is installed: two course
folders sharing one environment, an environment whose editable install is another copy of
the course, and a wheel installed without the course's folders. Each grades 01_processes
with the real ``nbgrader autograde``, run by the environment under test: the reference
earns full marks, the blank notebook 0, and nothing is flagged. And the wheel holds
everything nbgrader_config.py names."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from filelock import FileLock

import support

ROOT = support.ROOT
ASSIGNMENT = "01_processes"
OUR_PACKAGES = ("course", "grader", "grader_kernel")
SITE = f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"
# nbgrader and a kernel's start-up take a few seconds; grading two notebooks of 01 takes
# ~15 s alone and can take several times that on a shared 2-CPU machine: the bound only
# catches a hang.
COMMAND_SECONDS = 600

pytestmark = pytest.mark.skipif(os.name == "nt", reason="the environments are built the POSIX way (bin/, links)")


# --- building courses and environments ---------------------------------------------------------


def _copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))


def make_course(path: Path, with_code: bool) -> Path:
    """A course folder with 01's source; with ``with_code``, its own course/, grader/ and
    grader_kernel/ (a checkout), else none (the grader comes from an installed wheel)."""
    (path / "source").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", path)
    _copy_tree(ROOT / "source" / ASSIGNMENT, path / "source" / ASSIGNMENT)
    if with_code:
        for package in OUR_PACKAGES:
            _copy_tree(ROOT / package, path / package)
    return path


def tracked_tree(target: Path) -> Path:
    """The repository's files that git tracks or would track, copied: builds happen there,
    not in the shared working tree (setuptools writes build/ and egg-info beside pyproject)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


def make_environment(path: Path) -> Path:
    """A fresh virtual environment with this one's packages but not its editable install of
    the course: hard links to the same files (no download, no copy of 700 MB), then the
    editable install's finder and metadata removed from the new one only."""
    subprocess.run([str(Path(sys.base_prefix) / "bin" / "python3"), "-m", "venv", "--without-pip", str(path)],
                   check=True, timeout=COMMAND_SECONDS)
    site = path / SITE
    shutil.rmtree(site)
    shutil.copytree(Path(sys.prefix) / SITE, site, symlinks=True, copy_function=os.link,
                    ignore=shutil.ignore_patterns("__editable__*", "processes_and_threads_course-*"))
    python = path / "bin" / "python"
    # nbgrader runs `alembic` by name when it creates a gradebook: this environment's.
    alembic = path / "bin" / "alembic"
    alembic.write_text(f"#!{python}\nimport sys\nfrom alembic.config import main\nsys.exit(main())\n")
    alembic.chmod(0o755)
    return python


def pip(python: Path, *args: str, cwd: Path | None = None) -> None:
    result = subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", "--quiet", *args], cwd=cwd,
                            capture_output=True, text=True, timeout=COMMAND_SECONDS)
    assert result.returncode == 0, f"pip {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"


def where(python: Path, cwd: Path, module: str) -> Path:
    """The folder ``python`` started in ``cwd`` imports ``module`` from (as nbgrader would:
    nbgrader puts the folder it starts in first on sys.path)."""
    probe = (f"import importlib.util, os, sys; sys.path.insert(0, os.getcwd()); "
             f"print(importlib.util.find_spec({module!r}).origin)")  # found, not run: a stale copy fails to import
    result = subprocess.run([str(python), "-c", probe], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{python} cannot import {module} in {cwd}:\n{result.stderr}"
    return Path(result.stdout.strip()).resolve().parent


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The course's wheel, built once for all test workers (`pip wheel . --no-deps`)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's folder, the same for all of its workers
    with FileLock(str(shared / "course-wheel.lock")):
        built = sorted((shared / "course-wheel").glob("*.whl"))
        if not built:
            source = tracked_tree(tmp_path_factory.mktemp("wheel-source"))
            pip(Path(sys.executable), "wheel", ".", "--no-deps", "-w", str(shared / "course-wheel"), cwd=source)
            built = sorted((shared / "course-wheel").glob("*.whl"))
    assert len(built) == 1, f"pip wheel made {built}; expected one wheel"
    return built[0]


# --- grading ---------------------------------------------------------------------------------


def grade(python: Path, course: Path, tmp_path: Path, start_method: str | None = None) -> dict[str, dict]:
    """Generate 01 and autograde the reference and the blank notebook in ``course`` with
    ``python``'s nbgrader, as a separate process; student -> its scores and grader's report."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(PATH=os.pathsep.join([str(python.parent), env.get("PATH", "")]), VIRTUAL_ENV=str(python.parent.parent))
    # The kernel runs on this environment's Python, with the grader's IPython profile,
    # which sets the start method if asked.
    env["JUPYTER_PATH"] = str(support.write_kernelspec(tmp_path / "jupyter", str(python)))
    env["IPYTHONDIR"] = str(support.write_start_method_profile(tmp_path / "ipython", start_method) if start_method
                            else tmp_path / "ipython")

    def nbgrader(*args: str) -> str:
        result = subprocess.run([str(python), "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                                text=True, timeout=COMMAND_SECONDS)
        log = result.stdout + result.stderr
        (course / "nbgrader.log").open("a").write(f"$ nbgrader {' '.join(args)}\n{log}\n")
        assert result.returncode == 0, f"nbgrader {' '.join(args)} exited {result.returncode}:\n{log[-6000:]}"
        return log

    nbgrader("generate_assignment", ASSIGNMENT, "--force")
    notebooks = {"reference": course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                 "blank": course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"}
    for student, notebook in notebooks.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        shutil.copy(notebook, folder)
    log = nbgrader("autograde", ASSIGNMENT, "--force")
    results = {}
    for student in notebooks:
        scores = support.Course(course).scores(ASSIGNMENT, student)
        graded = support.read(course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
        tests = {cell.metadata.nbgrader["grade_id"] for cell in support.test_cells(graded)}
        results[student] = {"earned": sum(scores[t][0] for t in tests), "possible": sum(scores[t][1] for t in tests),
                            "report": graded.metadata.get("course_grading"), "log": log}
    return results


def assert_graded_correctly(results: dict[str, dict]) -> None:
    reference, blank = results["reference"], results["blank"]
    for student, result in results.items():
        assert result["report"] is not None, f"{student}: not graded by the hardened grader:\n{result['log'][-4000:]}"
        assert result["report"]["flags"] == {}, f"{student} was flagged: {result['report']}\n{result['log'][-4000:]}"
    assert reference["possible"] > 0
    assert reference["earned"] == reference["possible"], (
        f"the reference earned {reference['earned']}/{reference['possible']}: {reference['report']}\n"
        f"{reference['log'][-4000:]}")
    assert blank["earned"] == 0, f"the blank notebook earned {blank['earned']}"


# --- the tests ---------------------------------------------------------------------------------


def test_two_course_folders_share_one_environment(tmp_path):
    """A second copy of the course, graded with this environment, whose `course` and
    `grader` are the editable install of this checkout."""
    python = Path(sys.prefix) / "bin" / "python"
    assert where(python, tmp_path, "course") == ROOT / "course", "this environment's course is not this checkout's"
    course = make_course(tmp_path / "copy", with_code=True)
    assert_graded_correctly(grade(python, course, tmp_path))


def test_environment_installs_another_copy_editable(tmp_path):
    """An environment whose editable install is a stale copy of the course (one that fails
    as soon as anything imports it) grades a course folder with its own code correctly,
    under spawn too: the kernel and its child processes import the course folder's code."""
    stale = tmp_path / "stale"
    stale.mkdir()
    shutil.copy(ROOT / "pyproject.toml", stale)
    for package in OUR_PACKAGES:
        _copy_tree(ROOT / package, stale / package)
        with open(stale / package / "__init__.py", "a") as init:
            init.write(f"\nraise ImportError('the stale copy of {package} was imported')\n")
    python = make_environment(tmp_path / "env")
    pip(python, "install", "--no-deps", "-e", str(stale))
    assert where(python, tmp_path, "course") == stale / "course", "the editable install does not point at the copy"
    course = make_course(tmp_path / "checkout", with_code=True)
    assert_graded_correctly(grade(python, course, tmp_path, start_method="spawn"))


def test_wheel_installed_without_the_course_folders(wheel, tmp_path):
    """A non-editable install from the wheel, and a course folder with only its config and
    notebooks: the grader, its kernel and `course` all come from site-packages."""
    python = make_environment(tmp_path / "env")
    pip(python, "install", "--no-deps", str(wheel))
    course = make_course(tmp_path / "class", with_code=False)
    site = (tmp_path / "env" / SITE).resolve()
    for package in OUR_PACKAGES:
        assert where(python, course, package) == site / package, f"{package} does not come from the installed wheel"
    assert_graded_correctly(grade(python, course, tmp_path))


def test_a_grader_mixed_from_two_copies_is_refused_before_anything_is_written(tmp_path):
    """A course folder with its own grader/ but no grader_kernel/, graded with an environment
    that installs the other copy's: the command stops with one message and exit status 2,
    before it generates or grades anything (a host and a kernel of two versions would not
    understand each other's sealed cells)."""
    course = make_course(tmp_path / "course", with_code=False)
    _copy_tree(ROOT / "grader", course / "grader")
    python = Path(sys.executable)
    env = {**os.environ, "PATH": os.pathsep.join([str(python.parent), os.environ.get("PATH", "")])}
    result = subprocess.run([str(python), "-m", "nbgrader", "generate_assignment", ASSIGNMENT], cwd=course, env=env,
                            capture_output=True, text=True, timeout=COMMAND_SECONDS)
    assert result.returncode == 2, f"expected exit status 2, got {result.returncode}:\n{result.stderr[-3000:]}"
    assert "two copies of the course are mixed" in result.stderr, result.stderr[-3000:]
    assert not (course / "release").exists() and not (course / "gradebook.db").exists(), "expected nothing written"


def _named_modules(config: Path) -> set[str]:
    """The modules of our packages that nbgrader_config.py names, in strings
    ("grader.execute.HardenedExecute"), calls (grader.config.configure(c)) and imports, and
    those that the modules it names in turn name (the config may delegate to one)."""
    dotted = re.compile(rf"^({'|'.join(OUR_PACKAGES)})(\.\w+)+$")
    named: set[str] = set()
    to_read, read = [config], set()
    while to_read:
        path = to_read.pop()
        read.add(path)
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and dotted.match(node.value):
                found.add(node.value.rsplit(".", 1)[0])  # the last part is the class
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and dotted.match(
                    ast.unparse(node.func)):
                found.add(ast.unparse(node.func).rsplit(".", 1)[0])  # the last part is the function
            elif isinstance(node, ast.ImportFrom) and node.module and dotted.match(node.module):
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if dotted.match(alias.name))
        named |= found
        if path == config:  # follow what the config itself names, one level
            for module in found:
                source = ROOT / f"{module.replace('.', '/')}.py"
                if source.is_file() and source not in read:
                    to_read.append(source)
    return named


def test_wheel_holds_what_the_config_names(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = _named_modules(ROOT / "nbgrader_config.py")
    assert "grader.execute" in modules and "grader.sanitize" in modules, f"the config was not parsed: {modules}"
    missing = sorted(m for m in modules
                     if f"{m.replace('.', '/')}.py" not in names and f"{m.replace('.', '/')}/__init__.py" not in names)
    assert missing == [], f"the wheel lacks modules nbgrader_config.py names: {missing}"
    needed = ["grader_kernel/main.py", "grader_kernel/sentinel.py", "grader/kernelmanager.py", "course/__init__.py"]
    assert [n for n in needed if n not in names] == [], f"the wheel lacks {needed}; it holds {sorted(names)}"
    assert [n for n in names if n.startswith("tests/") or "/tests/" in n] == [], "the wheel holds the tests"


def test_tests_importing_untrusted_code_are_refused_with_the_reason(kernel_factory, tmp_path):
    """A test cell that imports a module from where the kernel does not trust (here a folder
    in /tmp on the kernel's PYTHONPATH): the guard does not arm, nothing is verified, and the
    Grading notes say which module, from where, instead of a bare 'could not arm'."""
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "extmod.py").write_text("def answer():\n    return 42\n")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    answer = nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION")
    answer.metadata["nbgrader"] = {"grade_id": "f", "grade": False, "solution": True, "locked": False,
                                   "schema_version": 3}
    test = nbformat.v4.new_code_cell('import extmod\n\nassert f() == extmod.answer(), "expected 42"')
    test.metadata["nbgrader"] = {"grade_id": "test_f", "grade": True, "solution": False, "locked": True,
                                 "points": 1, "schema_version": 3}
    nb.cells = [answer, test]
    course = support.Course(tmp_path / "course")
    (course.path / "source" / "arm").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course.path)
    nbformat.write(nb, course.path / "source" / "arm" / "arm.ipynb")
    course.nbgrader("generate_assignment", "arm", "--force")
    course.submit("arm", "student", support.read(course.path / "source" / "arm" / "arm.ipynb"))
    kernel = kernel_factory(f"{sys.version_info[0]}.{sys.version_info[1]}", support.default_start_method())
    course.nbgrader("autograde", "arm", "--force", env={**kernel.env(), "PYTHONPATH": str(extra)})
    notes = course.autograded("arm", "student").metadata["course_grading"]["notes"]
    arming = [note for note in notes if "could not arm" in note]
    assert arming, f"expected a note that the guard could not arm; the notes: {notes}"
    assert "extmod" in arming[0] and str(extra) in arming[0], f"expected the module and its folder: {arming[0]}"
    assert course.scores("arm", "student")["test_f"][0] == 0, "expected the unverifiable test to score 0"
