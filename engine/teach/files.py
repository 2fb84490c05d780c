"""Writing files so that nothing is lost: ``atomic_write(path, data)``.

Every file chainrule writes (a model, a drawing, a page, the demo's outputs)
goes through here. The data is written to a temporary file in the same folder,
flushed and fsynced, then moved over the target with ``os.replace``, which is
atomic on POSIX and Windows: a reader sees the old file or the new one, never
a torn one. On any failure (a full disk, Ctrl-C, an error while writing) the
temporary file is removed and the old file is left untouched.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: str | os.PathLike[str], data: str | bytes, *,
                 encoding: str = "utf-8") -> Path:
    """Write ``data`` (text or bytes) to ``path`` atomically and return the path.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write(folder / "note.txt", "hello").read_text()
    'hello'

    Raises:
        TypeError: ``data`` is neither str nor bytes.
        FileNotFoundError / PermissionError / OSError: the folder is missing or
            not writable, or the write failed; the old file (if any) is unchanged.
    """
    path = Path(path)
    if isinstance(data, str):
        payload = data.encode(encoding)
    elif isinstance(data, (bytes, bytearray, memoryview)):
        payload = bytes(data)
    else:
        raise TypeError(f"atomic_write: data must be str or bytes, got {type(data).__name__}")
    folder = path.parent
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():  # keep the old file's permissions, as an in-place write would
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    return path
