"""Reading a user's configuration file: a regular file only, bounded in size, never blocking.

haresources, ha.cf and authkeys are a few hundred bytes; a reader that accepts anything a path
names would block forever on a FIFO (open waits for a writer, read for data), read a character
device without end (/dev/zero), or hand a parser megabytes of hostile text. So the file is checked
with stat before it is opened (a device is never opened at all), opened with O_NONBLOCK and checked
again with fstat (the path may have been swapped in between), and read up to a limit.
"""

from __future__ import annotations

import errno
import os
import stat

# heartbeat's own files are tiny (the reference SAN's haresources is 300 bytes); 1 MiB leaves room
# for any real configuration while keeping every parser's work bounded.
MAX_BYTES = 1 << 20

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class InputFileError(OSError):
    """A file that cannot be read as configuration text; str() is one line naming the file and why."""

    def __init__(self, path: str, reason: str, code: int = errno.EINVAL) -> None:
        super().__init__(code, reason, path)

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def read_text(path: str, *, limit: int = MAX_BYTES) -> str:
    """The UTF-8 text of the regular file at path, at most limit bytes; InputFileError otherwise."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise InputFileError(path, e.strerror or str(e), e.errno or errno.EIO) from None
    if not stat.S_ISREG(st.st_mode):
        raise InputFileError(path, f"{_kind(st.st_mode)}, not a regular file")
    if st.st_size > limit:
        raise InputFileError(path, f"{st.st_size} bytes, more than the {limit} a configuration file may have",
                             errno.EFBIG)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        raise InputFileError(path, e.strerror or str(e), e.errno or errno.EIO) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputFileError(path, "changed into something other than a regular file while being opened")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as e:
        raise InputFileError(path, e.strerror or str(e), e.errno or errno.EIO) from None
    finally:
        os.close(fd)
    if size > limit:
        raise InputFileError(path, f"grew beyond the {limit} bytes a configuration file may have", errno.EFBIG)
    data = b"".join(chunks)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputFileError(path, f"not UTF-8 text (byte {e.start})") from None
    if "\0" in text:
        raise InputFileError(path, f"binary data (a NUL byte at offset {text.index(chr(0))})")
    return text


def split_lines(text: str) -> list[str]:
    """The lines of text as heartbeat reads them (fgets): split at newlines only, a CR before one dropped.

    str.splitlines() also splits at \\v, \\f, \\x1c-\\x1e, \\x85 and \\u2028, which heartbeat keeps inside
    a line: a name holding one would count as two lines here and one line there."""
    out = text.split("\n")
    if out and out[-1] == "":
        out.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in out]
