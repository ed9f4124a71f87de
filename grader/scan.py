"""A static scan of what students wrote, for the instructor: code that reaches for the
machinery that runs and reports tests, rather than solving the exercise.

Nothing here changes a score. Honest answers in this course fork, exit children with
``os._exit``, use signals, threads and ``%%writefile``: none of that is flagged. What is
flagged are the APIs with no place in an answer: IPython's hooks (``get_ipython``, input
and AST transformers, ``showtraceback``...), ``builtins`` and ``sys.modules``, frame and
garbage-collector introspection, ``ctypes``, code objects, audit hooks, the grader's
environment variables, monkeypatching the modules the tests use, and files of the course
(the gradebook, ``source/``). The in-kernel sentinel stops most of these at run time; the
scan tells the instructor who tried.
"""

from __future__ import annotations

import ast
import contextlib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from grader.cell_source import python_source

__all__ = ["defined_names", "scan_answers", "scan_source"]

_NAMES = {
    "get_ipython": "uses get_ipython() (IPython's internals)",
    "__builtins__": "changes or reads __builtins__",
    "__import__": "imports modules by computed name",
    "exec": "runs code built at run time (exec)",
    "eval": "runs code built at run time (eval)",
    "compile": "compiles code at run time",
    "globals": "reaches into the notebook's global names (globals())",
}
_ATTRIBUTES = {
    "input_transformers_cleanup": "adds an IPython input transformer",
    "input_transformers_post": "adds an IPython input transformer",
    "input_transformer_manager": "changes IPython's input transformers",
    "ast_transformers": "adds an IPython AST transformer",
    "showtraceback": "changes how IPython reports errors",
    "_showtraceback": "changes how IPython reports errors",
    "set_custom_exc": "installs an IPython exception handler",
    "CustomTB": "installs an IPython exception handler",
    "run_cell": "changes how IPython runs cells",
    "run_code": "changes how IPython runs cells",
    "run_ast_nodes": "changes how IPython runs cells",
    "transform_cell": "changes how IPython runs cells",
    "register": None,  # events.register only, below
    "excepthook": None,  # sys.excepthook only, below
    "displayhook": "changes sys.displayhook",
    "meta_path": "changes how modules are imported (sys.meta_path)",
    "path_hooks": "changes how modules are imported (sys.path_hooks)",
    "settrace": "traces running code",
    "setprofile": "traces running code",
    "_getframe": "reads the frames of running code",
    "_current_frames": "reads the frames of running code",
    "currentframe": "reads the frames of running code",
    "f_back": "reads the frames of running code",
    "f_locals": "reads the frames of running code",
    "f_globals": "reads the frames of running code",
    "tb_frame": "reads the frames of running code",
    "gi_frame": "reads the frames of running code",
    "co_consts": "reads the constants of compiled code",
    "__code__": "swaps the code of a function",
    "__closure__": "reaches into a function's closure",
    "addaudithook": "installs an audit hook",
    "get_objects": "searches the garbage collector's objects",
    "get_referrers": "searches the garbage collector's objects",
    "get_referents": "searches the garbage collector's objects",
    "setitimer": "sets an interval timer (signals at any moment)",
    "f_code": "reads the frames of running code",
}
_MODULES = {
    "ctypes": "imports ctypes (raw memory access)",
    "gc": "imports gc (the garbage collector)",
    "builtins": "imports builtins",
    "IPython": "imports IPython",
    "ipykernel": "imports ipykernel",
    "nbgrader": "imports nbgrader",
    "atexit": "registers exit handlers",
    "importlib": None,  # reload is honest; import_module with a computed name is caught as __import__
}
_GRADER_WORDS = re.compile(r"NBGRADER|nbgrader|autograde|gradebook|PYTEST|JPY_|hidden tests?|BEGIN HIDDEN", re.I)
_SYSTEM_SECRETS = re.compile(r"^/etc/(shadow|gshadow|sudoers|ssh)|^/root(/|$)|^/home/"
                             r"|/proc/\d+/|/proc/self/(mem|environ)")
