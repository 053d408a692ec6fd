"""Atomic writes: a temporary file beside the target, then ``os.replace``.

A process killed while writing (SIGKILL, power loss, a cluster job past its
time limit) leaves only a hidden temporary file ``.<name>.<host>.<pid>.<random>.tmp``
beside the target, never a file under the target's name.  The next write of
the same target removes such leftovers of dead processes on this host.

The file under the target's name gets the permissions of any newly created
file (``0o666`` less the process umask: ``644`` under umask 022), not the
``600`` that :func:`tempfile.mkstemp` gives its temporary file, so colleagues
on a shared server can read the outputs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

_UMASK_LOCK = threading.Lock()

#: A write that fails with less free space than this left on its file system is reported as a full disk:
#: libraries such as netCDF/HDF5 say only "HDF error" when the disk fills.
FULL_DISK_FREE_BYTES = 64 * 2**20


class DiskFullError(OSError):
    """A write failed because the disk (or the user's quota) is full; the message names the path."""


def _host() -> str:
    return socket.gethostname().split(".")[0].replace(".", "_") or "host"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove temporary files left beside ``path`` by dead processes of this host; return them."""
    path = Path(path)
    prefix = f".{path.name}.{_host()}."
    removed = []
    if not path.parent.is_dir():
        return removed
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        rest = tmp.name[len(prefix):] if tmp.name.startswith(prefix) else ""
        pid = rest.split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed.append(tmp)
    return removed


def current_umask() -> int:
    """The process umask, read without changing it where the system says it (Linux ``/proc``)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    with _UMASK_LOCK:  # elsewhere: set and restore at once
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def new_file_mode() -> int:
    """Permission bits a file created now would get: ``0o666`` less the umask."""
    return 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched,
    so a crash never leaves a file that looks complete.  The renamed file has
    the mode :func:`new_file_mode` gives (the umask honoured), whatever the
    writer did to the temporary file's mode.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_host()}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, path)
    except BaseException as exc:
        full = _disk_full(exc, path.parent)  # before the partial file is removed, which frees its space
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if full is not None:
            raise DiskFullError(errno.ENOSPC, f"{path}: the disk is full (ENOSPC, no space left on device): "
                                f"{full}; writing failed with: {exc}. Free space on the file system of "
                                f"{path.parent} (or point 'results' at a larger disk) and run again; nothing "
                                "partial was left under this name") from exc
        raise


def _disk_full(exc: BaseException, folder: Path) -> str | None:
    """Why ``exc``, raised while writing into ``folder``, means a full disk (ENOSPC or quota), or None."""
    seen = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return f"the system reported {errno.errorcode[seen.errno]}"
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, (OSError, RuntimeError)):
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            return None
        if free < FULL_DISK_FREE_BYTES:
            return f"{free} bytes are left free on it"
    return None


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
