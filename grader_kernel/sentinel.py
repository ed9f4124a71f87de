"""The kernel's half of tamper resistance: an audit hook that runs locked cells on a
pristine kernel and signs what happened.

Student code runs in the same process as the hidden tests, so nothing in this process is
out of its reach; the sentinel makes the known ways in fail, and makes any way it does
not know show up as a missing or tampered verdict instead of a silent pass:

* It is an *audit hook* (PEP 578), installed before any student code runs. Audit hooks
  cannot be removed or listed from Python, and new ones can only be added with its
  consent, so its closure (the key, the pristine snapshot) is out of reach of ordinary
  code. It refuses the operations that would reach into it or fake trusted code:
  frame and garbage-collector introspection, tracing, new audit hooks, swapping a
  library function's code, faking a library file name in ``compile``, and ``ctypes``
  memory access, when they come from code outside the standard library, the installed
  packages and the ``course`` package.
* When the kernel is ready, it takes a *pristine snapshot*: IPython's input
  transformers, AST transformers, event callbacks, exception handlers and display hooks;
  the kernel's message handlers; ``sys`` hooks, ``builtins``; and every function and
  class of the trusted modules (IPython, ipykernel, the ``course`` package, and the
  modules the test cells import).
* The grader sends each locked cell (a test, or a locked helper) as a *sealed* stub
  (:mod:`grader_kernel.protocol`). The sentinel opens it, restores the snapshot
  (noting what had changed), runs the cell, checks again (anything changed *while* a
  test ran means the test was tampered with), and publishes a verdict signed with the key.

The verdict is checked by the grader (:mod:`grader.verdicts`): no verdict, a bad
signature, or changes during the test score the test 0 and flag the submission.

Import has no side effects; :func:`install` does the work, once, in the kernel process.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import json
import linecache
import os
import re
import signal
import sys
import threading
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from grader_kernel import protocol

__all__ = ["TamperingBlocked", "install"]

# Audit events refused when they come from untrusted code, with the frames to skip to
# find "who asked" (a library that only passes the request on does not count as asking).
_FRAME_EVENTS = frozenset({"sys._getframe", "sys._current_frames", "gc.get_objects", "gc.get_referrers",
                           "gc.get_referents", "sys.settrace", "sys.setprofile", "sys.addaudithook",
                           "code.__new__", "function.__new__"})
_CTYPES_EVENTS = frozenset({"ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.cdata",
                            "ctypes.string_at", "ctypes.wstring_at"})
_FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
_CODE_ATTRIBUTES = frozenset({"__code__", "__defaults__", "__kwdefaults__"})
_SEALED_EVENTS = frozenset({protocol.AUDIT_EVENT, protocol.OUTCOME_EVENT, protocol.DONE_EVENT})
_WATCHED = _FRAME_EVENTS | _CTYPES_EVENTS | _SEALED_EVENTS | {"object.__getattr__", "object.__setattr__", "compile",
                                                               "open"}
_PROC_MEMORY = re.compile(r"^/proc/[^/]+/(task/[^/]+/)?mem$")
# Library functions that hand a frame to their caller: a request from one of them counts
# as a request from whoever called it.
_FRAME_EXPORTERS = (("inspect", ("currentframe", "stack", "trace", "getouterframes", "getinnerframes")),
                    ("traceback", ("walk_stack", "walk_tb")), ("logging", ("currentframe",)))
# Modules watched besides the ones the test cells import: the machinery that runs a cell
# and reports its outcome, and the standard modules every test leans on.
_TRUSTED_PREFIXES = ("IPython.core.", "ipykernel.", "jupyter_client.session", "comm.", "course.",
                     "multiprocessing.", "concurrent.futures.", "json.", "importlib.util", "zmq.sugar.")
_TRUSTED_NAMES = frozenset({"builtins", "sys", "os", "posix", "signal", "threading", "_thread", "time", "warnings",
                            "types", "inspect", "traceback", "linecache", "json", "importlib", "queue", "tempfile",
                            "contextlib", "functools", "subprocess", "pickle", "copyreg", "weakref", "io",
                            "multiprocessing", "concurrent.futures", "course", "IPython", "ipykernel", "atexit"})
# Module attributes that change honestly at run time (caches, last exception).
_VOLATILE = frozenset({"sys.last_type", "sys.last_value", "sys.last_traceback", "sys.last_exc",
                       "builtins.exit", "builtins.quit", "builtins.get_ipython", "builtins._", "builtins.input",
                       "multiprocessing.process._current_process", "threading._main_thread"})


class TamperingBlocked(RuntimeError):
    """Raised in student code that tried something the grader does not allow."""


def install(key: bytes, trusted_paths: Sequence[str], preimport: Sequence[str]) -> None:
    """Install the sentinel's audit hook in this process (the kernel), before student code.

    ``trusted_paths``: folders whose code is trusted (the standard library, installed
    packages, the ``course`` package). ``preimport``: modules the test cells import,
    imported and snapshotted when the kernel is armed.
    """
    # Everything the hook touches before it has restored the pristine state is bound here,
    # as a closure variable: student code can rebind module attributes and builtins, but it
    # cannot reach this function's closure (audit hooks cannot be listed from Python, and
    # the ways to find them, gc and frame introspection, are refused below).
    state = _State(key, tuple(trusted_paths), tuple(preimport))
    getframe, ident, settrace, setprofile = sys._getframe, threading.get_ident, sys.settrace, sys.setprofile
    watched, sealed_events = _WATCHED, _SEALED_EVENTS
    frame_attributes, setattr_names = _FRAME_ATTRIBUTES, _CODE_ATTRIBUTES | {"__class__"}
    run_sealed, refusal_of, blocked = _run_sealed, _refusal, TamperingBlocked
    str_type, type_of, listing = str, type, list
    trusted_prefixes = tuple(trusted_paths)
    inspecting: set[int] = set()
    # IPython puts get_ipython into builtins, and takes exit and quit out, while a cell
    # runs, and ipykernel sets input: those are the shell's business, not compared here.
    trap_keys = frozenset({"exit", "quit", "get_ipython", "input"})  # ipykernel sets input for every cell
    own: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def take_own() -> None:
        own[:] = [(vars(module), {k: v for k, v in vars(module).items() if k not in trap_keys})
                  for module in (builtins, sys.modules[__name__], protocol)]

    def restore_own() -> None:
        """Put back builtins and this module's globals; note in the state what had changed."""
        for current, pristine in own:
            changed = False
            for name in listing(current):
                if name in trap_keys:
                    continue
                if name not in pristine:
                    del current[name]
                    changed = True
                    state.own_changed.append(name)
                elif current[name] is not pristine[name]:
                    changed = True
                    state.own_changed.append(name)
            if changed or len(current) < len(pristine):
                current.update(pristine)

    take_own()
    state.restore_own = restore_own

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event not in watched:
            return
        if event in sealed_events:
            settrace(None)
            setprofile(None)
            if state.snapshot is not None:
                restore_own()
            run_sealed(state, event, args)
            if state.snapshot is not None and not state.own_taken:
                take_own()  # armed just now: what builtins and our globals look like inside a cell
                state.own_taken = True
            return
        # Cheap filters first: most of these events are harmless.
        if event == "object.__getattr__" and args[1] not in frame_attributes:
            return
        if event == "object.__setattr__" and args[1] not in setattr_names:
            return
        if event == "compile":
            filename = args[1]
            if type_of(filename) is not str_type or not filename.startswith(trusted_prefixes):
                return
        if event == "open":
            path = args[0]
            if type_of(path) is not str_type or not path.endswith("mem"):
                return
        me = ident()
        if me in inspecting:
            return
        inspecting.add(me)
        try:
            if state.own_taken:
                restore_own()
            refusal = refusal_of(state, event, args, getframe(1))
        finally:
            inspecting.discard(me)
        if refusal:
            state.refused.append(refusal)
            raise blocked(f"grading: {refusal} is not allowed while a notebook is graded")

    sys.addaudithook(hook)


