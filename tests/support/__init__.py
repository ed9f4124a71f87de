"""What the tests share: the course's layout, the Pythons and start methods to test under,
temporary nbgrader course directories, and the corpus of student answers.

Every assignment found under ``source/`` is covered without new test code; the only
per-assignment input is its answer corpus in ``tests/answers/<id>/``.

The package is what tests and benchmarks import (``import support``; pytest puts tests/ on
the path): one module per concern, everything re-exported here.
"""

from __future__ import annotations

from support import schedule
from support.answers import (
    CELL_MARKER,
    Answer,
    assert_messages,
    graded_answer_problems,
    load_answer,
    load_answers,
    needed_answers,
    only_needed_answers,
    student_notebook,
    submissions,
    with_answers,
    without_demonstrations,
)
from support.courses import Course, autograde_at_once, error_outputs, execution_seconds, forked_cpu_seconds, stderr_of
from support.kernels import (
    KernelSetup,
    find_pythons,
    kernel_python,
    minor_of,
    write_kernelspec,
    write_start_method_profile,
)
from support.layout import (
    ANSWERS,
    ANSWERS_METHODS,
    ANSWERS_PYTHONS,
    CACHE,
    METHODS,
    NOTEBOOK_SECONDS,
    RELEASE,
    ROOT,
    SOURCE,
    SUPPORTED_MINORS,
    assignments,
    default_start_method,
    exercises,
    nbgrader_meta,
    read,
    release_notebook,
    solution_ids,
    source_notebook,
    test_cells,
)
from support.target import (
    TARGET,
    TARGET_CLASS,
    TARGET_CLASS_SCORES,
    key_answers,
    leftover_processes,
    make_course,
    submit_class,
    target_notebook,
)

__all__ = [
    'ANSWERS',
    'ANSWERS_METHODS',
    'ANSWERS_PYTHONS',
    'CACHE',
    'CELL_MARKER',
    'METHODS',
    'NOTEBOOK_SECONDS',
    'RELEASE',
    'ROOT',
    'SOURCE',
    'SUPPORTED_MINORS',
    'TARGET',
    'TARGET_CLASS',
    'TARGET_CLASS_SCORES',
    'Answer',
    'Course',
    'KernelSetup',
    'assert_messages',
    'assignments',
    'autograde_at_once',
    'default_start_method',
    'error_outputs',
    'execution_seconds',
    'exercises',
    'find_pythons',
    'forked_cpu_seconds',
    'graded_answer_problems',
    'kernel_python',
    'key_answers',
    'leftover_processes',
    'load_answer',
    'load_answers',
    'make_course',
    'minor_of',
    'nbgrader_meta',
    'needed_answers',
    'only_needed_answers',
    'read',
    'release_notebook',
    'schedule',
    'solution_ids',
    'source_notebook',
    'stderr_of',
    'student_notebook',
    'submissions',
    'submit_class',
    'target_notebook',
    'test_cells',
    'with_answers',
    'without_demonstrations',
    'write_kernelspec',
    'write_start_method_profile',
]
