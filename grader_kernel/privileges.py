"""Linux process controls the grader needs and Python's ``os`` module lacks: prctl options
and capabilities, through ctypes.

Standard library only (the kernel imports it before anything else). Every function
raises :class:`OSError` when the system refuses, and the ``available`` checks say whether
calling is worth it; nothing happens on import.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys

__all__ = [
    "CAP_DAC_READ_SEARCH",
    "available",
    "become",
    "is_child_subreaper",
    "set_child_subreaper",
    "set_dumpable",
    "set_no_new_privs",
    "set_parent_death_signal",
]

_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_SET_KEEPCAPS = 8
_PR_CAPBSET_DROP = 24
_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_RAISE = 2
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_LAST_CAP = 63

#: The capability to read and search any directory, without writing: what an unprivileged
#: kernel keeps when the Python it runs lives in a folder closed to other users.
CAP_DAC_READ_SEARCH = 2


def available() -> bool:
    """Whether these controls exist here (Linux)."""
    return sys.platform.startswith("linux")


@functools.cache
def _libc() -> ctypes.CDLL:
    # The process's own symbols, libc's among them (Linux only calls this), as landlock.py
    # does: ctypes.util.find_library runs `ldconfig -p` in a subprocess at every kernel start.
    return ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    prctl = _libc().prctl
    prctl.restype = ctypes.c_int
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    result = prctl(option, arg2, arg3, arg4, arg5)
    if result < 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl({option}): {os.strerror(error)}")
    return int(result)


def set_child_subreaper(on: bool = True) -> None:
    """Make orphaned descendants of this process its children (not init's), so that a
    process that double-forks or calls ``setsid`` can still be found and killed."""
    _prctl(_PR_SET_CHILD_SUBREAPER, int(on))


def is_child_subreaper() -> bool:
    flag = ctypes.c_int(0)
    _prctl(_PR_GET_CHILD_SUBREAPER, ctypes.addressof(flag))
    return bool(flag.value)


def set_no_new_privs() -> None:
    """No exec can ever give this process or its children more privileges (setuid bits)."""
    _prctl(_PR_SET_NO_NEW_PRIVS, 1)


def set_dumpable(on: bool) -> None:
    """Whether other processes of the same user may read this one's memory (/proc/PID/mem)."""
    _prctl(_PR_SET_DUMPABLE, int(on))


def set_parent_death_signal(signum: int) -> None:
    """Receive ``signum`` when the parent (the grader) dies, instead of running on."""
    _prctl(_PR_SET_PDEATHSIG, signum)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _capset(capabilities: set[int]) -> None:
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for cap in capabilities:
        bit = 1 << (cap % 32)
        data[cap // 32].effective |= bit
        data[cap // 32].permitted |= bit
        data[cap // 32].inheritable |= bit
    if _libc().capset(ctypes.byref(header), data) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"capset: {os.strerror(error)}")


def become(uid: int, gid: int, keep: set[int] | frozenset[int] = frozenset()) -> None:
    """Turn this (root) process into ``uid``/``gid`` with no supplementary groups, keeping
    only the capabilities in ``keep`` (as ambient capabilities, so that they survive exec
    and pass to children), and unable ever to regain the others."""
    for cap in range(_LAST_CAP + 1):
        if cap not in keep:
            try:
                _prctl(_PR_CAPBSET_DROP, cap)
            except OSError:
                break  # past the last capability this kernel knows
    if keep:
        _prctl(_PR_SET_KEEPCAPS, 1)
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if keep:
        _capset(set(keep))
        for cap in keep:
            _prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_RAISE, cap)
