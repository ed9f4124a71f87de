"""What a cell's source says, read on the host without running it."""

from __future__ import annotations

import ast
import inspect

__all__ = ["awaits_at_top_level", "imported_modules", "python_source"]


def python_source(source: str) -> str:
    """The Python in a cell: a ``%%writefile`` line and ``%``/``!`` lines left out."""
    lines = source.splitlines()
    if lines and lines[0].startswith("%%"):
        lines = lines[1:]
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


def imported_modules(source: str) -> set[str]:
    """Modules a cell imports (IPython magics left out)."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def awaits_at_top_level(source: str) -> bool:
    """Whether a cell awaits at top level, as 08's tests do (IPython runs such a cell as a
    coroutine in the kernel's event loop, and so must its sealed stub)."""
    try:
        code = compile(source, "<cell>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except (SyntaxError, ValueError):  # IPython syntax (a magic): not Python the host can read
        return False
    return bool(code.co_flags & inspect.CO_COROUTINE)
