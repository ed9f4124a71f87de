"""The ``run.py check`` command: grade a learner's notebook with the hidden tests, as an
instructor would, in a scratch copy of the course (README, self-study guide)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from grader.exercises import ExerciseResult, SelfCheckReport, TestResult, exercises, meta, read_report
from grader.nbgrader_run import assignments, output_to, run_nbgrader, tools_on_path
from grader.plan import UsageError, notebook_problem

__all__ = ["ExerciseResult", "SelfCheckReport", "TestResult", "UsageError", "exercises", "main", "report_json",
           "self_check"]

STUDENT = "me"  # the learner's name in the scratch course (and in the feedback page)


def _check_input(root: Path, assignment: str, notebook: Path | None) -> tuple[Path, Path]:
    """The assignment's source notebook and the learner's notebook, or a UsageError."""
    if not (root / "nbgrader_config.py").is_file():
        raise UsageError(f"{root} has no nbgrader_config.py: run this from the course folder")
    source = root / "source" / assignment / f"{assignment}.ipynb"
    if not source.is_file():
        known = assignments(root / "source")
        raise UsageError(f"unknown assignment {assignment!r}: the assignments are {', '.join(known) or 'none'}")
    learner = (root / "release" / assignment / f"{assignment}.ipynb") if notebook is None else notebook
    learner = learner.expanduser().resolve()
    if not learner.exists():
        raise UsageError(f"there is no notebook at {learner}: give the path of the notebook you worked in")
    if not learner.is_file():
        raise UsageError(f"{learner} is a folder: give the path of the notebook (.ipynb) you worked in")
    problem = notebook_problem(learner)
    if problem:
        raise UsageError(f"{learner} {problem}")
    # A notebook of another assignment would be graded as all unanswered (or worse): say so
    # instead. Assignments may share an answer's name, so compare all their graded cells.
    mine = _grade_ids(learner)
    wanted = _grade_ids(source)
    if wanted and len(mine & wanted) <= len(mine - wanted):
        others = {path.parent.name: len(mine & _grade_ids(path)) for path in (root / "source").glob("*/*.ipynb")
                  if path.stem == path.parent.name and path != source}
        best = max(others, key=lambda name: others[name], default=None)
        looks = f"it looks like {best}'s notebook" if best and others[best] > len(mine & wanted) else \
            f"it has {len(mine & wanted)} of {assignment}'s {len(wanted)} graded cells"
        raise UsageError(f"{learner} is not a notebook of {assignment}: {looks}; give the notebook you worked in "
                         f"for {assignment}")
    return source, learner


def _grade_ids(path: Path) -> set[str]:
    """The ids of a notebook's nbgrader cells (answers, tests, locked cells)."""
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    return {str(meta(c)["grade_id"]) for c in cells if isinstance(c, dict) and meta(c).get("grade_id")}