# --- the state the hook keeps --------------------------------------------------------------


class _State:
    """What the hook holds: the key, what is trusted, the snapshot, and what it refused."""

    def __init__(self, key: bytes, trusted_paths: tuple[str, ...], preimport: tuple[str, ...]) -> None:
        self.key = key
        self.trusted_paths = trusted_paths
        self.preimport = preimport
        self.snapshot: _Snapshot | None = None
        self.shell: Any = None
        self.refused: list[str] = []
        self.used_nonces: set[str] = set()
        self.pins: dict[str, Any] = {}
        self.cell_codes: set[types.CodeType] = set()
        self.exporters: set[types.CodeType] = set()
        self.own_changed: list[str] = []
        self.own_taken = False
        self.pending: _Pending | None = None
        self.shown: list[str] = []
        self.restore_own: Callable[[], None] = lambda: None

    def trusted(self, code: types.CodeType) -> bool:
        if code in self.cell_codes:
            return True
        name = code.co_filename
        return name.startswith(self.trusted_paths) or name.startswith("<frozen ")


def _refusal(state: _State, event: str, args: tuple[Any, ...], frame: types.FrameType | None) -> str:
    """Why ``event``, raised from ``frame``, must be refused ('' when it may proceed)."""
    if event == "open":
        path = args[0]
        if isinstance(path, bytes):
            path = path.decode(errors="replace")
        if isinstance(path, str) and _PROC_MEMORY.match(path):
            return f"opening {path} (reading the kernel's memory)"
        return ""
    if event == "object.__getattr__":
        if args[1] not in _FRAME_ATTRIBUTES:
            return ""
        what = f"reading .{args[1]} (the frames of running code)"
    elif event == "object.__setattr__":
        target, name = args[0], args[1]
        if name in _CODE_ATTRIBUTES and isinstance(target, types.FunctionType):
            if not state.trusted(target.__code__):
                return ""
            what = f"replacing {name} of {target.__module__}.{target.__qualname__}"
        elif name == "__class__":
            module = sys.modules.get(type(target).__module__)
            if not _in_paths(getattr(module, "__file__", None), state.trusted_paths):
                return ""
            what = f"changing the class of a {type(target).__module__}.{type(target).__qualname__}"
        else:
            return ""
    elif event == "compile":
        filename = args[1]
        if isinstance(filename, bytes):
            filename = filename.decode(errors="replace")
        if not _in_paths(filename, state.trusted_paths):
            return ""
        what = f"compiling code that claims to come from {filename}"
    elif event in _CTYPES_EVENTS:
        what = f"ctypes ({event}: reaching the kernel's memory)"
    elif event == "sys.settrace" or event == "sys.setprofile":
        if args and args[0] is None:
            return ""
        what = f"{event} (watching code run)"
    else:
        what = {"sys._getframe": "sys._getframe (reading the frames of running code)",
                "sys._current_frames": "sys._current_frames (reading the frames of running code)",
                "sys.addaudithook": "sys.addaudithook",
                "code.__new__": "making code objects", "function.__new__": "making functions from code objects",
                }.get(event, event)
    skip_ctypes = event in _CTYPES_EVENTS
    while frame is not None:
        code = frame.f_code
        if code in state.exporters or (skip_ctypes and "ctypes" in code.co_filename):
            frame = frame.f_back
            continue
        return "" if state.trusted(code) else what
    return ""


