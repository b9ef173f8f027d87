"""Item 14: the team store on PostgreSQL with a million runs (issue 16).

A server of Debian's `postgresql` package is started in a temporary directory (the test
suite's `PostgresServer`, conftest.py: fsync off, which only flatters writes); the runs of
`storegen.make_run` (chains 5 deep) go in through COPY (`PostgresStore.copy_in`). Then,
as subprocesses against the server, median of `--reps`: `recipe search NAME`, by content
hash, `runs --where 'x>=5' --limit 50`, `lineage` of a file 5 runs deep; the GUI's list
(first, 200th and last page, a search, a filter) and a run's page over HTTP; and a trivial
recorded run with the store on the server beside the same run with an empty local TinyDB
store (the script never waits on the network).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from common import (
    PYTHON,
    clean_env,
    median,
    ms,
    print_table,
    recipe_command,
    spread,
    temp_dir,
    timed,
    verdict,
)
from storegen import input_name, make_run

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # conftest.py's server

TARGETS_S = {"search": 0.100, "search by hash": 0.100, "runs --where": 0.200,
             "lineage": 0.200, "gui run": 0.300,  # and every page of the runs list:
             **{name: 0.300 for name in ("gui list", "gui page 200", "gui last page",
                                         "gui search", "gui failed")}}
CHAIN = 5


def generated(count: int, seed: int = 1) -> Any:
    """The records of storegen's runs as a merge stores them (events folded in)."""
    rng = random.Random(seed)
    upstream = None
    for index in range(count):
        if index % CHAIN == 0:
            upstream = None
        record, events = make_run(index, rng, upstream)
        upstream = next(event for event in events if event["kind"] == "output")
        record["inputs"], record["outputs"] = [], []
        for event in events:
            kind = event.pop("kind")
            record[kind + "s"].append(event)
        yield record


def postgres(args: argparse.Namespace) -> dict[str, Any]:
    from conftest import PostgresServer, _binaries
    from recipe import config
    from recipe.store.postgres import PostgresStore

    bindir = _binaries()
    if bindir is None:
        raise RuntimeError("no PostgreSQL server binaries: apt-get install postgresql")
    results: dict[str, Any] = {"runs": args.runs, "reps": args.reps}
    with temp_dir("postgres") as root:
        root.chmod(0o755)  # the server runs as another user
        server = PostgresServer(bindir, root / "server")
        try:
            url = server.url(server.create_database())
            home = root / "home"
            env = clean_env(RECIPE_HOME=str(home), RECIPE_STORE_URL=url)
            store = PostgresStore(config.defaults(), url=url)
            started = time.perf_counter()
            print(f"loading {args.runs:,} runs into PostgreSQL ...", flush=True)
            last = [started]

            def progress(done: int) -> None:
                if time.perf_counter() - last[0] > 30:
                    last[0] = time.perf_counter()
                    print(f"  ... {done:,} runs in {last[0] - started:.0f} s", flush=True)

            store.copy_in(generated(args.runs), batch=10_000, progress=progress)
            with store._cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
                cursor.execute("SELECT pg_database_size(current_database())")
                results["database_bytes"] = cursor.fetchone()[0]
            results["load_s"] = time.perf_counter() - started
            print(f"loaded in {results['load_s']:.0f} s; "
                  f"{results['database_bytes'] / 1e9:.1f} GB", flush=True)
            results["cli"] = _commands(args, root, env, store, server.url(
                server.create_database()))
            results["gui"] = _gui(args, root, env, store)
            results["run_cost"] = _run_cost(args, root, env)
            store.close()
        finally:
            server.stop()
    return results


