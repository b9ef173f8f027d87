"""Content hashes of files, streamed in large blocks, cached by (path, size, mtime_ns)."""

from __future__ import annotations

import os
from stat import S_ISDIR, S_ISREG

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


def _open_without_atime(path: str) -> int:
    """A read-only descriptor that does not update the file's access time: reading a file
    just written would otherwise cost a metadata write (relatime): on ext4 a logged np.save
    cost +126-159 µs with it, +99 µs without (docs/performance.md, item 2). O_NOATIME
    needs the file's owner; others get a plain open."""
    try:
        return os.open(path, os.O_RDONLY | getattr(os, "O_NOATIME", 0))
    except PermissionError:
        return os.open(path, os.O_RDONLY)


def hash_bytes(data: bytes, algorithm: str = "xxh3_128") -> str:
    """Hex digest of `data`, as `hash_file` gives it for a file holding those bytes."""
    digest = _hasher_factory(algorithm)()
    digest.update(data)
    return digest.hexdigest()


def hash_file(path: str, algorithm: str = "xxh3_128") -> str:
    """Hex digest of the file's bytes."""
    digest = _hasher_factory(algorithm)()
    with open(_open_without_atime(path), "rb", buffering=0) as handle:
        if os.fstat(handle.fileno()).st_size <= BLOCK_SIZE:
            # One read: allocating the streaming buffer would cost more than hashing.
            digest.update(handle.readall())
            return digest.hexdigest()
        buffer = bytearray(BLOCK_SIZE)
        view = memoryview(buffer)
        while True:
            count = handle.readinto(buffer)
            if not count:
                break
            digest.update(view[:count])
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

    def hash(self, path: str) -> tuple[str, int]:
        """(hex digest, size in bytes) of the regular file at `path` (of a directory: its
        `hash_tree`, each file through the cache); OSError if unreadable."""
        stat = os.stat(path)
        if S_ISDIR(stat.st_mode):
            return hash_tree(path, self.algorithm, lambda file: self.hash(file)[0])
        key = (path, stat.st_size, stat.st_mtime_ns)
        digest = self._cache.get(key)
        if digest is None:
            digest = hash_file(path, self.algorithm)
            self._cache[key] = digest
        return digest, stat.st_size