def _in_paths(filename: object, paths: tuple[str, ...]) -> bool:
    return isinstance(filename, str) and filename.startswith(paths)


# --- the pristine snapshot --------------------------------------------------------------------


def _is_tracked(value: object) -> bool:
    """Values whose replacement changes what code does: functions, classes, modules, hooks."""
    return callable(value) or isinstance(value, types.ModuleType)


class _Snapshot:
    """Identity copies of everything a test's outcome depends on, taken before student code ran."""

    def __init__(self, shell: Any, trusted_paths: tuple[str, ...]) -> None:
        self.shell = shell
        self.modules: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        self.classes: list[tuple[type, dict[str, Any]]] = []
        self.functions: list[tuple[types.FunctionType, Any, Any, Any]] = []
        self.sys_modules: dict[str, types.ModuleType] = {}
        seen_functions: set[int] = set()
        for name, module in sorted(sys.modules.items()):
            if not _trusted_module(name) or not isinstance(module, types.ModuleType):
                continue
            namespace = vars(module)
            self.sys_modules[name] = module
            self.modules.append((name, namespace, dict(namespace)))
            for value in list(namespace.values()):
                if isinstance(value, type) and value.__module__ == name and value.__flags__ & _HEAPTYPE:
                    self.classes.append((value, dict(vars(value))))
                    for member in list(vars(value).values()):
                        self._add_functions(member, seen_functions)
                else:
                    self._add_functions(value, seen_functions)
        self.lists = {label: (owner, attribute, list(getattr(owner, attribute)))
                      for label, owner, attribute in _hook_lists(shell)}
        self.events = {name: list(callbacks) for name, callbacks in shell.events.callbacks.items()}
        self.handlers = {label: dict(table) for label, table in _handler_tables(shell)}
        self.instances = [(label, obj, type(obj), {k: v for k, v in vars(obj).items() if _is_tracked(v)})
                          for label, obj in _watched_instances(shell) if hasattr(obj, "__dict__")]
        self.custom_exceptions = shell.custom_exceptions
        self.signals = _signal_handlers()
        self.monitoring = _monitoring_tools()

    def _add_functions(self, value: object, seen: set[int]) -> None:
        candidates: Iterable[object]
        if isinstance(value, (staticmethod, classmethod)):
            candidates = (value.__func__,)
        elif isinstance(value, property):
            candidates = (value.fget, value.fset, value.fdel)
        else:
            candidates = (value,)
        for func in candidates:
            if isinstance(func, types.FunctionType) and id(func) not in seen:
                seen.add(id(func))
                self.functions.append((func, func.__code__, func.__defaults__, func.__kwdefaults__))

    def restore(self) -> list[str]:
        """Put everything back as it was; return what had changed, as short descriptions."""
        changes: list[str] = []
        for name, module in self.sys_modules.items():
            if sys.modules.get(name) is not module:
                changes.append(f"sys.modules[{name!r}] was replaced")
                sys.modules[name] = module
        builtin_names = vars(builtins)
        for name, namespace, pristine in self.modules:
            for key in list(namespace):
                if key not in pristine:
                    # A new global that shadows a builtin changes what the module's code calls.
                    if key in builtin_names and name != "builtins":
                        changes.append(f"{name}.{key} was added, hiding the builtin")
                        del namespace[key]
                    elif name == "builtins" and f"builtins.{key}" not in _VOLATILE:
                        changes.append(f"builtins.{key} was added")
                        del namespace[key]
            for key, value in pristine.items():
                if f"{name}.{key}" in _VOLATILE:
                    continue
                current = namespace.get(key, _MISSING)
                if current is value:
                    continue
                if (_is_tracked(value) or _is_tracked(current)) and not _same(current, value):
                    changes.append(f"{name}.{key} was {'deleted' if current is _MISSING else 'replaced'}")
                    namespace[key] = value
        for cls, pristine in self.classes:
            members = vars(cls)
            for key in list(members):
                if key not in pristine and _is_tracked(members[key]):
                    changes.append(f"{cls.__module__}.{cls.__qualname__}.{key} was added")
                    _try(delattr, cls, key)
            for key, value in pristine.items():
                current = members.get(key, _MISSING)
                if current is not value and (_is_tracked(value) or _is_tracked(current)
                                             or isinstance(value, (staticmethod, classmethod, property))):
                    changes.append(f"{cls.__module__}.{cls.__qualname__}.{key} was replaced")
                    _try(setattr, cls, key, value)
        for func, code, defaults, kwdefaults in self.functions:
            if func.__code__ is not code or func.__defaults__ is not defaults or func.__kwdefaults__ is not kwdefaults:
                changes.append(f"the code of {func.__module__}.{func.__qualname__} was changed")
                func.__code__, func.__defaults__, func.__kwdefaults__ = code, defaults, kwdefaults
        for label, (owner, attribute, items) in self.lists.items():
            current = getattr(owner, attribute, None)
            if not isinstance(current, list) or len(current) != len(items) or any(
                    a is not b for a, b in zip(current, items, strict=True)):
                changes.append(f"{label} was changed")
                if isinstance(current, list):
                    current[:] = items
                else:
                    setattr(owner, attribute, list(items))
        callbacks = self.shell.events.callbacks
        for name in set(callbacks) | set(self.events):
            now, then = callbacks.get(name, []), self.events.get(name, [])
            if len(now) != len(then) or any(a is not b for a, b in zip(now, then, strict=True)):
                changes.append(f"IPython's {name!r} event callbacks were changed")
                callbacks[name] = list(then)
        for label, table in _handler_tables(self.shell):
            pristine_table = self.handlers[label]
            if table.keys() != pristine_table.keys() or any(table[k] is not v for k, v in pristine_table.items()):
                changes.append(f"{label} was changed")
                table.clear()
                table.update(pristine_table)
        for label, obj, cls, pristine_attrs in self.instances:
            if type(obj) is not cls:
                changes.append(f"the class of {label} was changed")
                _try(setattr, obj, "__class__", cls)
            attrs = vars(obj)
            for key in list(attrs):
                value = attrs[key]
                if key not in pristine_attrs and _is_tracked(value) and not isinstance(value, type(None)):
                    if hasattr(cls, key) and callable(getattr(cls, key, None)):
                        changes.append(f"{label}.{key} was replaced")
                        del attrs[key]
            for key, value in pristine_attrs.items():
                if not _same(attrs.get(key, _MISSING), value):
                    changes.append(f"{label}.{key} was replaced")
                    attrs[key] = value
        if self.shell.custom_exceptions != self.custom_exceptions:
            changes.append("IPython's custom exception handler was set")
            self.shell.custom_exceptions = self.custom_exceptions
        changes += _restore_signals(self.signals)
        changes += _restore_monitoring(self.monitoring)
        return changes


