"""A kernel manager that starts the grading kernel (:mod:`grader_kernel.main`)
instead of IPython's launcher, contained as its :class:`~grader.sandbox.KernelFiles`
say."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import Type

import grader_kernel
from grader.config import mixed_installation
from grader.sandbox import KernelFiles

__all__ = ["SEND_SECONDS", "BoundedKernelClient", "SandboxedKernelManager", "check_installation", "wrap_command"]

# The kernel's entry point, run by its file path (not ``-m``, which would search the
# submission's folder first): main.py of the very grader_kernel package this process
# imported, whose protocol seals the cells. Not the folder beside grader/: nbgrader puts
# the folder it starts in first on sys.path, so grader/ and grader_kernel/ may come from
# different places (a course folder with an older grader/ beside an installed grader).
KERNEL_MAIN = str(Path(grader_kernel.__file__ or "").resolve().parent / "main.py")


def check_installation() -> None:
    """Refuse to grade with a grader/ and a grader_kernel/ from two different copies of the
    course (:func:`grader.config.mixed_installation`)."""
    problem = mixed_installation()
    if problem:
        raise ImportError(problem)


check_installation()
_LAUNCHERS = ("ipykernel_launcher", "ipykernel")


def wrap_command(cmd: list[str], files: KernelFiles) -> list[str] | None:
    """``cmd`` (``python -m ipykernel_launcher ...``) rewritten to start the grading kernel
    from the same Python, or None if it is not an IPython kernel command."""
    for index in range(len(cmd) - 1):
        if cmd[index] == "-m" and cmd[index + 1] in _LAUNCHERS:
            return [*cmd[:index], KERNEL_MAIN, str(files.spec), *cmd[index + 2:]]
    return None


# How long a message to the kernel may wait to be queued. A socket connected to a kernel
# queues up to a thousand messages whether or not the kernel reads them, so a send does not
# wait, but for one case: the port is held by a socket of another kind (another kernel's,
# when two gradings picked the same free port at once), which refuses the connection.
# jupyter_client sends in the grading's own thread, where no asyncio bound can fire, and
# without this a send to such a port waited for ever.
SEND_SECONDS = 10


class _BoundedSends:
    """Sockets to the kernel whose sends raise :class:`zmq.Again` after SEND_SECONDS."""

    def _create_connected_socket(self, channel: str, identity: bytes | None = None) -> zmq.Socket:
        sock = super()._create_connected_socket(channel, identity)  # type: ignore[misc]
        sock.sndtimeo = SEND_SECONDS * 1000
        return sock


class BoundedKernelClient(_BoundedSends, AsyncKernelClient):
    """The grader's kernel client, its sends bounded."""


# The longest Unix socket path, less room for the "-N" jupyter_client appends to each
# socket's prefix (sun_path holds 108 bytes on Linux, 104 on macOS, with the final NUL).
_SOCKET_PATH_MAX = 100


class SandboxedKernelManager(_BoundedSends, AsyncKernelManager):
    """Starts the kernel through :mod:`grader_kernel.main` when ``files`` is set."""

    # Its clients' sends are bounded, as are its own (shutdown requests on the control port).
    client_factory = Type(BoundedKernelClient, klass=AsyncKernelClient)
    files: KernelFiles | None = None
    wrapped: bool = False

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        self.wrapped = False
        if self.files is None:
            return cmd
        wrapped = wrap_command(cmd, self.files)
        if wrapped is None:
            self.log.warning("The kernel %s is not an IPython kernel: it runs without the grading sandbox", cmd)
            return cmd
        # The kernel may run as another user, who cannot read the grader's connection file:
        # give it a copy in its private folder.
        connection = os.path.realpath(self.connection_file)
        shutil.copy(connection, self.files.connection_copy)
        owner = os.stat(self.files.folder)
        if hasattr(os, "chown") and owner.st_uid != os.getuid():
            os.chown(self.files.connection_copy, owner.st_uid, owner.st_gid)
        self.wrapped = True
        return [str(self.files.connection_copy) if arg == connection else arg for arg in wrapped]

    def use_ipc(self, folder: Path) -> bool:
        """Talk to the kernel over Unix sockets in ``folder`` (ZeroMQ's ipc transport), not
        loopback TCP ports (why: ``HardenedExecute.kernel_transport``): True if it will, False
        (TCP) where ZeroMQ has no ipc or the path is too long. Call before the kernel starts."""
        prefix = str(folder / "kernel")
        if not zmq.has("ipc") or len(os.fsencode(prefix)) > _SOCKET_PATH_MAX:
            return False
        self.transport = "ipc"
        self.ip = prefix
        self.cache_ports = False
        return True

    @property
    def kernel_pid(self) -> int | None:
        """The kernel process's pid, while it has one."""
        provisioner = self.provisioner
        return getattr(provisioner, "pid", None) if provisioner is not None else None


