"""Content hashes of files, streamed in large blocks, cached by (path, size, mtime_ns)."""

from __future__ import annotations

import os
from stat import S_ISBLK, S_ISCHR, S_ISDIR, S_ISFIFO, S_ISREG, S_ISSOCK

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# 1 MiB blocks: large enough that per-call overhead vanishes, small enough to stay in L2/L3.
BLOCK_SIZE = 1 << 20


def _hasher_factory(algorithm: str) -> Callable[[], Any]:
    if algorithm == "sha256":
        import hashlib

        return hashlib.sha256
    import xxhash  # lazily: most runs that never log a file never pay for it

    return {"xxh3_128": xxhash.xxh3_128, "xxh64": xxhash.xxh64}[algorithm]


def short_name(text: str) -> str:
    """Eight hex digits naming `text` among the cache's files (xxh32: the recorder's thread
    has xxhash loaded already, where zlib's crc32 cost it a 0.4 ms import)."""
    import xxhash

    return f"{xxhash.xxh32_intdigest(os.fsencode(text)):08x}"


class UnhashableFile(OSError):
    """The path names something whose bytes are not content to hash: a FIFO or pipe, a
    device, a socket. Reading one would block the script (a FIFO waits for a writer), take
    the bytes meant for another reader (/dev/stdout into a pipe) or never end
    (/dev/urandom), so it is never opened for reading; `reason` is the short word a record
    keeps as `hash_error`."""

    def __init__(self, path: str, reason: str) -> None:
        import errno  # here: a run that meets no FIFO or device never imports it (0.1 ms)

        super().__init__(errno.EINVAL, f"not a regular file ({reason})", path)
        self.reason = reason


def kind_of(mode: int) -> str | None:
    """None for a regular file or a directory (content), else why it has none."""
    if S_ISREG(mode) or S_ISDIR(mode):
        return None
    if S_ISFIFO(mode):
        return "fifo"
    if S_ISCHR(mode) or S_ISBLK(mode):
        return "device"
    if S_ISSOCK(mode):
        return "socket"
    return "not a regular file"


def hash_error(exc: OSError) -> str:
    """The short reason a record gives for a file it could not hash."""
    if isinstance(exc, UnhashableFile):
        return exc.reason
    if isinstance(exc, FileNotFoundError):
        return "vanished"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return (exc.strerror or type(exc).__name__).lower()


def _open_for_hashing(path: str) -> int:
    """A read-only descriptor of `path`, which a stat found regular; never blocking.

    O_NONBLOCK: if the path became a FIFO since the stat, the open returns at once instead
    of waiting for a writer. O_NOATIME: reading a file just written would otherwise cost a
    metadata write (relatime): on ext4 a logged np.save cost +126-159 µs with it, +99 µs
    without (docs/performance.md, item 2); it needs the file's owner, others get a plain
    open."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        return os.open(path, flags | getattr(os, "O_NOATIME", 0))
    except PermissionError:
        return os.open(path, flags)


def hash_bytes(data: bytes, algorithm: str = "xxh3_128") -> str:
    """Hex digest of `data`, as `hash_file` gives it for a file holding those bytes."""
    digest = _hasher_factory(algorithm)()
    digest.update(data)
    return digest.hexdigest()


def hash_file(path: str, algorithm: str = "xxh3_128") -> str:
    """Hex digest of the regular file's bytes; `UnhashableFile` for anything else, which is
    never opened (a FIFO's open blocks, a device's bytes never end)."""
    status = os.stat(path)
    _refuse_unless_regular(path, status.st_mode)
    return _hash_regular(path, algorithm, status.st_size)


def _refuse_unless_regular(path: str, mode: int) -> None:
    """`UnhashableFile` for a path whose mode is not a regular file's."""
    if not S_ISREG(mode):
        raise UnhashableFile(path, kind_of(mode) or "directory")


def _hash_regular(path: str, algorithm: str, size: int) -> str:
    """Hex digest of the file at `path`, which a stat a moment ago found regular and
    `size` bytes long. Read through the descriptor, not a file object: FileIO's own fstat
    and seek, its read to find the end and its second "open" audit event were half the
    system calls of hashing a small file just written (np.save's output, every call).

    A small file is read at once, one byte more than it held: if it still holds `size`
    bytes, that is all. Otherwise (it grew, or it is big) the descriptor is checked to be a
    regular file before reading on to the end: a path replaced by a device since the stat
    would be read without end. Checking it first too (an fstat) was 2 µs of each logged
    np.save (docs/performance.md, item 2); what a one-read can take from a path replaced
    meanwhile is bounded by `size` + 1 bytes."""
    digest = _hasher_factory(algorithm)()
    descriptor = _open_for_hashing(path)
    try:
        if size < BLOCK_SIZE:
            data = os.read(descriptor, size + 1)
            digest.update(data)
            if len(data) == size:
                return digest.hexdigest()
        _refuse_unless_regular(path, os.fstat(descriptor).st_mode)
        buffer = bytearray(BLOCK_SIZE)  # the rest, block by block, into one buffer
        view = memoryview(buffer)
        while count := os.readv(descriptor, (buffer,)):
            digest.update(view[:count])
    finally:
        os.close(descriptor)
    return digest.hexdigest()


def hash_tree(root: str, algorithm: str = "xxh3_128",
              file_digest: Callable[[str], str] | None = None) -> tuple[str, int]:
    """(hex digest, total size) of a directory that is one dataset (a zarr store, a
    folder of documents): the digest of "relative path NUL file digest LF" for each regular
    file in order of relative path, so adding, removing, renaming or changing any file
    changes it."""
    files = sorted(os.path.relpath(os.path.join(directory, name), root)
                   for directory, _subdirectories, names in os.walk(root) for name in names)
    digest = _hasher_factory(algorithm)()
    total = 0
    for relative in files:
        path = os.path.join(root, relative)
        try:
            status = os.stat(path)
            if not S_ISREG(status.st_mode):
                continue  # a FIFO or socket inside is no content (and would block)
            one = file_digest(path) if file_digest else hash_file(path, algorithm)
        except OSError:
            continue  # vanished while walking, or a broken link
        digest.update(os.fsencode(relative) + b"\0" + one.encode() + b"\n")
        total += status.st_size
    return digest.hexdigest(), total


class FileHasher:
    """Hashes files for one run; a file unchanged since its last hash is not read again."""

    def __init__(self, algorithm: str = "xxh3_128") -> None:
        self.algorithm = algorithm
        self._cache: dict[tuple[str, int, int], str] = {}

    def hash(self, path: str, stat: os.stat_result | None = None) -> tuple[str, int]:
        """(hex digest, size in bytes) of the regular file at `path` (of a directory: its
        `hash_tree`, each file through the cache); OSError if it cannot be hashed:
        `UnhashableFile` for a FIFO, device or socket, which is never opened. `stat`: the
        caller's `os.stat(path)` of a moment ago, not taken again."""
        if stat is None:
            stat = os.stat(path)
        reason = kind_of(stat.st_mode)
        if reason is not None:
            raise UnhashableFile(path, reason)
        if S_ISDIR(stat.st_mode):
            return hash_tree(path, self.algorithm, lambda file: self.hash(file)[0])
        key = (path, stat.st_size, stat.st_mtime_ns)
        digest = self._cache.get(key)
        if digest is None:
            digest = _hash_regular(path, self.algorithm, stat.st_size)  # regular, as it says
            self._cache[key] = digest
        return digest, stat.st_size