_MISSING = object()
_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: classes written in Python; C types cannot be changed anyway


def _same(current: object, pristine: object) -> bool:
    """Whether ``current`` does what ``pristine`` did. IPython makes some hooks afresh for
    every cell (``sys.excepthook`` as a new bound method, ``sys.stdout.write`` as a new
    closure): the same code on the same object is the same hook. (A student cannot make a
    function from library code with a closure of its own: ``function.__new__`` is refused.)"""
    if current is pristine:
        return True
    if isinstance(pristine, types.FunctionType) and pristine.__code__.co_name == "write" \
            and "original_write" in pristine.__code__.co_freevars and pristine.__closure__:
        # IPython's run_cell tees a stream's write for the cell it runs and puts the
        # stream's own bound write back after; ipykernel runs a cell that awaits with
        # run_cell_async, which has no tee. The stream's own write is the same hook.
        original = pristine.__closure__[pristine.__code__.co_freevars.index("original_write")].cell_contents
        if _same(current, original):
            return True
    if isinstance(current, types.MethodType) and isinstance(pristine, types.MethodType):
        return current.__func__ is pristine.__func__ and current.__self__ is pristine.__self__
    if isinstance(current, types.FunctionType) and isinstance(pristine, types.FunctionType):
        return current.__code__ is pristine.__code__ and current.__module__ == pristine.__module__
    return False


def _try(action: Callable[..., Any], *args: Any) -> None:
    try:
        action(*args)
    except (AttributeError, TypeError):
        pass


def _trusted_module(name: str) -> bool:
    return name in _TRUSTED_NAMES or name.startswith(_TRUSTED_PREFIXES)


def _hook_lists(shell: Any) -> list[tuple[str, Any, str]]:
    """The lists IPython consults to transform and run a cell, as (label, owner, attribute)."""
    manager = shell.input_transformer_manager
    found = [("IPython's input transformers (cleanup)", shell, "input_transformers_cleanup"),
             ("IPython's input transformers (post)", shell, "input_transformers_post"),
             ("IPython's AST transformers", shell, "ast_transformers"),
             ("IPython's cleanup transforms", manager, "cleanup_transforms"),
             ("IPython's line transforms", manager, "line_transforms"),
             ("IPython's token transformers", manager, "token_transformers"),
             ("sys.meta_path", sys, "meta_path"), ("sys.path_hooks", sys, "path_hooks"), ("sys.path", sys, "path")]
    import gc

    found.append(("gc.callbacks", gc, "callbacks"))
    return [(label, owner, attribute) for label, owner, attribute in found
            if isinstance(getattr(owner, attribute, None), list)]


