"""Landlock (Linux 5.13+): let a process give up access to files, for itself and every
process it starts, without privileges.

The kernel process calls :meth:`Ruleset.restrict_self` before running student code. From
then on it can only read where a rule allows reading, and only write where a rule allows
writing; no later call, exec, fork or ``setsid`` undoes that. Standard library only;
nothing happens on import.
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["READ", "WRITE", "Ruleset", "abi_version"]

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # the same on every architecture
_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15  # ABI 2, 3 and 5

#: Reading a file or folder, and running programs.
READ = EXECUTE | READ_FILE | READ_DIR
#: Everything that changes the file system.
WRITE = (WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_CHAR | MAKE_DIR | MAKE_REG | MAKE_SOCK | MAKE_FIFO
         | MAKE_BLOCK | MAKE_SYM | REFER | TRUNCATE)
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6


def _handled(abi: int) -> int:
    rights = READ | WRITE & ~(REFER | TRUNCATE)
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def _syscall() -> Callable[..., int]:
    function = ctypes.CDLL(None, use_errno=True).syscall
    function.restype = ctypes.c_long
    return function


def abi_version() -> int:
    """The Landlock ABI this kernel offers; 0 where there is none (not Linux, too old, or off)."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "aarch64", "AMD64", "arm64"):
        return 0
    version = _syscall()(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(0, int(version))


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class Ruleset:
    """Rules to be enforced on this process once :meth:`restrict_self` is called."""

    def __init__(self, abi: int) -> None:
        if abi < 1:
            raise OSError("Landlock is not available on this system")
        self.abi = abi
        self.handled = _handled(abi)
        scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0
        attr = _RulesetAttr(self.handled, 0, scoped)
        size = 8 if abi < 4 else 16 if abi < 6 else ctypes.sizeof(_RulesetAttr)  # the struct grew with the ABI
        self._syscall = _syscall()
        fd = self._syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
        if fd < 0:
            error = ctypes.get_errno()
            raise OSError(error, f"landlock_create_ruleset: {os.strerror(error)}")
        self._fd = int(fd)
        self.rules = 0

    def allow(self, path: str | Path, access: int) -> bool:
        """Allow ``access`` to ``path`` and everything beneath it; False if it does not exist."""
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            if not os.path.isdir(f"/proc/self/fd/{fd}"):
                access &= _FILE_RIGHTS
            attr = _PathBeneathAttr(access & self.handled, fd)
            if self._syscall(_SYS_ADD_RULE, ctypes.c_int(self._fd), ctypes.c_int(_RULE_PATH_BENEATH),
                             ctypes.byref(attr), ctypes.c_uint32(0)) < 0:
                error = ctypes.get_errno()
                raise OSError(error, f"landlock_add_rule({path}): {os.strerror(error)}")
        finally:
            os.close(fd)
        self.rules += 1
        return True

    def allow_all_but(self, hidden: Iterable[str | Path], access: int) -> None:
        """Allow ``access`` everywhere except beneath the ``hidden`` folders.

        Landlock only allows, so this allows every entry of every folder above a hidden
        one, except the entry that leads to it; folders made later in those ancestors are
        not covered (the kernel's own folders exist before it starts).
        """
        hidden_paths = {Path(os.path.realpath(path)) for path in hidden} - {Path("/")}
        # A hidden folder inside another adds nothing (and would open its siblings).
        hidden_paths = {h for h in hidden_paths if not any(o in h.parents for o in hidden_paths)}
        chains = {parent for path in hidden_paths for parent in path.parents} | hidden_paths
        for folder in sorted({parent for path in hidden_paths for parent in path.parents}):
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                full = Path(entry.path)
                if full in chains:
                    continue
                # A symbolic link is followed: one that leads to a hidden folder, or above
                # it (pytest's "pytest-current"), would open the hidden folder again.
                target = Path(os.path.realpath(full))
                if any(target == h or target in h.parents or h in target.parents for h in hidden_paths):
                    continue
                self.allow(target, access)

    def restrict_self(self) -> None:
        """Enforce the rules on this thread and everything it starts (call it single-threaded)."""
        from grader_kernel import privileges

        privileges.set_no_new_privs()
        if self._syscall(_SYS_RESTRICT_SELF, ctypes.c_int(self._fd), ctypes.c_uint32(0)) < 0:
            error = ctypes.get_errno()
            raise OSError(error, f"landlock_restrict_self: {os.strerror(error)}")
        os.close(self._fd)
