"""The grading kernel's entry point: contain this process, install the sentinel, then run
an ordinary IPython kernel.

The grader (:class:`grader.kernelmanager.SandboxedKernelManager`) starts it as
``python /path/to/grader_kernel/main.py SPEC [ipykernel arguments]`` in place of
``python -m ipykernel_launcher [ipykernel arguments]``, where SPEC is a JSON file in the
kernel's private folder (see :mod:`grader.sandbox`). Before any student code can run it:

1. reads the sentinel's key from the file SPEC names, and deletes it; imports its own
   package from the folder this file is in, and the course's packages from the folders the
   grader resolved (SPEC's ``code``), whatever this Python's path would find: the kernel
   runs, and trusts, exactly the code the grader on the host chose;
2. sets resource limits: no core files, a largest file, an address space per process,
   and a number of processes and threads (per user, so relative to what the user already
   runs, unless it runs as a user of its own);
3. builds the Landlock rules (Linux): write only in the submission's folder and the
   kernel's private folder; read anything except the course folder (the hidden tests,
   the gradebook, other students' work) and the grader's home and temporary folders
   (other copies of the course), where only what this Python needs stays readable;
4. when started as root, becomes the unprivileged user the grader chose, keeping only the
   right to read (not write) closed folders, and only if the Python it runs needs that;
5. enforces the rules, makes itself undumpable (its memory cannot be read by its
   children), installs the sentinel's audit hook and starts the IPython kernel. The
   grader's first cell arms the sentinel (the pristine snapshot), before any notebook cell.

Each step that the platform does not offer is skipped, and the grader is told through
the kernel's start-up log (stderr), which the grader reads into its own log.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import sysconfig
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _log(message: str) -> None:
    print(f"[grader kernel] {message}", file=sys.stderr, flush=True)


def _count_my_tasks() -> int:
    """Processes and threads this user runs now (what RLIMIT_NPROC counts), Linux only."""
    # /proc by hand, not psutil: this runs in the kernel before confinement and the
    # sentinel, where what is imported is kept to the standard library and the code the
    # grader chose (all of it trusted, and kept readable under Landlock); psutil would be
    # one more package to trust there, for a count taken once per kernel.
    me, total = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != me:
                continue
            with open(f"/proc/{entry.name}/status") as status:
                for line in status:
                    if line.startswith("Threads:"):
                        total += int(line.split()[1])
                        break
        except (OSError, ValueError):
            continue
    return total


def _set_limits(spec: dict[str, Any], own_user: bool) -> None:
    try:
        import resource
    except ImportError:
        _log("no resource limits on this platform")
        return
    limits = [(resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, spec["file_bytes"])]
    if hasattr(resource, "RLIMIT_AS") and spec.get("address_space_bytes"):
        limits.append((resource.RLIMIT_AS, spec["address_space_bytes"]))
    if hasattr(resource, "RLIMIT_NPROC") and (own_user or sys.platform.startswith("linux")):
        tasks = spec["max_tasks"] + spec["task_margin"]
        if not own_user:
            # RLIMIT_NPROC counts all of the user's processes and threads: leave room for
            # what the user already runs (the grader, its editor...). Elsewhere than on
            # Linux that count is not at hand, and the watchdog alone enforces the cap.
            tasks += _count_my_tasks()
        limits.append((resource.RLIMIT_NPROC, tasks))
    for kind, value in limits:
        try:
            _, hard = resource.getrlimit(kind)
            if hard != resource.RLIM_INFINITY and value > hard:
                value = hard
            resource.setrlimit(kind, (value, value))
        except (OSError, ValueError) as error:
            _log(f"could not set resource limit {kind}: {error}")


def _needed_paths() -> list[str]:
    """What this Python reads to run a kernel: its interpreter, library and packages."""
    paths = {os.path.realpath(sys.executable), sys.prefix, sys.base_prefix, sys.exec_prefix}
    paths.update(p for p in sys.path if p and os.path.isdir(p))
    return sorted(paths)


def _closed_to_others(paths: Iterable[str]) -> list[str]:
    """The folders among these paths and their parents that other users cannot enter."""
    closed = []
    for path in paths:
        current = Path(os.path.realpath(path))
        for folder in [current, *current.parents]:
            try:
                mode = os.stat(folder).st_mode
            except OSError:
                continue
            if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
                closed.append(str(folder))
                break
    return sorted(set(closed))


def _readable_inside(protected: Sequence[str]) -> list[str]:
    """Folders inside the hidden ones that this Python itself needs: its installation
    (e.g. ~/.pyenv), its environment (a course's ``.venv``) and the packages imported from
    there (``course``)."""
    roots = [Path(os.path.realpath(p)) for p in protected]
    found = set()
    for path in _needed_paths():
        real = Path(os.path.realpath(path))
        if any(real != root and root in real.parents for root in roots):
            found.add(str(real))
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None)
        if not filename:
            continue
        real = Path(os.path.realpath(filename))
        for root in roots:
            if root in real.parents:
                top = root / real.relative_to(root).parts[0]
                found.add(str(top))
    return sorted(found)


def _build_landlock(spec: dict[str, Any]) -> Any:
    from grader_kernel import landlock

    abi = landlock.abi_version()
    if abi < 1:
        _log("Landlock is not available: file access is not restricted (the grader checks the course files instead)")
        return None
    rules = landlock.Ruleset(abi)
    rules.allow_all_but(spec["protected"], landlock.READ)
    for path in _readable_inside(spec["protected"]):
        rules.allow(path, landlock.READ)
    for path in spec["writable"]:
        rules.allow(path, landlock.READ | landlock.WRITE)
    rules.allow("/dev/shm", landlock.READ | landlock.WRITE)  # multiprocessing's semaphores and shared memory
    rules.allow("/dev", landlock.READ | landlock.WRITE_FILE | landlock.IOCTL_DEV)  # /dev/null, /dev/urandom
    return rules


def _load_package(name: str, folder: str) -> None:
    """Import package ``name`` from ``folder``: its submodules come from there too."""
    import importlib.util

    init = os.path.join(folder, "__init__.py")
    found = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[folder])
    if found is None or found.loader is None:
        raise ImportError(f"{name} cannot be imported from {folder}")
    module = importlib.util.module_from_spec(found)
    sys.modules[name] = module
    try:
        found.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise


def trusted_folders(code: dict[str, str]) -> list[str]:
    """Where trusted code lives, resolved, each ending in a separator: the standard library,
    this Python's installed packages, this package, and the course's packages (``code``)."""
    trusted = {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    trusted.add(os.path.dirname(os.path.realpath(__file__)))
    trusted.update(code.values())
    return sorted(os.path.join(os.path.realpath(p), "") for p in trusted if p)


def _inside(path: str, folders: Iterable[str]) -> bool:
    return any(os.path.join(path, "").startswith(os.path.join(folder, "")) for folder in folders)


def _resolve_code(spec: dict[str, Any], private: str) -> dict[str, str]:
    """The packages to load and trust besides the standard library and installed packages:
    those the grader resolved (SPEC's ``code``), then those of the tests' modules that this
    Python finds elsewhere (an editable install of its own), by their real locations.

    Never a folder a student can write: the kernel's own folders, and the temporary folders
    anyone can write (a package found there is left to load untrusted, and arming says so).
    """
    import importlib.util

    writable = [os.path.realpath(p) for p in (*spec.get("writable", []), private, "/tmp", "/var/tmp", "/dev/shm")]
    code: dict[str, str] = {}
    for name, folder in spec.get("code", {}).items():
        real = os.path.realpath(folder)
        if _inside(real, [os.path.realpath(p) for p in (*spec.get("writable", []), private)]):
            _log(f"not trusting {name} in {real}: the notebook can write there")
            continue
        code[name] = real
    trusted = tuple(trusted_folders(code))
    for name in sorted({module.split(".")[0] for module in spec.get("preimport", [])} - set(code)):
        if name in sys.builtin_module_names or name in sys.stdlib_module_names:
            continue
        try:
            found = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if found is None:
            continue  # a module the notebook writes, or missing: its test fails, as it would anyway
        locations = list(found.submodule_search_locations or [])
        where = os.path.realpath(locations[0] if len(locations) == 1 else found.origin or "")
        if os.path.join(where, "").startswith(trusted):
            continue
        if len(locations) == 1 and not _inside(where, writable):
            code[name] = where
        else:
            # Only a package's own folder is trusted, never the folder a lone module sits in.
            why = "a folder anyone can write" if _inside(where, writable) else "outside any package"
            _log(f"the tests import {name} from {where} ({why}): not trusted")
    return code


def _prepare(spec_path: str) -> tuple[dict[str, Any], list[str]]:
    """Everything before the kernel starts; the key stays inside the sentinel's hook."""
    with open(spec_path) as file:
        spec: dict[str, Any] = json.load(file)
    with open(spec["key_file"], "rb") as file:
        key = file.read()
    os.unlink(spec["key_file"])
    code = _resolve_code(spec, os.path.dirname(os.path.realpath(spec_path)))
    for name, folder in code.items():
        # Before Landlock is built: what is imported now stays readable (_readable_inside).
        _load_package(name, folder)
    linux = sys.platform.startswith("linux")
    uid = spec.get("uid")
    own_user = uid is not None and hasattr(os, "geteuid") and os.geteuid() == 0
    _set_limits(spec, own_user)
    rules = _build_landlock(spec) if linux and spec.get("landlock", True) else None
    if own_user:
        from grader_kernel import privileges

        assert uid is not None
        keep: set[int] = set()
        closed = _closed_to_others([*_needed_paths(), os.getcwd()])
        if closed:
            # The interpreter or its packages sit in a folder other users cannot enter
            # (e.g. /root/.pyenv): keep the right to read and search, never to write.
            keep.add(privileges.CAP_DAC_READ_SEARCH)
            _log(f"running as uid {uid} with the right to read closed folders ({', '.join(closed)})")
        else:
            _log(f"running as uid {uid}")
        privileges.become(int(uid), int(spec["gid"]), keep)
    if rules is not None:
        rules.restrict_self()
    if linux:
        from grader_kernel import privileges

        privileges.set_dumpable(False)
    trusted_paths = trusted_folders(code)
    from grader_kernel import sentinel

    sentinel.install(key, trusted_paths, spec.get("preimport", []))
    return spec, trusted_paths


def main(argv: list[str]) -> None:
    """``argv``: the spec file, then the arguments for IPython's kernel application."""
    here = os.path.dirname(os.path.realpath(__file__))
    if sys.path and os.path.realpath(sys.path[0]) == here:
        del sys.path[0]  # this folder is not a place to import from
    _load_package("grader_kernel", here)  # this very grader's, not whatever the path finds
    spec, _ = _prepare(argv[0])
    import importlib.util

    launcher = importlib.util.find_spec("ipykernel_launcher")
    sys.argv = [launcher.origin if launcher and launcher.origin else "ipykernel_launcher", *argv[1:]]
    # No debugger in a grading kernel: nobody attaches one, and ipykernel imports debugpy
    # (0.15 CPU s of the 1.0 s a kernel takes to start and grade an empty notebook) only to
    # offer one. Without it, ipykernel runs as when debugpy is not installed.
    sys.modules.setdefault("debugpy", None)  # type: ignore[arg-type]
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    # Plain tracebacks, as Python prints them: the same frames and lines as IPython's
    # default (Context), which parses every source file in a traceback (stack_data) to show
    # the lines around each frame. A hidden test fails through course.checks and the grader's
    # own cells, so that cost a blank notebook's kernel 0.65 CPU s, 40% of its CPU.
    app.initialize(["--InteractiveShell.xmode=Plain", *argv[1:]])
    del spec
    app.start()


if __name__ == "__main__":
    main(sys.argv[1:])