def _commands(args: argparse.Namespace, root: Path, env: dict[str, str],
              store: Any, empty_url: str) -> dict[str, Any]:
    middle = args.runs // 2
    with store._cursor() as cursor:
        cursor.execute("SELECT hash FROM files WHERE basename = %s", (input_name(middle, 1),))
        digest = cursor.fetchone()[0]
        # The last output of the last whole chain: its lineage is CHAIN runs deep.
        last = (args.runs // CHAIN) * CHAIN - 1
        cursor.execute("SELECT path FROM files WHERE kind = 'output' AND path LIKE %s "
                       "ORDER BY path LIMIT 1", (f"%/run_{last:06d}/%",))
        deepest = cursor.fetchone()[0]
    commands = {"search": ["search", input_name(middle, 0)],
                "search by hash": ["search", digest],
                "runs --where": ["runs", "--where", "x>=5", "--limit", "50"],
                "lineage": ["lineage", deepest]}
    # The same questions through the API the commands call: what the store answers in,
    # without the start-up of a Python process that imports click and psycopg.
    from recipe.provenance import graph
    from recipe.store.query import RunQuery, Search

    def search(term: str) -> list[dict[str, Any]]:
        found = store.find(RunQuery(search=Search(term, algorithms=store.hash_algorithms())))
        assert found, term
        return found

    calls = {"search": lambda: search(input_name(middle, 0)),
             "search by hash": lambda: search(digest),
             "runs --where": lambda: store.find(RunQuery(where=["x>=5"], limit=50)),
             "lineage": lambda: graph.lineage(store, deepest, graph.UP, None)}
    answers: dict[str, list[float]] = {name: [] for name in calls}
    walls: dict[str, list[float]] = {name: [] for name in commands}
    empty: dict[str, list[float]] = {name: [] for name in commands}
    empty_env = dict(env, RECIPE_STORE_URL=empty_url)
    for rep in range(-1, args.reps):  # -1: warm-up
        for name, argv in commands.items():
            started = time.perf_counter()
            calls[name]()
            answer = time.perf_counter() - started
            elapsed, result = timed(recipe_command() + argv, cwd=root, env=env)
            if result.returncode != 0:
                raise RuntimeError(f"{name}: exit {result.returncode}\n{result.stderr}")
            if name == "lineage" and result.stdout.count("written by") < CHAIN:
                raise RuntimeError(f"lineage not {CHAIN} deep:\n{result.stdout}")
            nothing, _ = timed(recipe_command() + argv, cwd=root, env=empty_env)
            if rep >= 0:
                answers[name].append(answer)
                walls[name].append(elapsed)
                empty[name].append(nothing)
    rows, found = [], {}
    for name, argv in commands.items():
        value, target = median(answers[name]), TARGETS_S[name]
        found[name] = {"median_s": value, "samples_s": answers[name], "pass": value < target,
                       "command_median_s": median(walls[name]),
                       "empty_database_command_median_s": median(empty[name])}
        rows.append(("recipe " + " ".join(argv), ms(value),
                     "-".join(ms(v) for v in spread(answers[name])), f"< {target * 1000:g}",
                     verdict(value < target), ms(median(walls[name])), ms(median(empty[name]))))
    print_table(f"14a. {args.runs:,} runs on PostgreSQL: the store's answer (the API the "
                f"command calls), ms, median of {args.reps}; and the whole command",
                ("what", "answer", "p25-p75", "target", "verdict", "command",
                 "command, empty db"), rows)
    return found


def _gui(args: argparse.Namespace, root: Path, env: dict[str, str],
         store: Any) -> dict[str, Any]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with open(root / "gui.log", "wb") as log:
        server = subprocess.Popen(recipe_command() + ["gui", "--no-browser", "--port", "0"],
                                  env=env, cwd=root, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=log)
    try:
        base = server.stdout.readline().decode().strip().rstrip("/")
        newest = json.loads(opener.open(f"{base}/runs.json", timeout=120).read())
        run_id = newest["runs"][0]["id"]
        last = newest["pages"]
        pages = {  # name: (what the report says, URL)
            "gui list": ("GET / (first page)", f"{base}/"),
            "gui page 200": ("GET /?page=200", f"{base}/?page=200"),
            "gui last page": ("GET /?page=LAST", f"{base}/?page={last}"),
            "gui search": ("GET /?q=NAME (path search)",
                           f"{base}/?q={input_name(args.runs // 2, 0)}"),
            "gui failed": ("GET /?status=failed", f"{base}/?status=failed"),
            "gui run": ("GET /run/ID", f"{base}/run/{run_id}")}
        samples: dict[str, list[float]] = {name: [] for name in pages}
        for rep in range(-1, args.reps):
            for name, (_, url) in pages.items():
                started = time.perf_counter()
                opener.open(url, timeout=120).read()
                if rep >= 0:
                    samples[name].append(time.perf_counter() - started)
    finally:
        server.terminate()
        server.wait()
    return _report(f"14b. recipe gui over {args.runs:,} runs on PostgreSQL (HTTP on "
                   f"loopback), ms, median of {args.reps}", samples,
                   {name: label for name, (label, _) in pages.items()})


def _run_cost(args: argparse.Namespace, root: Path, env: dict[str, str]) -> dict[str, Any]:
    """A trivial recorded run, the store on the server against a fresh local one,
    alternated: exit times (the merge after it is detached either way)."""
    script = root / "recorded.py"
    script.write_text("import recipe\n\nx = 1\n")
    local = clean_env(RECIPE_HOME=str(root / "local-home"))
    samples: dict[str, list[float]] = {"server": [], "local TinyDB": []}
    for rep in range(-2, args.reps * 3):
        for name, run_env in (("server", env), ("local TinyDB", local)):
            elapsed, _ = timed([PYTHON, str(script)], cwd=root, env=run_env)
            if rep >= 0:
                samples[name].append(elapsed)
    server, tiny = median(samples["server"]), median(samples["local TinyDB"])
    rows = [(name, ms(median(values)), "-".join(ms(v) for v in spread(values)))
            for name, values in samples.items()]
    print_table(f"14c. a trivial recorded run, wall ms to exit, median of {args.reps * 3}",
                ("store", "median", "p25-p75"), rows)
    return {"server_s": server, "local_s": tiny, "difference_ms": (server - tiny) * 1000,
            "samples_s": samples}


def _report(title: str, samples: dict[str, list[float]], labels: dict[str, str]
            ) -> dict[str, Any]:
    rows, found = [], {}
    for name, values in samples.items():
        value, target = median(values), TARGETS_S[name]
        p25, p75 = spread(values)
        rows.append((labels[name], ms(value), f"{ms(p25)}-{ms(p75)}",
                     f"< {target * 1000:g}", verdict(value < target)))
        found[name] = {"median_s": value, "samples_s": values, "pass": value < target}
    print_table(title, ("what", "median", "p25-p75", "target", "verdict"), rows)
    return found
