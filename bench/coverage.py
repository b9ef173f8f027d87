"""What recipe sees of real scripts, against the ground truth of strace.

    python bench/coverage.py CASES.json [--mirror DIR] [--keep]

Each case names a public repository, the folders of it a run needs (`dirs`), the folder
it runs in (`cwd`), a script there and its arguments. The folders are unpacked into a
fresh directory twice: once the script runs bare
under `strace -f` (every open, rename and unlink the processes really made), once under
`recipe run` with a temporary RECIPE_HOME. Ground truth is the regular files inside the
unpacked folders (not Python source, not bytecode) that were read, and those written and
still there at the end (renames followed); what recipe recorded is every input/output of
every run the script made (children included). The figures: the share of true reads and
kept writes recorded; every recorded path inside the folders that is not in the truth
(noise); and those recorded outside them (a temp dir the script made, shared memory):
listed, for a reader to judge, not counted. A case's `not_data` globs (with the reason in
`why`) leave a library's own bookkeeping out of the truth, where recipe records the data
instead (joblib's cache metadata beside the cache entry it records).

The repositories come from `--mirror` (bare git mirrors, `DIR/owner+name/repo`, as the
workplace's fetch tool leaves them); nothing of them is kept. Needs strace.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

OPEN = re.compile(r'^(\d+)\s+(?:openat|open|creat)\((?:AT_FDCWD, )?"((?:[^"\\]|\\.)*)"'
                  r'(?:, ([A-Z_|]+))?.*\) = (\d+)')
RENAME = re.compile(r'^(\d+)\s+rename(?:at2?)?\((?:AT_FDCWD, )?"((?:[^"\\]|\\.)*)", '
                    r'(?:AT_FDCWD, )?"((?:[^"\\]|\\.)*)".*\) = 0')
UNLINK = re.compile(r'^(\d+)\s+unlink(?:at)?\((?:AT_FDCWD, )?"((?:[^"\\]|\\.)*)".*\) = 0')
CHDIR = re.compile(r'^(\d+)\s+chdir\("((?:[^"\\]|\\.)*)"\) = 0')


def unpack(mirror: Path, case: dict, into: Path) -> Path:
    repo = mirror / case["repo"].replace("/", "+") / "repo"
    archive = subprocess.run(["git", "-C", str(repo), "archive", "HEAD", *case["dirs"]],
                             check=True, capture_output=True).stdout
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / case["cwd"]


def ground_truth(folder: Path, root: Path, case: dict,
                 timeout: float) -> tuple[set[str], set[str], int]:
    trace = root.parent / f"{root.name}.strace"
    done = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=open,openat,creat,rename,renameat,renameat2,"
         "unlink,unlinkat,chdir", "-o", str(trace), sys.executable, case["script"],
         *case.get("args", [])], cwd=folder, capture_output=True, timeout=timeout)
    reads: set[str] = set()
    writes: set[str] = set()
    cwd = {None: str(folder)}
    for line in trace.read_text(errors="replace").splitlines():
        if match := CHDIR.match(line):
            cwd[match[1]] = os.path.join(cwd.get(match[1], cwd[None]), match[2])
        elif match := OPEN.match(line):
            path = os.path.normpath(os.path.join(cwd.get(match[1], cwd[None]), match[2]))
            flags = match[3] or ""
            if "O_DIRECTORY" in flags:
                continue
            writing = "O_WRONLY" in flags or "O_RDWR" in flags or "O_CREAT" in flags
            (writes if writing else reads).add(path)
        elif match := RENAME.match(line):
            old, new = (os.path.normpath(os.path.join(cwd.get(match[1], cwd[None]), p))
                        for p in (match[2], match[3]))
            if old in writes:
                writes.discard(old)
                writes.add(new)
        elif match := UNLINK.match(line):
            writes.discard(os.path.normpath(os.path.join(cwd.get(match[1], cwd[None]),
                                                         match[2])))
    # a file read and deleted later (a cache entry cleared) was read all the same; a
    # folder opened to be removed (rmtree's os.open) is no file
    folders = {str(parent) for p in reads | writes for parent in Path(p).parents}
    return ({p for p in reads if _is_data(p, root) and p not in folders
             and not os.path.isdir(p)},
            {p for p in writes if _is_data(p, root) and os.path.isfile(p)}, done.returncode)


def _is_data(path: str, root: Path) -> bool:
    inside = path.startswith(str(root) + os.sep)
    source = path.endswith((".py", ".pyc")) or "__pycache__" in path
    return inside and not source


def recorded(folder: Path, root: Path, case: dict,
             timeout: float) -> tuple[set[str], set[str], int]:
    home = root.parent / f"{root.name}.recipe-home"
    env = {**os.environ, "RECIPE_HOME": str(home), "RECIPE_QUIET": "1"}
    done = subprocess.run([sys.executable, "-m", "recipe", "run", case["script"], "--",
                           *case.get("args", [])], cwd=folder, env=env,
                          capture_output=True, timeout=timeout)
    subprocess.run([sys.executable, "-m", "recipe", "db", "repair"], env=env,
                   capture_output=True, timeout=timeout)
    export = subprocess.run([sys.executable, "-m", "recipe", "export"], env=env,
                            capture_output=True, text=True, timeout=timeout)
    runs = json.loads(export.stdout or "[]")
    runs = runs.get("runs", runs) if isinstance(runs, dict) else runs
    inputs = {event["path"] for run in runs for event in run.get("inputs", [])}
    outputs = {event["path"] for run in runs for event in run.get("outputs", [])
               if not event.get("transient")}
    return inputs, {p for p in outputs if os.path.exists(p)}, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", type=Path)
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the unpacked folders")
    parser.add_argument("--work", type=Path, default=Path.home(),
                        help="where to unpack (default: the home directory, where projects "
                             "live; the temp dir is where recipe ignores files by default)")
    options = parser.parse_args()
    cases = json.loads(options.cases.read_text())
    work = Path(tempfile.mkdtemp(prefix="recipe-coverage-", dir=options.work))
    totals = {"reads": [0, 0], "writes": [0, 0], "noise": 0}
    print(f"{'script':52} {'reads':>9} {'writes':>9} noise  exit")
    for number, case in enumerate(cases):
        # both runs in the same place: paths derived from it (a joblib cache) compare
        root = work / str(number)
        folder = unpack(options.mirror, case, root)
        truth_reads, truth_writes, bare_exit = ground_truth(folder, root, case,
                                                            options.timeout)
        bookkeeping = case.get("not_data", [])
        truth_reads, truth_writes = (
            {path for path in paths
             if not any(fnmatch.fnmatchcase(path, glob) for glob in bookkeeping)}
            for paths in (truth_reads, truth_writes))
        shutil.rmtree(root)
        folder = unpack(options.mirror, case, root)
        got_reads, got_writes, exit_code = recorded(folder, root, case, options.timeout)
        hit_reads = len(truth_reads & got_reads)
        hit_writes = len(truth_writes & got_writes)
        extra = (got_reads - truth_reads) | (got_writes - truth_writes)
        noise = {path for path in extra if path.startswith(str(root) + os.sep)}
        totals["reads"][0] += hit_reads
        totals["reads"][1] += len(truth_reads)
        totals["writes"][0] += hit_writes
        totals["writes"][1] += len(truth_writes)
        totals["noise"] += len(noise)
        name = f"{case['repo'].split('/')[-1]}/{case['cwd']}/{case['script']}"[-52:]
        status = "" if exit_code == bare_exit else f" (bare exit {bare_exit})"
        print(f"{name:52} {hit_reads:>4}/{len(truth_reads):<4} "
              f"{hit_writes:>4}/{len(truth_writes):<4} {len(noise):>5}  {exit_code}{status}")
        for path in sorted(truth_reads - got_reads):
            print(f"    missed read  {path.replace(str(root) + os.sep, '')}")
        for path in sorted(truth_writes - got_writes):
            print(f"    missed write {path.replace(str(root) + os.sep, '')}")
        for path in sorted(extra):
            print(f"    {'noise' if path in noise else 'outside':12} {path}")
    reads, writes = totals["reads"], totals["writes"]
    print(f"\n{len(cases)} scripts: reads {reads[0]}/{reads[1]} "
          f"({100 * reads[0] / max(reads[1], 1):.1f}%), kept writes {writes[0]}/{writes[1]} "
          f"({100 * writes[0] / max(writes[1], 1):.1f}%), noise {totals['noise']}")
    if not options.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