def _handler_tables(shell: Any) -> list[tuple[str, dict[str, Any]]]:
    kernel = getattr(shell, "kernel", None)
    tables = []
    for name in ("shell_handlers", "control_handlers"):
        table = getattr(kernel, name, None)
        if isinstance(table, dict):
            tables.append((f"the kernel's {name}", table))
    return tables


def _watched_instances(shell: Any) -> list[tuple[str, Any]]:
    """The objects a cell's execution and its reported outcome pass through."""
    kernel = getattr(shell, "kernel", None)
    found = [("the IPython shell", shell), ("the kernel", kernel),
             ("the kernel's session", getattr(kernel, "session", None)),
             ("IPython's display publisher", shell.display_pub), ("IPython's display hook", shell.displayhook),
             ("IPython's compiler", shell.compile),
             ("IPython's input transformer manager", shell.input_transformer_manager),
             ("IPython's events", shell.events), ("IPython's display formatter", shell.display_formatter),
             ("sys.stdout", sys.stdout), ("sys.stderr", sys.stderr),
             ("the kernel's iopub socket", getattr(kernel, "iopub_socket", None))]
    return [(label, obj) for label, obj in found if obj is not None]


def _signal_handlers() -> dict[int, Any]:
    handlers = {}
    for signum in signal.valid_signals():
        if signum in (signal.SIGINT, signal.SIGKILL, signal.SIGSTOP):
            continue  # the kernel switches SIGINT's handler around every execution
        try:
            handlers[int(signum)] = signal.getsignal(signum)
        except (OSError, ValueError):
            continue
    return handlers


def _restore_signals(pristine: Mapping[int, Any]) -> list[str]:
    changes = []
    if hasattr(signal, "setitimer"):
        for timer in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF):
            if signal.getitimer(timer) != (0.0, 0.0):
                signal.setitimer(timer, 0)
                changes.append("an interval timer was set")
    for signum, handler in pristine.items():
        try:
            current = signal.getsignal(signum)
        except (OSError, ValueError):
            continue
        if current is not handler and current != handler:
            changes.append(f"the handler of signal {signal.Signals(signum).name} was changed")
            try:
                signal.signal(signum, handler)
            except (OSError, ValueError, TypeError):
                pass
    return changes


def _monitoring_tools() -> dict[int, object]:
    monitoring = getattr(sys, "monitoring", None)
    return {tool: monitoring.get_tool(tool) for tool in range(6)} if monitoring else {}


def _restore_monitoring(pristine: Mapping[int, object]) -> list[str]:
    monitoring = getattr(sys, "monitoring", None)
    changes = []
    for tool, owner in pristine.items():
        if monitoring is not None and owner is None and monitoring.get_tool(tool) is not None:
            changes.append(f"sys.monitoring tool {tool} was registered")
            monitoring.set_events(tool, 0)
            monitoring.free_tool_id(tool)
    return changes


# --- arming and running sealed cells -----------------------------------------------------------


def _arm(state: _State, shell: Any) -> None:
    """Import what the tests use and take the pristine snapshot (once, before student code)."""
    import importlib
    import inspect
    import logging
    import traceback

    for name in state.preimport:
        try:
            importlib.import_module(name)
        except Exception:  # a missing module fails the test that imports it, as it would anyway
            continue
    # What the tests import must be what the kernel trusts (see grader_kernel.main): else
    # its checks would be refused as untrusted and every test fail. Modules in the
    # notebook's own folder are the student's, and untrusted by design.
    here = os.path.join(os.path.realpath(os.getcwd()), "")
    elsewhere = {name: os.path.realpath(file) for name in state.preimport
                 if isinstance(file := getattr(sys.modules.get(name), "__file__", None), str)}
    untrusted = [f"{name} ({file})" for name, file in sorted(elsewhere.items())
                 if not file.startswith(state.trusted_paths) and not file.startswith(here)]
    if untrusted:
        raise RuntimeError(f"the tests' modules load from where the grader does not trust: {', '.join(untrusted)}")
    modules = {"inspect": inspect, "traceback": traceback, "logging": logging}
    for module_name, names in _FRAME_EXPORTERS:
        for name in names:
            func = getattr(modules[module_name], name, None)
            if isinstance(func, types.FunctionType):
                state.exporters.add(func.__code__)
    state.shell = shell
    state.snapshot = _Snapshot(shell, state.trusted_paths)


@dataclasses.dataclass
class _Pending:
    """A sealed cell between its opening and its end: what the checks at the end need."""

    nonce: str
    message: dict[str, Any]
    code: types.CodeType
    before: list[str]
    refused_before: list[str]
    bound_before: dict[str, Any]
    imports: dict[str, tuple[str, str | None]]
    path_before: list[str]
    comparer: _Comparer | None
    source: str
    filename: str
    outcome: tuple[str, BaseException | None] | None = None


