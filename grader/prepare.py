"""What the coordinator sends to the grading processes: the run's bundle (the assignment's
source, the configuration, a prepared scratch gradebook) and each student's task."""

from __future__ import annotations

import fnmatch
import tempfile
from pathlib import Path
from typing import Any

from grader.plan import Settings
from grader.task import Bundle, Files, Prior, Task, forwarded, grader_fingerprint, read_tree

__all__ = ["make_bundle", "make_task", "template_gradebook"]


def _source_files(settings: Settings) -> Files:
    """The assignment's source folder, as nbgrader would use it: its notebooks, and the other
    files that ``CourseDirectory.ignore`` does not leave out."""
    folder = settings.source / settings.assignment
    kept: Files = {}
    for relative, entry in read_tree(folder).items():
        parts = relative.split("/")
        notebook = len(parts) == 1 and relative.endswith(".ipynb")
        if notebook or not any(fnmatch.fnmatch(part, pattern) for part in parts for pattern in settings.ignore):
            kept[relative] = entry
    return kept


def template_gradebook(settings: Settings) -> bytes:
    """An SQLite gradebook holding the course and the assignment (notebooks and cells, due
    date) as the real gradebook has them, and no student: what each scratch course copies.

    Made without nbgrader's ``alembic heads`` subprocess (2 s): the tables are SQLAlchemy's,
    and the schema version is the real gradebook's.
    """
    from nbgrader.api import Base, Gradebook  # type: ignore[import-untyped]
    from sqlalchemy import create_engine, text

    from grader.writer import one_transaction

    with tempfile.TemporaryDirectory(prefix="course-gradebook-template-") as temporary:
        path = Path(temporary) / "gradebook.db"
        url = f"sqlite:///{path}"
        with Gradebook(settings.db_url, settings.course_id) as real:
            version = real.db.execute(text("SELECT version_num FROM alembic_version")).scalar()
            engine = create_engine(url)
            try:
                Base.metadata.create_all(bind=engine)
                with engine.begin() as connection:
                    connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
                    connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": version})
            finally:
                engine.dispose()
            with Gradebook(url, settings.course_id) as template, one_transaction(template):
                _copy_assignment(real.find_assignment(settings.assignment), template)
        return path.read_bytes()


def _copy_assignment(assignment: Any, template: Any) -> None:
    name = assignment.name
    template.add_assignment(name, duedate=assignment.duedate, course_id=assignment.course_id)
    for notebook in assignment.notebooks:
        template.add_notebook(notebook.name, name, kernelspec=notebook.kernelspec)
        for cell in notebook.grade_cells:
            template.add_grade_cell(cell.name, notebook.name, name, max_score=cell.max_score, cell_type=cell.cell_type)
        for cell in notebook.solution_cells:
            template.add_solution_cell(cell.name, notebook.name, name)
        for cell in notebook.task_cells:
            template.add_task_cell(cell.name, notebook.name, name, max_score=cell.max_score, cell_type=cell.cell_type)
        for cell in notebook.source_cells:
            template.add_source_cell(cell.name, notebook.name, name, cell_type=cell.cell_type, locked=cell.locked,
                                     source=cell.source, checksum=cell.checksum)


def make_bundle(settings: Settings) -> Bundle:
    """The run's bundle, made once."""
    return Bundle(assignment=settings.assignment, course_id=settings.course_id,
                  config=(settings.root / "nbgrader_config.py").read_bytes(), source=_source_files(settings),
                  gradebook=template_gradebook(settings), nbgrader_args=forwarded(settings.nbgrader_args),
                  course_root=str(settings.root), fingerprint=grader_fingerprint())


def make_task(settings: Settings, student: str, prior: Prior) -> Task:
    """One student's task: their submission's files, and their gradebook entries before."""
    return Task(student, read_tree(settings.submitted / student / settings.assignment), prior)
