"""Writing output files safely: whole or not at all, durable, and in the folder asked for.

* :func:`atomic_write` writes a file under a temporary name beside it, flushes
  it to disk, renames it into place and flushes the folder, so a reader (or a
  resumed run after a crash or a lost machine) sees the old file or the whole
  new one, never a half-written or empty one.
* :func:`atomic_folder` does the same for a folder of files (a result set):
  it is written beside the old one and swapped in whole.
* :func:`remove_stale_temporaries` removes the temporary files a killed
  process left behind; a temporary file names its writer (host and process),
  so one still being written by a live process is left alone.
* :func:`safe_file_name` turns a scenario name (free text) into a file name
  that stays in its folder.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp())
>>> atomic_write(folder / "a.txt", lambda p: p.write_text("hello")).read_text()
'hello'
>>> safe_file_name("../../etc/x")
'etc_x'
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

__all__ = ["atomic_write", "atomic_folder", "remove_stale_temporaries", "safe_file_name", "TEMPORARY_SUFFIX"]

#: Suffix of the temporary files :func:`atomic_write` writes.
TEMPORARY_SUFFIX = ".tmp"
#: Age after which a temporary file whose writer cannot be checked (another host,
#: an older naming) is taken for abandoned, in seconds.
STALE_AFTER_SECONDS = 24 * 3600.0

_UNSAFE = re.compile(r"[^\w.-]+")
# .NAME.HOST~PID~RANDOM.tmp, as written by atomic_write
_TEMPORARY = re.compile(r"^\..+\.(?P<host>[A-Za-z0-9_-]*)~(?P<pid>\d+)~[a-z0-9_]+\.tmp$")
# .NAME.RANDOM.tmp, as written before writers were named
_UNNAMED_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def safe_file_name(text: str, default: str = "scenario") -> str:
    """``text`` as one file name: letters (any script), digits, ``_``, ``-`` and inner dots only.

    Separators, ``..``, spaces and other characters become ``_``; leading and
    trailing ``_`` and ``.`` are dropped; the result is at most 100
    characters, or ``default`` when nothing is left.

    Examples
    --------
    >>> safe_file_name("Nice BCG 2016")
    'Nice_BCG_2016'
    >>> safe_file_name("/abs/path"), safe_file_name(".."), safe_file_name("a.b")
    ('abs_path', 'scenario', 'a.b')
    """
    cleaned = _UNSAFE.sub("_", str(text).replace("..", "_"))
    cleaned = re.sub(r"_+", "_", cleaned).strip("_.")[:100].strip("_.")
    return cleaned or default


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:40]


def _temporary_prefix(path: Path) -> str:
    """``.NAME.HOST~PID~``: a temporary beside ``path`` that names its writer."""
    return f".{path.name}.{_host()}~{os.getpid()}~"


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, flush it to disk, then rename it into place.

    The temporary file is ``.NAME.HOST~PID~RANDOM.tmp``: it names its writer,
    so :func:`remove_stale_temporaries` can tell one left by a killed process
    from one still being written.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "table.csv"
    >>> atomic_write(path, lambda p: p.write_text("a,b\\n1,2\\n")) == path
    True
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(path), suffix=TEMPORARY_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        # mkstemp creates the file private (0600); give it the usual umask-based mode
        os.chmod(tmp, 0o666 & ~_umask())
        write(Path(tmp))
        with open(tmp, "rb+") as written:  # the data on disk before the name points at it
            os.fsync(written.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step (Linux ``renameat2`` with ``RENAME_EXCHANGE``).

    Returns False where that is not available (another system, an old kernel
    or C library, a file system without it).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(error, os.strerror(error), str(b))


def atomic_folder(directory: str | Path, write: Callable[[Path], Any]) -> Any:
    """Call ``write(tmp)`` on a new folder beside ``directory``, then put it in ``directory``'s place.

    An existing ``directory`` is replaced as a whole (on Linux in one step, so
    a reader sees the old set or the new one, never a mix) and removed. If
    ``write`` fails, ``directory`` is left as it was. Returns what ``write``
    returns.
    """
    folder = Path(directory)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_temporary_prefix(folder), suffix=TEMPORARY_SUFFIX, dir=folder.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private (0700)
        written = write(tmp)
        if not folder.exists():
            os.replace(tmp, folder)
        elif _exchange(tmp, folder):
            shutil.rmtree(tmp)  # now the old set
        else:
            old = Path(tempfile.mkdtemp(prefix=_temporary_prefix(folder), suffix=TEMPORARY_SUFFIX,
                                        dir=folder.parent))
            os.replace(folder, old)  # an empty folder: replaced by the rename
            try:
                os.replace(tmp, folder)
            except BaseException:
                os.replace(old, folder)
                raise
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_folder(folder.parent)
    return written


def _alive(pid: int) -> bool:
    if os.name != "posix":  # pragma: no cover - signal 0 means something else on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporary files (and folders) of :func:`atomic_write` and :func:`atomic_folder` that no
    live process will finish.

    Only names as these functions write them are looked at. A temporary file is stale when its writer ran on this host and is no
    longer running, or, when that cannot be checked (another host, or a name
    from before writers were named), when it is older than
    :data:`STALE_AFTER_SECONDS`. Returns the paths removed.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> remove_stale_temporaries(folder)
    []
    """
    removed = []
    now = time.time()
    host = _host()
    for candidate in Path(folder).glob(f".*{TEMPORARY_SUFFIX}"):
        match = _TEMPORARY.match(candidate.name)
        if not match and not _UNNAMED_TEMPORARY.match(candidate.name):
            continue  # not ours: never touched
        try:
            if match and match["host"] == host:
                stale = int(match["pid"]) != os.getpid() and not _alive(int(match["pid"]))
            else:
                stale = now - candidate.stat().st_mtime > STALE_AFTER_SECONDS
            if stale:
                if candidate.is_dir():  # an interrupted atomic_folder
                    shutil.rmtree(candidate)
                else:
                    candidate.unlink()
                removed.append(candidate)
        except OSError:  # gone meanwhile, or not ours to remove
            continue
    return removed