def _run_sealed(state: _State, event: str, args: tuple[Any, ...]) -> None:
    """One of the three events of a sealed cell (see :mod:`grader_kernel.protocol`).

    *open* (``nonce, ciphertext, tag, box``): open the cell, restore the pristine state,
    compile the cell so that it reports its own outcome, and hand the code back in
    ``box``: the stub runs it. The cell runs after this hook has returned, so no frame
    of the sentinel (nor its key) lies beneath the test while it runs.
    *outcome* (``nonce, exception or None[, value]``): raised by that code, and only
    accepted from it, running in the notebook's namespace.
    *done* (``nonce``): check what changed while the cell ran, and publish the signed verdict.

    The first cell the grader opens, before any notebook cell, is the "arm" cell: it takes
    the pristine snapshot, inside a cell like every later sealed cell.
    """
    try:
        if event == protocol.AUDIT_EVENT:
            if state.snapshot is None:
                _arm_from_cell(state, args)
            else:
                _open(state, args)
        elif event == protocol.OUTCOME_EVENT:
            _outcome(state, args)
        elif event == protocol.DONE_EVENT:
            _done(state, args)
    except Exception as exc:  # a fault of the grader's own: report it, signed, rather than hide it
        nonce = args[0] if args and isinstance(args[0], str) else ""
        _publish(state, nonce, {"outcome": "error", "reason": f"the sentinel failed: {exc!r}"})


def _arm_from_cell(state: _State, args: tuple[Any, ...]) -> None:
    if len(args) != 4 or not isinstance(args[0], str):
        return
    nonce, ciphertext, tag, _ = args
    message = protocol.open_sealed(state.key, nonce, ciphertext, tag)
    if message is None or message.get("kind") != "arm":
        return
    from IPython import get_ipython

    state.used_nonces.add(nonce)
    try:
        _arm(state, get_ipython())
    except Exception as error:  # tell the grader why, signed: its notes then say what to fix
        state.shell = state.shell or get_ipython()
        _publish(state, nonce, {"kind": "arm", "outcome": "error", "reason": f"{type(error).__name__}: {error}"})
        return
    _publish(state, nonce, {"kind": "arm", "outcome": "armed"})


def _open(state: _State, args: tuple[Any, ...]) -> None:
    assert state.snapshot is not None
    if len(args) != 4 or not isinstance(args[0], str) or not isinstance(args[3], list):
        return
    nonce, ciphertext, tag, box = args
    if nonce in state.used_nonces:
        return  # a replayed stub: the grader accepts one verdict per nonce
    state.used_nonces.add(nonce)
    message = protocol.open_sealed(state.key, nonce, ciphertext, tag)
    if message is None:
        _publish(state, nonce, {"outcome": "rejected", "reason": "the sealed cell did not open"})
        return
    for stale in state.shown:  # sources shown in earlier tracebacks: hidden again
        linecache.cache.pop(stale, None)
    state.shown.clear()
    shell = state.shell
    before = state.snapshot.restore() + _restore_pins(state, shell.user_ns)
    vars(builtins)["get_ipython"] = shell.get_ipython
    if state.own_changed:
        before.insert(0, "builtins (or the grader's own code) were changed: "
                         f"{', '.join(sorted(set(state.own_changed)))}")
        state.own_changed = []
    refused_before, state.refused = state.refused, []
    source = str(message.get("source", ""))
    kind = message.get("kind")
    filename = f"<locked cell {message.get('grade_id')}>"
    # Modules written beside the notebook (%%writefile) stay importable, but after the
    # standard library and the installed packages: a student's "array.py" cannot stand in
    # for a module the tests' machinery imports while the cell runs.
    path_before = list(sys.path)
    local = [entry for entry in sys.path if entry in ("", ".") or os.path.realpath(entry) == os.getcwd()]
    sys.path[:] = [entry for entry in sys.path if entry not in local] + local
    tree = ast.parse(shell.transform_cell(source), filename)
    imports = _imported_names(tree)
    comparer = None
    if kind == "test":
        name = f"__grading_equal_{nonce}__"
        tree = _StrictEquality(name).visit(tree)
        comparer = _Comparer(state.trusted_paths)
        shell.user_ns[name] = comparer
    # A cell that awaits at top level is compiled as IPython compiles one: eval() of its
    # code gives a coroutine, which the stub awaits (protocol.stub(awaited=True)).
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT if message.get("awaited") is True else 0
    code = compile(ast.fix_missing_locations(_reporting(tree, nonce)), filename, "exec", flags=flags)
    state.cell_codes = _all_codes(code)
    if comparer is not None:
        comparer.cell_codes = frozenset(state.cell_codes)
    state.pending = _Pending(nonce=nonce, message=message, code=code, before=before, refused_before=refused_before,
                             bound_before=dict(shell.user_ns), imports=imports, path_before=path_before,
                             comparer=comparer, source=source, filename=filename)
    box.append(code)