_COURSE_PATHS = re.compile(r"(^|/)(source|release|submitted|autograded|feedback)(/|$)|gradebook\.db|\.\./")
# Modules whose attributes the tests rely on: assigning to one is monkeypatching them.
_TEST_MODULES = frozenset({"os", "sys", "time", "builtins", "multiprocessing", "threading", "queue", "tempfile",
                           "inspect", "concurrent", "contextlib", "signal", "course", "math", "hashlib", "types",
                           "timeit", "warnings", "functools", "subprocess"})


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def defined_names(source: str) -> set[str]:
    """The names a cell binds at its top level (functions, classes, assignments, imports)."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def scan_source(source: str, protected: Iterable[str] = ()) -> list[str]:
    """What in this cell's code looks like tampering with the grader, one line each.

    ``protected``: names that locked cells define (the tests' helpers): an answer that
    defines one again is flagged.
    """
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return []
    imported: dict[str, str] = {}
    findings: list[str] = []

    def note(node: ast.AST, text: str) -> None:
        findings.append(f"line {getattr(node, 'lineno', '?')}: {text}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                imported[alias.asname or top] = top
                if _MODULES.get(top):
                    note(node, _MODULES[top] or "")
        elif isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
            for alias in node.names:
                imported[alias.asname or alias.name] = top
            if _MODULES.get(top):
                note(node, _MODULES[top] or "")
        elif isinstance(node, ast.Name) and node.id in _NAMES:
            note(node, _NAMES[node.id])
        elif isinstance(node, ast.Attribute):
            text = _ATTRIBUTES.get(node.attr)
            if node.attr == "register" and isinstance(node.value, ast.Attribute) and node.value.attr == "events":
                text = "registers an IPython event callback"
            elif node.attr == "excepthook" and _root_name(node) == "sys":
                text = "changes sys.excepthook"
            elif node.attr == "modules" and _root_name(node) == "sys":
                text = "reaches into sys.modules"
            elif node.attr == "environ" and _root_name(node) == "os":
                text = None  # reading the environment is common; grader words are caught below
            if text:
                note(node, text)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _GRADER_WORDS.search(node.value):
                note(node, f"mentions the grader ({node.value[:40]!r})")
            elif _COURSE_PATHS.search(node.value):
                note(node, f"names a file of the course ({node.value[:40]!r})")
            elif _SYSTEM_SECRETS.search(node.value):
                note(node, f"names a private file of the system ({node.value[:40]!r})")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr"):
            if node.args and _root_name(node.args[0]) in _TEST_MODULES | {n for n, t in imported.items()
                                                                          if t in _TEST_MODULES}:
                note(node, f"changes a module the tests use ({ast.unparse(node.args[0])})")
    for name in sorted(defined_names(source) & set(protected)):
        findings.append(f"line 1: defines {name} again, which a locked cell defines for the tests")
    for node in ast.walk(tree):
        targets: Iterable[ast.AST] = ()
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = (node.target,)
        elif isinstance(node, ast.Delete):
            targets = node.targets
        for target in targets:
            if isinstance(target, ast.Attribute):
                root = _root_name(target)
                module = imported.get(root, root) if root else None
                if module in _TEST_MODULES:
                    note(target, f"monkeypatches {ast.unparse(target)}")
    return sorted(set(findings), key=lambda text: (int(text.split()[1].rstrip(":"))
                                                   if text.split()[1].rstrip(":").isdigit() else 0, text))


def scan_answers(nb: NotebookNode, kinds: Sequence[str], source_path: Path) -> list[str]:
    """What the answer cells (and the unlocked cells a student edited) of a submission do
    that looks like tampering, one line each, labelled with the cell's grade id.

    ``kinds``: each cell's kind, as :func:`grader.run_state.cell_kind` tells; ``source_path``:
    the instructor's notebook, whose cells are not scanned (it is fine if it is missing).
    """
    instructor: set[str] = set()
    with contextlib.suppress(Exception):
        source_nb = nbformat.read(source_path, as_version=4)
        instructor = {cell.source for cell in source_nb.cells if cell.cell_type == "code"}
    helpers = {name for cell, kind in zip(nb.cells, kinds, strict=True) if kind == "locked"
               for name in defined_names(cell.source)}
    found: list[str] = []
    for index, (cell, kind) in enumerate(zip(nb.cells, kinds, strict=True)):
        if kind not in ("answer", "other") or cell.source in instructor:
            continue
        label = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index + 1}"
        found.extend(f"{label}, {finding}" for finding in scan_source(cell.source, helpers))
    return found
