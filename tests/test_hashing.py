"""recipe.record.hashing: digests equal the reference implementations; the cache skips
unchanged files."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
import xxhash

from recipe.record.hashing import BLOCK_SIZE, FileHasher, hash_file, hash_tree

REFERENCE = {
    "xxh3_128": lambda data: xxhash.xxh3_128(data).hexdigest(),
    "xxh64": lambda data: xxhash.xxh64(data).hexdigest(),
    "sha256": lambda data: hashlib.sha256(data).hexdigest(),
}

SIZES = {
    "empty": 0,
    "small": 17,
    "block_minus_one": BLOCK_SIZE - 1,  # the largest file hashed in one read
    "one_block": BLOCK_SIZE,
    "block_plus_one": BLOCK_SIZE + 1,
    "several_blocks": 2 * BLOCK_SIZE + 12345,
}


@pytest.mark.parametrize("algorithm", sorted(REFERENCE))
@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_hash_file_equals_reference_digest(algorithm: str, size: int, tmp_path: Path) -> None:
    data = os.urandom(size)  # random: a digest of only some blocks would differ
    path = tmp_path / "data.bin"
    path.write_bytes(data)

    assert hash_file(str(path), algorithm) == REFERENCE[algorithm](data)


@pytest.mark.skipif(not os.path.exists("/proc/self/cmdline"), reason="no procfs")
def test_a_file_that_holds_more_than_its_size_says_is_hashed_whole() -> None:
    # procfs files stat as empty and read as text: the one read of a small file asks one
    # byte more than the stat's size, and reads on when it gets it.
    path = "/proc/self/cmdline"
    assert os.stat(path).st_size == 0
    with open(path, "rb") as handle:
        data = handle.read()

    assert data and hash_file(path) == REFERENCE["xxh3_128"](data)


def test_hash_file_defaults_to_xxh3_128(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"recipe")

    assert hash_file(str(path)) == xxhash.xxh3_128(b"recipe").hexdigest()


def test_hash_file_of_a_long_file_depends_on_its_last_block(tmp_path: Path) -> None:
    first, second = tmp_path / "a.bin", tmp_path / "b.bin"
    data = bytearray(BLOCK_SIZE + 10)
    first.write_bytes(bytes(data))
    data[-1] = 1
    second.write_bytes(bytes(data))

    assert hash_file(str(first)) != hash_file(str(second))


def test_unknown_algorithm_raises_key_error(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"x")

    with pytest.raises(KeyError):
        hash_file(str(path), "md5")


@pytest.mark.parametrize("algorithm", sorted(REFERENCE))
def test_file_hasher_returns_digest_and_size(algorithm: str, tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"twelve bytes")

    assert FileHasher(algorithm).hash(str(path)) == (REFERENCE[algorithm](b"twelve bytes"), 12)


def rewrite_keeping_stat(path: Path, data: bytes) -> None:
    """Change the content, same size, and put the old mtime back: invisible to the cache key."""
    before = os.stat(path)
    assert len(data) == before.st_size
    path.write_bytes(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_file_hasher_does_not_reread_an_unchanged_file(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"original")
    hasher = FileHasher()
    first = hasher.hash(str(path))

    rewrite_keeping_stat(path, b"replaced")

    # The cached digest proves the file was not read again.
    assert hasher.hash(str(path)) == first
    assert first[0] == xxhash.xxh3_128(b"original").hexdigest()


def test_file_hasher_rehashes_after_mtime_changes(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"original")
    hasher = FileHasher()
    hasher.hash(str(path))
    rewrite_keeping_stat(path, b"replaced")
    stat = os.stat(path)

    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    assert hasher.hash(str(path)) == (xxhash.xxh3_128(b"replaced").hexdigest(), 8)


def test_file_hasher_rehashes_after_size_changes(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"short")
    hasher = FileHasher()
    hasher.hash(str(path))
    stat = os.stat(path)

    path.write_bytes(b"much longer")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    assert hasher.hash(str(path)) == (xxhash.xxh3_128(b"much longer").hexdigest(), 11)


def test_file_hasher_caches_per_path(tmp_path: Path) -> None:
    first, second = tmp_path / "a.bin", tmp_path / "b.bin"
    first.write_bytes(b"aaaa")
    second.write_bytes(b"bbbb")
    stat = os.stat(first)
    os.utime(second, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size and mtime
    hasher = FileHasher()

    assert hasher.hash(str(first))[0] == xxhash.xxh3_128(b"aaaa").hexdigest()
    assert hasher.hash(str(second))[0] == xxhash.xxh3_128(b"bbbb").hexdigest()


def test_file_hasher_raises_os_error_for_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        FileHasher().hash(str(tmp_path / "missing.bin"))


# -- directories (a zarr store, a folder of documents) ---------------------------------------

def make_store(root: Path) -> Path:
    (root / "c" / "0").mkdir(parents=True)
    (root / "zarr.json").write_text("{}")
    (root / "c" / "0" / "0").write_bytes(b"chunk")
    return root


def test_hash_tree_is_the_digest_of_relative_paths_and_file_digests(tmp_path: Path) -> None:
    store = make_store(tmp_path / "store.zarr")
    expected = xxhash.xxh3_128(
        b"c/0/0\0" + xxhash.xxh3_128(b"chunk").hexdigest().encode() + b"\n"
        + b"zarr.json\0" + xxhash.xxh3_128(b"{}").hexdigest().encode() + b"\n").hexdigest()

    assert hash_tree(str(store)) == (expected, 7)
    assert FileHasher().hash(str(store)) == (expected, 7)


@pytest.mark.parametrize("change", [
    lambda root: (root / "c" / "0" / "0").write_bytes(b"CHUNK"),
    lambda root: (root / "c" / "0" / "0").rename(root / "c" / "0" / "1"),
    lambda root: (root / "c" / "0" / "1").write_bytes(b""),
    lambda root: (root / "zarr.json").unlink(),
], ids=["content", "rename", "new_empty_file", "removed_file"])
def test_hash_tree_changes_with_any_file(change: Any, tmp_path: Path) -> None:
    store = make_store(tmp_path / "store.zarr")
    before = hash_tree(str(store))[0]

    change(store)

    assert hash_tree(str(store))[0] != before


def test_hash_tree_skips_what_is_no_regular_file(tmp_path: Path) -> None:
    store = make_store(tmp_path / "store.zarr")
    before = hash_tree(str(store))
    os.mkfifo(store / "pipe")  # opening it to read would block
    (store / "dangling").symlink_to(tmp_path / "nowhere")

    assert hash_tree(str(store)) == before


def _socket_file(tmp_path: Path) -> str:
    import socket

    path = str(tmp_path / "s.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.close()  # the socket file stays
    return path


@pytest.mark.parametrize(("make", "reason"), [
    (lambda tmp_path: (os.mkfifo(tmp_path / "f.fifo"), str(tmp_path / "f.fifo"))[1], "fifo"),
    (lambda tmp_path: "/dev/null", "device"),
    (_socket_file, "socket"),
], ids=["fifo", "device", "socket"])
def test_what_is_not_a_regular_file_is_never_opened(make: Any, reason: str,
                                                    tmp_path: Path) -> None:
    from recipe.record.hashing import UnhashableFile, hash_error

    path = make(tmp_path)
    for hashing in (lambda: FileHasher().hash(path), lambda: hash_file(path)):
        with pytest.raises(UnhashableFile) as caught:
            hashing()  # a FIFO without a writer would block here if it were opened
        assert hash_error(caught.value) == reason


@pytest.mark.parametrize("size", [10, BLOCK_SIZE + 1], ids=["small", "big"])
def test_a_path_that_became_a_device_after_its_stat_is_not_read_without_end(
        size: int, tmp_path: Path) -> None:
    # The caller's stat found a regular file; by the open the path is /dev/zero (replaced
    # in between). In a process of its own: a hasher that reads on would never return.
    import subprocess
    import sys

    regular = tmp_path / "data.bin"
    regular.write_bytes(b"x" * size)
    code = (
        "import os, sys\n"
        "from recipe.record.hashing import FileHasher, UnhashableFile, hash_error\n"
        "try:\n"
        "    FileHasher().hash('/dev/zero', os.stat(sys.argv[1]))\n"
        "except UnhashableFile as exc:\n"
        "    print(hash_error(exc))\n")
    done = subprocess.run([sys.executable, "-c", code, str(regular)], capture_output=True,
                          text=True, timeout=60)

    assert done.stdout.strip() == "device", done.stderr


def test_hash_errors_are_short_reasons() -> None:
    from recipe.record.hashing import hash_error

    assert hash_error(FileNotFoundError(2, "No such file or directory")) == "vanished"
    assert hash_error(PermissionError(13, "Permission denied")) == "permission denied"
    assert hash_error(OSError(5, "Input/output error")) == "input/output error"