def self_check(assignment: str, notebook: Path | None = None, *, course: Path | None = None,
               feedback_dir: Path | None = None) -> SelfCheckReport:
    """Grade ``notebook`` (default: ``release/<assignment>/<assignment>.ipynb``) against the
    hidden tests of ``assignment`` in a scratch copy of ``course`` (default: the current
    folder), and copy its feedback page into ``feedback_dir`` (default:
    ``<course>/feedback/self-check``).

    Raises :class:`UsageError`, having done nothing, for bad input, and ``RuntimeError``
    with nbgrader's log when grading fails.
    """
    root = (Path.cwd() if course is None else course).resolve()
    source, learner = _check_input(root, assignment, notebook)
    feedback_dir = root / "feedback" / "self-check" if feedback_dir is None else feedback_dir
    with tempfile.TemporaryDirectory(prefix="course-self-check-") as temporary:
        scratch = Path(temporary) / "course"
        (scratch / "source").mkdir(parents=True)
        shutil.copy2(root / "nbgrader_config.py", scratch)
        shutil.copytree(source.parent, scratch / "source" / assignment,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        handed_in = scratch / "submitted" / STUDENT / assignment / f"{assignment}.ipynb"
        handed_in.parent.mkdir(parents=True)
        shutil.copyfile(learner, handed_in)  # a copy: grading never sees the learner's file
        log = Path(temporary) / "nbgrader.log"
        steps = [["generate_assignment", assignment, "--force"],
                 ["autograde", assignment, "--force", f"--student={STUDENT}"],
                 ["generate_feedback", assignment, "--force", f"--student={STUDENT}"]]
        with contextlib.chdir(scratch), tools_on_path(), output_to(log):
            for step in steps:
                if run_nbgrader(step) != 0:
                    break
        graded = scratch / "autograded" / STUDENT / assignment / f"{assignment}.ipynb"
        page = scratch / "feedback" / STUDENT / assignment / f"{assignment}.html"
        if not graded.is_file() or not page.is_file():
            text = log.read_text(encoding="utf-8", errors="replace")
            raise RuntimeError("nbgrader could not grade the notebook; the end of its log:\n"
                               + "\n".join(text.splitlines()[-40:]))
        report = read_report(f"sqlite:///{scratch / 'gradebook.db'}", assignment, STUDENT, learner, graded)
        feedback_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page, feedback_dir / f"{assignment}.html")
    return dataclasses.replace(report, feedback=feedback_dir / f"{assignment}.html")


class _Parser(argparse.ArgumentParser):
    """argparse, with its complaints as a UsageError (one line, status 2)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError("give an assignment and, if it is not in release/, your notebook: "
                         f"python3 run.py check 01_processes [path/to/notebook.ipynb] ({message})")


def _parser() -> _Parser:
    parser = _Parser(prog="python3 run.py check", description=(
        "Grade your notebook with the hidden tests, in a scratch copy of the course; print the points of each "
        "exercise and what failed, and write the feedback page to feedback/self-check/<assignment>.html."))
    parser.add_argument("assignment", help="e.g. 01_processes")
    parser.add_argument("notebook", nargs="?", type=Path,
                        help="the notebook you worked in (default: release/<assignment>/<assignment>.ipynb)")
    parser.add_argument("--json", action="store_true",
                        help="print the report as one line of JSON (what the notebook's Check button reads), "
                             "and nothing else on standard output")
    return parser


def report_json(report: SelfCheckReport, root: Path) -> dict[str, Any]:
    """The report as ``--json`` prints it: the points of each exercise and test, what each
    failed test said, the total, the grader's notes, the feedback page, and ``text``, the
    report as the command prints it."""
    return {
        "assignment": report.assignment,
        "notebook": str(report.notebook),
        "score": report.score,
        "max_score": report.max_score,
        "exercises": [{"name": exercise.name, "score": exercise.score, "max_score": exercise.max_score,
                       "tests": [dataclasses.asdict(test) for test in exercise.tests]}
                      for exercise in report.exercises],
        "notes": list(report.notes),
        "feedback": str(report.feedback),
        "text": report.text(root),
    }


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """The command: exit status 0 when the check ran (whatever the score), 1 when it could
    not grade the notebook, 2 for bad input (nothing was done), 130 on Ctrl-C."""
    out = sys.stdout if out is None else out
    try:
        args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
        root = Path.cwd()
        _check_input(root, args.assignment, args.notebook)  # bad input is reported before anything is said or done
        if args.json:
            with contextlib.redirect_stdout(sys.stderr):  # standard output holds the JSON alone
                report = self_check(args.assignment, args.notebook, course=root)
        else:
            print(f"Checking {args.assignment} with the hidden tests (a minute or less)...", file=out, flush=True)
            report = self_check(args.assignment, args.notebook, course=root)
    except SystemExit as stop:  # --help
        return stop.code if isinstance(stop.code, int) else 0
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopped: nothing was changed.", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(report_json(report, root), ensure_ascii=False), file=out, flush=True)
    else:
        print(report.text(root), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