def _reporting(tree: ast.Module, nonce: str) -> ast.Module:
    """The cell, wrapped so that it reports its outcome (and its last expression's value)
    to the sentinel, then re-raises its exception as the cell would have."""
    body = list(tree.body)
    value: ast.expr = ast.Constant(None)
    cleanup: list[ast.stmt] = []
    if body and isinstance(body[-1], ast.Expr):
        last = body.pop()
        assert isinstance(last, ast.Expr)
        name = f"__grading_value_{nonce}__"
        body.append(ast.Assign(targets=[ast.Name(name, ast.Store())], value=last.value))
        value = ast.Name(name, ast.Load())
        cleanup = [ast.Delete(targets=[ast.Name(name, ast.Del())])]

    def report(*extra: ast.expr) -> ast.stmt:
        audit = ast.Attribute(ast.Call(ast.Name("__import__", ast.Load()), [ast.Constant("sys")], []), "audit",
                              ast.Load())
        return ast.Expr(ast.Call(audit, [ast.Constant(protocol.OUTCOME_EVENT), ast.Constant(nonce), *extra], []))

    error = f"__grading_error_{nonce}__"
    wrapped = ast.Try(
        body=body or [ast.Pass()],
        handlers=[ast.ExceptHandler(type=ast.Name("BaseException", ast.Load()), name=error,
                                    body=[report(ast.Name(error, ast.Load())), ast.Raise()])],
        orelse=[report(ast.Constant(None), value), *cleanup],
        finalbody=[])
    return ast.Module(body=[wrapped], type_ignores=[])


def _outcome(state: _State, args: tuple[Any, ...]) -> None:
    pending = state.pending
    if pending is None or not args or args[0] != pending.nonce:
        return
    caller = sys._getframe(3)  # the cell's code -> this module's hook chain: hook, _run_sealed, _outcome
    if caller.f_code is not pending.code or caller.f_globals is not state.shell.user_ns or pending.outcome is not None:
        state.refused.append("reporting a test's outcome from outside the test (or twice)")
        return
    error = args[1] if len(args) > 1 else None
    if error is None:
        pending.outcome = ("passed", None)
        value = args[2] if len(args) > 2 else None
        if value is not None:
            state.shell.displayhook(value)
    elif isinstance(error, BaseException):
        pending.outcome = ("interrupted" if isinstance(error, KeyboardInterrupt) else "failed", error)


def _done(state: _State, args: tuple[Any, ...]) -> None:
    pending = state.pending
    if pending is None or not args or args[0] != pending.nonce:
        return
    state.pending = None
    state.cell_codes = set()
    user_ns = state.shell.user_ns
    sys.path[:] = pending.path_before
    comparer_name = f"__grading_equal_{pending.nonce}__"
    helper = user_ns.pop(comparer_name, None)
    for name in (f"__grading_value_{pending.nonce}__", f"__grading_error_{pending.nonce}__"):
        user_ns.pop(name, None)
    state.restore_own()
    assert state.snapshot is not None
    during = state.snapshot.restore()
    if helper is not pending.comparer:
        during.append("the grader's equality check was replaced")
    if pending.comparer is not None:
        state.refused += pending.comparer.notes
    if state.own_changed:
        during.insert(0, "builtins (or the grader's own code) were changed: "
                         f"{', '.join(sorted(set(state.own_changed)))}")
        state.own_changed = []
    kind = pending.message.get("kind")
    outcome, error = pending.outcome or ("did not run", None)
    if kind == "test":
        if outcome == "passed":
            during += _check_bindings(user_ns, pending.imports)
    else:
        for name, value in user_ns.items():
            if pending.bound_before.get(name, _MISSING) is not value and not name.startswith("_"):
                state.pins[name] = value
    verdict: dict[str, Any] = {"grade_id": pending.message.get("grade_id"), "kind": kind, "outcome": outcome,
                               "before": pending.before, "refused_before": pending.refused_before,
                               "during": during}
    verdict["refused"], state.refused = state.refused, []
    if error is not None:
        verdict.update(ename=type(error).__name__, evalue=_safe_str(error))
        # IPython shows the traceback once this cell has ended: let it show the lines.
        linecache.cache[pending.filename] = (len(pending.source), None, pending.source.splitlines(keepends=True),
                                             pending.filename)
        state.shown.append(pending.filename)
    _publish(state, pending.nonce, verdict)


class _StrictEquality(ast.NodeTransformer):
    """Rewrites ``a == b`` and ``a != b`` in a test into calls of a :class:`_Comparer`, so
    that an answer cannot pass a test by returning an object whose ``__eq__`` says yes to
    everything."""

    def __init__(self, name: str) -> None:
        self.name = name

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if len(node.ops) != 1 or not isinstance(node.ops[0], (ast.Eq, ast.NotEq)):
            return node
        equal = ast.Constant(isinstance(node.ops[0], ast.Eq))
        call = ast.Call(func=ast.Name(self.name, ast.Load()), args=[node.left, node.comparators[0], equal], keywords=[])
        return ast.copy_location(call, node)


_PLAIN = (int, float, complex, str, bytes, bool, type(None), list, tuple, dict, set, frozenset)


