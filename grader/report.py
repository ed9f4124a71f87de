"""The ``run.py report`` command: a class's results of one assignment, as an HTML page and CSV files."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from grader.plan import UsageError, relative, resolve
from grader.report_data import ClassData, gather
from grader.report_render import write_report

__all__ = ["ClassData", "UsageError", "class_report", "main"]


def class_report(assignment: str, *, db_url: str | None = None, course: Path | None = None,
                 folder: Path | None = None) -> tuple[ClassData, list[Path]]:
    """Read the class's results of ``assignment`` from the gradebook (``db_url``, default: the
    course's) and ``autograded/``, and write ``<assignment>.html`` and its CSV files into
    ``folder`` (default: ``<course>/reports``). Returns what was read and the files written, the
    page first.

    Raises :class:`UsageError`, having written nothing, for an unknown assignment, a missing
    gradebook, or an assignment nothing is graded of.
    """
    root = (Path.cwd() if course is None else course).resolve()
    settings = resolve(root, assignment, ["--db", db_url] if db_url is not None else [])
    data = gather(settings)
    return data, write_report(data, settings.root / "reports" if folder is None else folder)


class _Parser(argparse.ArgumentParser):
    """argparse, with its complaints as a UsageError (one line, status 2)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (usage: python3 run.py report <assignment> [--db URL])")


def _parser() -> _Parser:
    parser = _Parser(prog="python3 run.py report", allow_abbrev=False, description=(
        "Write reports/<assignment>.html (score distributions, each test's pass rate and its most common failure "
        "messages, the submissions that need a look, grading times) and the same numbers as CSV files beside it, "
        "from the gradebook and the graded notebooks in autograded/."))
    parser.add_argument("assignment", help="the assignment, e.g. 01_processes")
    parser.add_argument("--db", metavar="URL", help="the gradebook's database URL (default: the course's, as "
                                                   "nbgrader_config.py says), e.g. postgresql://host/gradebook")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """The command: exit status 0 (report written) or 2 (bad input: nothing written)."""
    out = sys.stdout if out is None else out
    try:
        args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
        data, written = class_report(args.assignment, db_url=args.db)
    except SystemExit as stop:  # --help
        return stop.code if isinstance(stop.code, int) else 0
    except UsageError as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nStopped.", file=sys.stderr)
        return 130
    summary = data.summary()
    root = Path.cwd().resolve()
    print(f"{data.assignment}: {summary['students']} submission(s), mean {summary['mean']:g} of "
          f"{data.max_score:g}, {summary['flagged']} flagged, {summary['need_a_look']} to look at.", file=out)
    print(f"Report: {relative(written[0], root)}", file=out)
    print("CSV: " + ", ".join(relative(path, root) for path in written[1:]), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