class _Comparer:
    """``left == right`` (``left != right`` when not ``equal``), except that a plain value (a
    number, string, list...) never equals an object whose equality student code wrote, at
    any depth of lists, tuples and dicts. Anything else compares exactly as Python would.

    It sits in the notebook's namespace while a test runs: it holds no secret, only which
    code is trusted, and notes what it caught.
    """

    def __init__(self, trusted_paths: tuple[str, ...]) -> None:
        self.trusted_paths = trusted_paths
        self.cell_codes: frozenset[types.CodeType] = frozenset()
        self.notes: list[str] = []

    def __call__(self, left: object, right: object, equal: bool = True) -> Any:
        if not self._suspect(left, right):
            return left == right if equal else left != right
        strict = self._plain_equal(left, right)
        if strict != bool(left == right):
            self.notes.append(f"an object whose own __eq__ claims it equals {_short(right)} "
                              f"(a {type(left).__qualname__}) was compared in a test")
        return strict is equal

    def _student_equality(self, value: object) -> bool:
        """Whether comparing ``value`` runs an ``__eq__`` (or ``__ne__``) written by student code."""
        for name in ("__eq__", "__ne__"):
            method = getattr(type(value), name, None)
            if isinstance(method, types.FunctionType):
                code = method.__code__
                if code not in self.cell_codes and not code.co_filename.startswith(self.trusted_paths):
                    return True
        return False

    def _suspect(self, left: object, right: object) -> bool:
        if type(left) in (list, tuple) and type(right) is type(left):
            assert isinstance(left, (list, tuple)) and isinstance(right, (list, tuple))
            return any(self._suspect(a, b) for a, b in zip(left, right, strict=False))
        if type(left) is dict and type(right) is dict:
            assert isinstance(left, dict) and isinstance(right, dict)
            return any(self._suspect(left[k], right[k]) for k in left if k in right)
        return ((type(left) in _PLAIN and self._student_equality(right))
                or (type(right) in _PLAIN and self._student_equality(left)))

    def _plain_equal(self, left: object, right: object) -> bool:
        if ((type(left) in _PLAIN and self._student_equality(right))
                or (type(right) in _PLAIN and self._student_equality(left))):
            return False
        if type(left) is type(right) and type(left) in (list, tuple):
            assert isinstance(left, (list, tuple)) and isinstance(right, (list, tuple))
            return len(left) == len(right) and all(a is b or self._plain_equal(a, b)
                                                   for a, b in zip(left, right, strict=True))
        if type(left) is dict and type(right) is dict:
            assert isinstance(left, dict) and isinstance(right, dict)
            return left.keys() == right.keys() and all(left[k] is right[k] or self._plain_equal(left[k], right[k])
                                                       for k in left)
        return bool(left == right)


def _short(value: object) -> str:
    try:
        text = repr(value) if type(value) in _PLAIN else f"a {type(value).__qualname__}"
    except Exception:
        text = "a value"
    return text if len(text) <= 40 else text[:37] + "..."


def _imported_names(tree: ast.Module) -> dict[str, tuple[str, str | None]]:
    """Names a cell binds by importing at its top level: name -> (module, attribute or None)."""
    names: dict[str, tuple[str, str | None]] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = (alias.name, None)
                else:
                    top = alias.name.split(".")[0]
                    names[top] = (top, None)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    names[alias.asname or alias.name] = (node.module, alias.name)
    return names


def _check_bindings(user_ns: dict[str, Any], imports: Mapping[str, tuple[str, str | None]]) -> list[str]:
    """Names a test imported must still be what it imported: an answer that rebinds one
    while the test runs (``globals()['call_with_timeout'] = ...``) has tampered with it."""
    changes = []
    for name, (module_name, attribute) in imports.items():
        module = sys.modules.get(module_name)
        if module is None:
            continue
        expected = module if attribute is None else getattr(module, attribute, _MISSING)
        if expected is _MISSING or (isinstance(expected, types.ModuleType) and attribute is not None):
            continue
        if user_ns.get(name, _MISSING) is not expected:
            changes.append(f"the test's {name} was rebound while it ran")
            user_ns[name] = expected
    return changes


def _restore_pins(state: _State, user_ns: dict[str, Any]) -> list[str]:
    """Put back the names locked helper cells defined, if an answer rebound them."""
    changes = []
    for name, value in state.pins.items():
        if user_ns.get(name, _MISSING) is not value:
            changes.append(f"{name}, defined by a locked cell, was rebound")
            user_ns[name] = value
    return changes


def _all_codes(code: types.CodeType) -> set[types.CodeType]:
    found = {code}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _all_codes(const)
    return found


def _safe_str(value: BaseException) -> str:
    try:
        return str(value)[:2000]
    except Exception:
        return f"<{type(value).__name__} whose message could not be shown>"


def _publish(state: _State, nonce: str, verdict: dict[str, Any]) -> None:
    payload = json.dumps(verdict, sort_keys=True, default=str)
    tag = protocol.sign(state.key, nonce, payload)
    state.shell.display_pub.publish(data={protocol.MIMETYPE: {"nonce": nonce, "payload": payload, "tag": tag}},
                                    metadata={})
