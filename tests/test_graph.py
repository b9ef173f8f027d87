"""recipe.provenance.graph: lineage walks over hand-built run summaries, and the Checker behind
`recipe status` over real files in tmp_path. Also query.code_difference (`recipe diff`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import recipe
from recipe import config
from recipe.provenance.graph import (
    DOWN,
    UP,
    Checker,
    Graph,
    latest_outputs,
    lineage,
    shown,
    to_dot,
    to_text,
)
from recipe.record.hashing import FileHasher
from recipe.store import open_store, query

Run = dict[str, Any]

H_RAW, H_DATA, H_MODEL, H_GRAPH = "a1" * 16, "b2" * 16, "c3" * 16, "d4" * 16


def when(minute: int) -> str:
    return f"2024-03-01T12:{minute:02d}:00+00:00"


def files(*pairs: tuple[str, str | None]) -> list[dict[str, Any]]:
    return [{"path": path, "hash": digest, "hash_algorithm": "xxh3_128" if digest else None}
            for path, digest in pairs]


def summary(run_id: str, script: str, minute: int, *, inputs: tuple = (), outputs: tuple = (),
            status: str = "completed", **extra: Any) -> Run:
    """A run summary as Store.summaries gives it; ids are padded to 32 hex digits."""
    return {"id": run_id.ljust(32, "0"), "script": script, "start": when(minute),
            "status": status, "inputs": files(*inputs), "outputs": files(*outputs), **extra}


def rid(short: str) -> str:
    return short.ljust(32, "0")


def chain() -> list[Run]:
    """prepare (12:01) raw -> data; train (12:02) data -> model; plot (12:03) model -> graph."""
    return [
        summary("aaaa01", "/p/prepare.py", 1, inputs=[("/p/raw.txt", H_RAW)],
                outputs=[("/p/data.npy", H_DATA)]),
        summary("bbbb02", "/p/train.py", 2, inputs=[("/p/data.npy", H_DATA)],
                outputs=[("/p/model.npy", H_MODEL)]),
        summary("cccc03", "/p/plot.py", 3, inputs=[("/p/model.npy", H_MODEL)],
                outputs=[("/p/graph.png", H_GRAPH)]),
    ]


def run_ids(tree: dict[str, Any]) -> list[str]:
    """Every run id in the tree, depth first, with `*` after a run marked seen."""
    found = []
    for run in tree["runs"]:
        found.append(run["id"][:6] + ("*" if run.get("seen") else ""))
        for child in run["files"]:
            found.extend(run_ids(child))
    return found


def version(path: str, digest: str | None) -> dict[str, Any]:
    return {"path": path, "hash": digest}


# -- walks ------------------------------------------------------------------------------


def test_walk_up_from_the_last_output_is_the_whole_chain_nested() -> None:
    graph = Graph(chain())
    tree = graph.walk(version("/p/graph.png", H_GRAPH), UP)
    assert tree == {"path": "/p/graph.png", "hash": H_GRAPH, "runs": [{
        "id": rid("cccc03"), "script": "/p/plot.py", "start": when(3), "status": "completed",
        "relation": "wrote", "files": [{"path": "/p/model.npy", "hash": H_MODEL, "runs": [{
            "id": rid("bbbb02"), "script": "/p/train.py", "start": when(2),
            "status": "completed", "relation": "wrote", "files": [{
                "path": "/p/data.npy", "hash": H_DATA, "runs": [{
                    "id": rid("aaaa01"), "script": "/p/prepare.py", "start": when(1),
                    "status": "completed", "relation": "wrote", "files": [
                        {"path": "/p/raw.txt", "hash": H_RAW, "runs": []}]}]}]}]}]}]}


def test_walk_down_from_the_first_input_reaches_every_later_output() -> None:
    tree = Graph(chain()).walk(version("/p/raw.txt", H_RAW), DOWN)
    assert run_ids(tree) == ["aaaa01", "bbbb02", "cccc03"]
    prepare = tree["runs"][0]
    assert prepare["relation"] == "read"
    assert [f["path"] for f in prepare["files"]] == ["/p/data.npy"]
    plot = prepare["files"][0]["runs"][0]["files"][0]["runs"][0]
    assert plot["files"] == [{"path": "/p/graph.png", "hash": H_GRAPH, "runs": []}]


def test_walk_from_the_middle_goes_only_one_way() -> None:
    graph = Graph(chain())
    assert run_ids(graph.walk(version("/p/model.npy", H_MODEL), UP)) == ["bbbb02", "aaaa01"]
    assert run_ids(graph.walk(version("/p/model.npy", H_MODEL), DOWN)) == ["cccc03"]


def test_an_input_is_explained_only_by_a_writer_that_started_before_the_reader() -> None:
    later = summary("dddd09", "/p/prepare.py", 9, inputs=[("/p/raw.txt", H_RAW)],
                    outputs=[("/p/data.npy", H_DATA)])  # the same content, written again later
    graph = Graph([*chain(), later])
    # train (12:02) read data.npy before `later` (12:09) wrote it: only prepare explains it
    assert run_ids(graph.walk(version("/p/model.npy", H_MODEL), UP)) == ["bbbb02", "aaaa01"]
    # ... but the file itself was written by both, oldest first
    assert run_ids(graph.walk(version("/p/data.npy", H_DATA), UP)) == ["aaaa01", "dddd09"]


def test_an_output_only_feeds_runs_that_started_after_its_writer() -> None:
    early = summary("eeee00", "/p/plot.py", 0, inputs=[("/p/model.npy", H_MODEL)],
                    outputs=[("/p/early.png", "e5" * 16)])  # read that content before train
    graph = Graph([*chain(), early])
    # down from data: train wrote the model at 12:02, so the 12:00 reader is not fed by it
    assert run_ids(graph.walk(version("/p/data.npy", H_DATA), DOWN)) == ["bbbb02", "cccc03"]
    # from the model content itself, every reader counts, oldest first
    assert run_ids(graph.walk(version("/p/model.npy", H_MODEL), DOWN)) == ["eeee00", "cccc03"]


def test_a_run_that_started_at_the_same_time_is_neither_before_nor_after() -> None:
    same = summary("ffff02", "/p/other.py", 2, inputs=[("/p/model.npy", H_MODEL)],
                   outputs=[("/p/other.txt", "f6" * 16)])
    graph = Graph([*chain(), same])
    assert "ffff02" not in run_ids(graph.walk(version("/p/data.npy", H_DATA), DOWN))


@pytest.mark.parametrize(("depth", "expected"), [
    (1, ["cccc03"]), (2, ["cccc03", "bbbb02"]), (3, ["cccc03", "bbbb02", "aaaa01"]),
    (10, ["cccc03", "bbbb02", "aaaa01"]), (None, ["cccc03", "bbbb02", "aaaa01"]),
])
def test_depth_counts_runs_from_the_start(depth: int | None, expected: list[str]) -> None:
    tree = Graph(chain()).walk(version("/p/graph.png", H_GRAPH), UP, depth)
    assert run_ids(tree) == expected


def test_depth_one_still_lists_the_files_the_run_read() -> None:
    tree = Graph(chain()).walk(version("/p/graph.png", H_GRAPH), UP, 1)
    [plot] = tree["runs"]
    assert plot["files"] == [{"path": "/p/model.npy", "hash": H_MODEL, "runs": [],
                              "more": True}]  # the walk stopped where train.py wrote it


def diamond() -> list[Run]:
    """split (12:01) writes a and b; join (12:02) reads both, writes c."""
    return [
        summary("aaaa01", "/p/split.py", 1, inputs=[("/p/in.txt", H_RAW)],
                outputs=[("/p/a.txt", H_DATA), ("/p/b.txt", H_MODEL)]),
        summary("bbbb02", "/p/join.py", 2, inputs=[("/p/a.txt", H_DATA), ("/p/b.txt", H_MODEL)],
                outputs=[("/p/c.txt", H_GRAPH)]),
    ]


def test_a_run_met_twice_is_marked_seen_and_not_expanded_again() -> None:
    tree = Graph(diamond()).walk(version("/p/c.txt", H_GRAPH), UP)
    assert run_ids(tree) == ["bbbb02", "aaaa01", "aaaa01*"]
    again = tree["runs"][0]["files"][1]["runs"][0]
    assert again == {"id": rid("aaaa01"), "script": "/p/split.py", "start": when(1),
                     "status": "completed", "relation": "wrote", "files": [], "seen": True}
    down = Graph(diamond()).walk(version("/p/in.txt", H_RAW), DOWN)
    assert run_ids(down) == ["aaaa01", "bbbb02", "bbbb02*"]


def test_content_going_round_in_a_circle_terminates() -> None:
    """x -> y -> x -> y ...: the same two contents written back and forth."""
    runs = [summary(f"{n:04d}aa", "/p/flip.py", n,
                    inputs=[("/p/x", H_RAW if n % 2 else H_DATA)],
                    outputs=[("/p/y", H_DATA if n % 2 else H_RAW)]) for n in range(1, 7)]
    graph = Graph(runs)
    down = graph.walk(version("/p/x", H_RAW), DOWN)
    expanded = [entry for entry in run_ids(down) if not entry.endswith("*")]
    assert sorted(expanded) == ["0001aa", "0002aa", "0003aa", "0004aa", "0005aa", "0006aa"]
    up = graph.walk(version("/p/y", H_DATA), UP)
    assert run_ids(up)[0] == "0001aa" and len(set(run_ids(up))) <= 12


def test_a_depth_limit_never_hides_a_run_within_the_depth() -> None:
    runs = [
        summary("0000ww", "/p/w.py", 0, outputs=[("/p/w.txt", "01" * 16)]),
        summary("0001aa", "/p/a.py", 1, inputs=[("/p/w.txt", "01" * 16)],
                outputs=[("/p/r.txt", "02" * 16), ("/p/q.txt", "03" * 16)]),
        summary("0002bb", "/p/b.py", 2, inputs=[("/p/r.txt", "02" * 16)],
                outputs=[("/p/p.txt", "04" * 16)]),
        # c reads p (via b, then a at depth 3) before q (straight from a, at depth 2)
        summary("0003cc", "/p/c.py", 3, inputs=[("/p/p.txt", "04" * 16), ("/p/q.txt", "03" * 16)],
                outputs=[("/p/z.txt", "05" * 16)]),
    ]
    graph = Graph(runs)
    # z <- c <- q <- a <- w.txt <- w: w is 3 runs from z
    assert "0000ww" in run_ids(graph.walk(version("/p/z.txt", "05" * 16), UP))
    assert "0000ww" in run_ids(graph.walk(version("/p/z.txt", "05" * 16), UP, 3))


def test_a_renamed_or_copied_file_is_matched_by_its_content() -> None:
    runs = [*chain(), summary("dddd04", "/p/report.py", 4,
                              inputs=[("/elsewhere/model-copy.npy", H_MODEL)],
                              outputs=[("/p/report.txt", "e5" * 16)])]
    graph = Graph(runs)
    up = graph.walk(version("/p/report.txt", "e5" * 16), UP)
    assert run_ids(up) == ["dddd04", "bbbb02", "aaaa01"]
    down = graph.walk(version("/p/data.npy", H_DATA), DOWN)
    assert run_ids(down) == ["bbbb02", "cccc03", "dddd04"]


def test_path_only_matching_where_the_content_is_unknown() -> None:
    runs = [
        summary("aaaa01", "/p/make.py", 1, outputs=[("/p/blob.bin", None)]),
        summary("bbbb02", "/p/use.py", 2, inputs=[("/p/blob.bin", None)],
                outputs=[("/p/out.txt", H_GRAPH)]),
        summary("cccc03", "/p/other.py", 3, inputs=[("/p/other.bin", None)]),
    ]
    graph = Graph(runs)
    assert run_ids(graph.walk(version("/p/out.txt", H_GRAPH), UP)) == ["bbbb02", "aaaa01"]
    assert run_ids(graph.walk(version("/p/blob.bin", None), DOWN)) == ["bbbb02"]
    assert graph.runs_with("outputs", {"path": "/p/blob.bin", "hash": None}) == [runs[0]]


def test_a_known_hash_is_not_matched_by_path() -> None:
    """Another content at the same path is another file version."""
    runs = [*chain(), summary("dddd04", "/p/train.py", 4, inputs=[("/p/data.npy", "99" * 16)],
                              outputs=[("/p/model.npy", "98" * 16)])]
    graph = Graph(runs)
    assert run_ids(graph.walk(version("/p/data.npy", H_DATA), DOWN)) == ["bbbb02", "cccc03"]


def test_runs_with_lists_each_run_once_oldest_first() -> None:
    twice = summary("bbbb02", "/p/w.py", 2, outputs=[("/p/x", H_RAW), ("/p/copy", H_RAW)])
    first = summary("aaaa01", "/p/w.py", 1, outputs=[("/p/x", H_RAW)])
    graph = Graph([twice, first])
    assert [run["id"][:6] for run in graph.runs_with("outputs", version("/p/x", H_RAW))] == [
        "aaaa01", "bbbb02"]


# -- where a lineage starts -------------------------------------------------------------


def real_chain(tmp_path: Path) -> tuple[list[Run], dict[str, str]]:
    """The chain with real files on disk and their real hashes."""
    hasher = FileHasher("xxh3_128")
    digests = {}
    for name, text in [("raw.txt", "1 2\n"), ("data.npy", "data"), ("model.npy", "model"),
                       ("graph.png", "graph")]:
        (tmp_path / name).write_text(text)
        digests[name] = hasher.hash(str(tmp_path / name))[0]
    p = str(tmp_path)
    runs = [
        summary("aaaa01", f"{p}/prepare.py", 1, inputs=[(f"{p}/raw.txt", digests["raw.txt"])],
                outputs=[(f"{p}/data.npy", digests["data.npy"])]),
        summary("bbbb02", f"{p}/train.py", 2, inputs=[(f"{p}/data.npy", digests["data.npy"])],
                outputs=[(f"{p}/model.npy", digests["model.npy"])]),
        summary("cccc03", f"{p}/plot.py", 3, inputs=[(f"{p}/model.npy", digests["model.npy"])],
                outputs=[(f"{p}/graph.png", digests["graph.png"])]),
    ]
    return runs, digests


def test_start_from_a_file_on_disk_hashes_it(tmp_path: Path) -> None:
    runs, digests = real_chain(tmp_path)
    graph = Graph(runs)
    assert graph.start(str(tmp_path / "model.npy")) == {
        "path": str(tmp_path / "model.npy"), "hash": digests["model.npy"],
        "hash_algorithm": "xxh3_128"}
    (tmp_path / "model.npy").rename(tmp_path / "renamed.npy")
    start = graph.start("renamed.npy")  # relative to the working directory (tmp_path)
    assert start["path"] == str(tmp_path / "renamed.npy") and start["hash"] == digests["model.npy"]
    assert run_ids(graph.walk(start, UP)) == ["bbbb02", "aaaa01"]


def test_start_from_a_recorded_path_that_is_gone_or_changed_takes_its_newest_version(
        tmp_path: Path) -> None:
    runs, digests = real_chain(tmp_path)
    runs.append(summary("dddd04", f"{tmp_path}/train.py", 4,
                        inputs=[(f"{tmp_path}/data.npy", digests["data.npy"])],
                        outputs=[(f"{tmp_path}/model.npy", "77" * 16)]))
    graph = Graph(runs)
    (tmp_path / "model.npy").write_text("edited by hand, never recorded")
    start = graph.start(str(tmp_path / "model.npy"))
    assert start["hash"] == "77" * 16 and start["path"] == str(tmp_path / "model.npy")
    (tmp_path / "model.npy").unlink()
    assert graph.start(str(tmp_path / "model.npy"))["hash"] == "77" * 16
    assert [v["hash"] for v in graph.versions_of(str(tmp_path / "model.npy"))] == [
        "77" * 16, digests["model.npy"]]


@pytest.mark.parametrize("prefix", [H_MODEL[:8], H_MODEL[:20].upper(), H_MODEL])
def test_start_from_a_hash_or_a_prefix_of_8_or_more_hex_digits(prefix: str) -> None:
    start = Graph(chain()).start(prefix)
    assert start["hash"] == H_MODEL and start["path"] == "/p/model.npy"


def test_an_ambiguous_hash_prefix_is_a_value_error() -> None:
    runs = [summary("aaaa01", "/p/a.py", 1, outputs=[("/p/one", "abcdef01" + "1" * 24),
                                                     ("/p/two", "abcdef01" + "2" * 24)])]
    with pytest.raises(ValueError, match="ambiguous"):
        Graph(runs).start("abcdef01")
    assert Graph(runs).start("abcdef011")["path"] == "/p/one"


@pytest.mark.parametrize("term", ["/p/never-recorded.txt", "c3c3c3", "ffffffffff", "nope"])
def test_nothing_recorded_is_a_value_error(term: str) -> None:
    with pytest.raises(ValueError, match="no recorded run"):
        Graph(chain()).start(term)


def test_a_file_on_disk_that_no_run_touched_is_a_value_error(tmp_path: Path) -> None:
    (tmp_path / "untouched.txt").write_text("never seen by recipe")
    with pytest.raises(ValueError, match="no recorded run"):
        Graph(chain()).start(str(tmp_path / "untouched.txt"))


def test_a_file_on_disk_is_matched_by_path_when_its_path_was_recorded_without_content(
        tmp_path: Path) -> None:
    (tmp_path / "blob.bin").write_text("x")
    runs = [summary("aaaa01", "/p/make.py", 1, outputs=[(str(tmp_path / "blob.bin"), None)])]
    graph = Graph(runs)
    start = graph.start(str(tmp_path / "blob.bin"))
    assert start == {"path": str(tmp_path / "blob.bin"), "hash": None}
    assert run_ids(graph.walk(start, UP)) == ["aaaa01"]


def test_start_hashes_a_file_with_each_algorithm_the_store_used(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    digest = FileHasher("sha256").hash(str(tmp_path / "data.csv"))[0]
    runs = [summary("aaaa01", "/p/old.py", 1, outputs=[("/p/x", H_RAW)]),
            summary("bbbb02", "/p/new.py", 2, outputs=[(str(tmp_path / "data.csv"), digest)])]
    runs[0]["outputs"][0]["hash_algorithm"] = "some-future-hash"  # not known here: skipped
    runs[1]["outputs"][0]["hash_algorithm"] = "sha256"
    start = Graph(runs).start(str(tmp_path / "data.csv"))
    assert start == {"path": str(tmp_path / "data.csv"), "hash": digest,
                     "hash_algorithm": "sha256"}


# -- text and dot -----------------------------------------------------------------------


def test_to_text_is_an_indented_tree_with_ids_scripts_times_and_paths() -> None:
    tree = Graph(chain()).walk(version("/p/graph.png", H_GRAPH), UP)
    assert to_text(tree, UP) == [
        f"/p/graph.png  [{H_GRAPH[:12]}]",
        "└─ written by cccc0300  plot.py  2024-03-01 12:03:00  completed",
        f"   └─ read /p/model.npy  [{H_MODEL[:12]}]",
        "      └─ written by bbbb0200  train.py  2024-03-01 12:02:00  completed",
        f"         └─ read /p/data.npy  [{H_DATA[:12]}]",
        "            └─ written by aaaa0100  prepare.py  2024-03-01 12:01:00  completed",
        f"               └─ read /p/raw.txt  [{H_RAW[:12]}]",
    ]


def test_to_text_down_with_branches_and_a_seen_run() -> None:
    tree = Graph(diamond()).walk(version("/p/in.txt", H_RAW), DOWN)
    lines = to_text(tree, DOWN)
    assert lines[0] == f"/p/in.txt  [{H_RAW[:12]}]"
    assert lines[1].startswith("└─ read by aaaa0100  split.py  2024-03-01 12:01:00")
    assert lines[2] == f"   ├─ wrote /p/a.txt  [{H_DATA[:12]}]"
    assert lines[3].startswith("   │  └─ read by bbbb0200  join.py")
    assert f"wrote /p/c.txt  [{H_GRAPH[:12]}]" in lines[4]
    assert lines[5] == f"   └─ wrote /p/b.txt  [{H_MODEL[:12]}]"
    assert lines[6].endswith("(shown above)") and "bbbb0200" in lines[6]
    assert len(lines) == 7


def test_to_text_says_when_nothing_wrote_or_read_the_content() -> None:
    graph = Graph(chain())
    assert to_text(graph.walk(version("/p/raw.txt", H_RAW), UP), UP) == [
        f"/p/raw.txt  [{H_RAW[:12]}]", "  (no recorded run wrote this content)"]
    assert to_text(graph.walk(version("/p/graph.png", H_GRAPH), DOWN), DOWN)[1] == \
        "  (no recorded run read this content)"
    assert to_text({"path": None, "hash": None, "runs": []}, UP)[0] == "(unknown path)"


DOT_NODE = re.compile(r'^  "([^"]+)" \[shape=(note|box), label="((?:[^"\\]|\\.)*)"\];$')
DOT_EDGE = re.compile(r'^  "([^"]+)" -> "([^"]+)";$')


def parse_dot(text: str) -> tuple[dict[str, tuple[str, str]], set[tuple[str, str]]]:
    lines = text.splitlines()
    assert lines[0] == "digraph lineage {" and lines[-1] == "}" and text.endswith("}\n")
    nodes, edges = {}, set()
    for line in lines[1:-1]:
        if line.strip() == "rankdir=LR;":
            continue
        if node := DOT_NODE.match(line):
            nodes[node[1]] = (node[2], node[3])
        else:
            edge = DOT_EDGE.match(line)
            assert edge, f"not a node or an edge: {line!r}"
            edges.add((edge[1], edge[2]))
    assert all(a in nodes and b in nodes for a, b in edges), "an edge to an undeclared node"
    return nodes, edges


def test_to_dot_draws_files_and_runs_with_arrows_in_the_direction_data_flowed() -> None:
    graph = Graph(chain())
    up = to_dot(graph.walk(version("/p/graph.png", H_GRAPH), UP), UP)
    nodes, edges = parse_dot(up)
    assert nodes[f"file:{H_GRAPH}"] == ("note", "graph.png")
    assert nodes[f"run:{rid('cccc03')}"] == ("box", "plot.py cccc0300")
    assert edges == {
        (f"file:{H_RAW}", f"run:{rid('aaaa01')}"), (f"run:{rid('aaaa01')}", f"file:{H_DATA}"),
        (f"file:{H_DATA}", f"run:{rid('bbbb02')}"), (f"run:{rid('bbbb02')}", f"file:{H_MODEL}"),
        (f"file:{H_MODEL}", f"run:{rid('cccc03')}"), (f"run:{rid('cccc03')}", f"file:{H_GRAPH}"),
    }
    down = to_dot(graph.walk(version("/p/raw.txt", H_RAW), DOWN), DOWN)
    assert parse_dot(down) == (nodes, edges)  # the same graph, whichever end it is drawn from


def test_to_dot_quotes_odd_names_and_draws_a_seen_run_once() -> None:
    runs = diamond()
    runs[1]["outputs"] = files(('/p/say "hi"\\.txt', H_GRAPH))
    nodes, edges = parse_dot(to_dot(Graph(runs).walk(version("/p/in.txt", H_RAW), DOWN), DOWN))
    assert len([key for key in nodes if key.startswith("run:")]) == 2
    assert (f"file:{H_MODEL}", f"run:{rid('bbbb02')}") in edges  # from the seen branch too
    assert r'label="say \"hi\"\\.txt"' in to_dot(
        Graph(runs).walk(version("/p/in.txt", H_RAW), DOWN), DOWN)


def test_to_dot_keys_a_file_of_unknown_content_by_its_path() -> None:
    runs = [summary("aaaa01", "/p/make.py", 1, outputs=[("/p/blob.bin", None)])]
    nodes, edges = parse_dot(to_dot(Graph(runs).walk(version("/p/blob.bin", None), UP), UP))
    assert edges == {(f"run:{rid('aaaa01')}", "file:/p/blob.bin")}


# -- through a real store and the Python API ---------------------------------------------


def test_lineage_and_recipe_lineage_read_the_store(
        make_record: Callable[..., Run], make_event: Callable[..., dict],
        spool_run: Callable[..., str]) -> None:
    for run in chain():
        record = make_record(run_id=run["id"], script=run["script"], start=None)
        record["start"] = run["start"]
        spool_run(record, [make_event(kind[:-1], event["path"], event["hash"])
                           for kind in ("inputs", "outputs") for event in run[kind]])
    tree = lineage(open_store(config.load()), "/p/graph.png")
    assert run_ids(tree) == ["cccc03", "bbbb02", "aaaa01"]
    assert recipe.lineage("/p/graph.png") == tree
    assert run_ids(recipe.lineage(Path("/p/raw.txt"), direction="down", depth=2)) == [
        "aaaa01", "bbbb02"]
    assert run_ids(recipe.lineage(H_DATA[:10], direction="down")) == ["bbbb02", "cccc03"]
    with pytest.raises(ValueError, match="direction"):
        recipe.lineage("/p/graph.png", direction="sideways")
    with pytest.raises(ValueError, match="no recorded run"):
        recipe.lineage("/p/nothing.png")


# -- Checker ----------------------------------------------------------------------------


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return FileHasher("xxh3_128").hash(str(path))[0]


@pytest.fixture
def project(tmp_path: Path) -> dict[str, Any]:
    """prepare.py, train.py and plot.py (with script hashes) and their files on disk."""
    digest = {name: write(tmp_path / name, text) for name, text in [
        ("raw.txt", "1 2 3\n"), ("data.npy", "data v1"), ("model.npy", "model v1"),
        ("graph.png", "png v1"), ("prepare.py", "# prepare\n"), ("train.py", "# train\n"),
        ("plot.py", "# plot\n")]}
    p = str(tmp_path)

    def scripted(run_id: str, name: str, minute: int, source: str, target: str) -> Run:
        return summary(run_id, f"{p}/{name}", minute,
                       inputs=[(f"{p}/{source}", digest[source])],
                       outputs=[(f"{p}/{target}", digest[target])],
                       script_hash=digest[name], script_hash_algorithm="xxh3_128")

    runs = [scripted("aaaa01", "prepare.py", 1, "raw.txt", "data.npy"),
            scripted("bbbb02", "train.py", 2, "data.npy", "model.npy"),
            scripted("cccc03", "plot.py", 3, "model.npy", "graph.png")]
    return {"dir": tmp_path, "runs": runs, "hash": digest}


def check(project: dict[str, Any], name: str, runs: list[Run] | None = None) -> dict[str, Any]:
    return Checker(Graph(runs or project["runs"])).check(str(project["dir"] / name))


def test_untouched_outputs_are_ok(project: dict[str, Any]) -> None:
    verdicts = [check(project, name) for name in ("data.npy", "model.npy", "graph.png")]
    assert [v["state"] for v in verdicts] == ["ok", "ok", "ok"]
    assert verdicts[2] == {"path": str(project["dir"] / "graph.png"), "state": "ok",
                           "run": rid("cccc03"), "reason": "as run cccc0300 (plot.py) wrote it"}


def test_an_output_changed_on_disk_is_modified(project: dict[str, Any]) -> None:
    (project["dir"] / "model.npy").write_text("model edited by hand")
    verdict = check(project, "model.npy")
    assert verdict["state"] == "modified" and verdict["run"] == rid("bbbb02")
    assert verdict["reason"] == "changed on disk since run bbbb0200 wrote it"
    # and what was made from it is stale: plot read another content
    downstream = check(project, "graph.png")
    assert downstream["state"] == "stale"
    model = shown(str(project["dir"] / "model.npy"))
    assert downstream["reason"] == f"its input {model} changed since run cccc0300 read it"


def test_an_output_gone_from_disk_is_missing(project: dict[str, Any]) -> None:
    (project["dir"] / "graph.png").unlink()
    assert check(project, "graph.png") == {
        "path": str(project["dir"] / "graph.png"), "run": rid("cccc03"), "state": "missing",
        "reason": "gone since run cccc0300 wrote it"}


def test_a_changed_input_makes_the_output_stale_and_everything_after_it(
        project: dict[str, Any]) -> None:
    (project["dir"] / "raw.txt").write_text("4 5 6\n")
    raw = f"{project['dir']}/raw.txt"
    data = check(project, "data.npy")
    assert data["state"] == "stale" and data["run"] == rid("aaaa01")
    assert data["reason"] == f"its input {shown(raw)} changed since run aaaa0100 read it"
    model = check(project, "model.npy")
    assert model["state"] == "stale"
    data_npy = shown(str(project["dir"] / "data.npy"))
    assert model["reason"] == (f"its input {data_npy} comes from run aaaa0100, "
                               f"whose input {shown(raw)} changed since run aaaa0100 read it")
    graph = check(project, "graph.png")
    assert graph["state"] == "stale"
    assert "comes from run bbbb0200" in graph["reason"] and "comes from run aaaa0100" in \
        graph["reason"] and graph["reason"].endswith("changed since run aaaa0100 read it")


def test_an_input_gone_makes_the_output_stale(project: dict[str, Any]) -> None:
    (project["dir"] / "raw.txt").unlink()
    verdict = check(project, "data.npy")
    assert verdict["state"] == "stale"
    assert verdict["reason"] == f"its input {shown(str(project['dir'] / 'raw.txt'))} is gone"
    assert check(project, "graph.png")["reason"].endswith("raw.txt is gone")


def test_a_changed_script_makes_its_outputs_stale(project: dict[str, Any]) -> None:
    (project["dir"] / "train.py").write_text("# train, edited\nlr = 0.2\n")
    assert check(project, "data.npy")["state"] == "ok"
    model = check(project, "model.npy")
    assert model["state"] == "stale"
    assert model["reason"] == "its script train.py changed since run bbbb0200"
    graph = check(project, "graph.png")
    assert graph["state"] == "stale" and graph["reason"].endswith(
        "whose script train.py changed since run bbbb0200")
    (project["dir"] / "train.py").unlink()
    assert check(project, "model.npy")["reason"] == "its script train.py is gone since run bbbb0200"


def test_a_run_without_a_script_hash_or_with_a_relative_script_is_not_judged_by_it(
        project: dict[str, Any]) -> None:
    runs = [dict(run) for run in project["runs"]]
    del runs[1]["script_hash"]
    runs[2]["script"] = "<interactive>"
    (project["dir"] / "train.py").write_text("changed")
    (project["dir"] / "plot.py").write_text("changed")
    assert [check(project, name, runs)["state"] for name in ("model.npy", "graph.png")] == [
        "ok", "ok"]


def test_an_upstream_run_that_is_not_the_newest_maker_before_does_not_count(
        project: dict[str, Any]) -> None:
    """Two runs wrote data.npy's content before train read it: the newer one decides."""
    p, digest = project["dir"], project["hash"]
    old = summary("0000aa", f"{p}/prepare.py", 0, inputs=[(f"{p}/gone.txt", "66" * 16)],
                  outputs=[(f"{p}/data.npy", digest["data.npy"])])
    assert check(project, "model.npy", [old, *project["runs"]])["state"] == "ok"
    late = summary("9999aa", f"{p}/prepare.py", 9, inputs=[(f"{p}/gone.txt", "66" * 16)],
                   outputs=[(f"{p}/other.npy", digest["data.npy"])])
    assert check(project, "model.npy", [*project["runs"], late])["state"] == "ok"


def test_the_newest_writer_of_a_path_decides(project: dict[str, Any]) -> None:
    p = project["dir"]
    newer = summary("dddd04", f"{p}/train.py", 4,
                    inputs=[(f"{p}/data.npy", project["hash"]["data.npy"])],
                    outputs=[(f"{p}/model.npy", write(p / "model.npy", "model v2"))])
    runs = [*project["runs"], newer]
    assert check(project, "model.npy", runs) | {"reason": None} == {
        "path": str(p / "model.npy"), "run": rid("dddd04"), "state": "ok", "reason": None}
    (p / "model.npy").write_text("model v1")  # what the older run wrote is back
    assert check(project, "model.npy", runs)["state"] == "modified"
    assert check(project, "model.npy", runs)["run"] == rid("dddd04")


def test_a_file_no_run_wrote_is_unknown(project: dict[str, Any]) -> None:
    for name in ("raw.txt", "nowhere.txt"):  # raw.txt was only read
        assert check(project, name) == {"path": str(project["dir"] / name), "state": "unknown",
                                        "run": None, "reason": "no recorded run wrote this file"}


def test_staleness_is_judged_once_per_run(project: dict[str, Any]) -> None:
    (project["dir"] / "raw.txt").write_text("changed")
    checker = Checker(Graph(project["runs"]))
    first = checker.check(str(project["dir"] / "graph.png"))
    (project["dir"] / "raw.txt").write_text("1 2 3\n")  # the verdicts of this checker stand
    assert checker.check(str(project["dir"] / "graph.png")) == first
    assert Checker(Graph(project["runs"])).check(str(project["dir"] / "graph.png"))["state"] \
        == "ok"


def test_the_checker_hashes_with_the_algorithm_each_file_was_recorded_with(
        tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("in")
    (tmp_path / "out.txt").write_text("out")
    sha = {name: FileHasher("sha256").hash(str(tmp_path / name))[0]
           for name in ("in.txt", "out.txt")}
    runs = [summary("aaaa01", "/p/make.py", 1, inputs=[(str(tmp_path / "in.txt"), sha["in.txt"])],
                    outputs=[(str(tmp_path / "out.txt"), sha["out.txt"])])]
    for event in runs[0]["inputs"] + runs[0]["outputs"]:
        event["hash_algorithm"] = "sha256"
    assert Checker(Graph(runs)).check(str(tmp_path / "out.txt"))["state"] == "ok"
    (tmp_path / "in.txt").write_text("in, changed")
    assert Checker(Graph(runs)).check(str(tmp_path / "out.txt"))["state"] == "stale"


def test_the_checker_survives_a_hash_algorithm_it_does_not_know(tmp_path: Path) -> None:
    (tmp_path / "out.txt").write_text("out")
    runs = [summary("aaaa01", "/p/make.py", 1, outputs=[(str(tmp_path / "out.txt"), H_RAW)])]
    runs[0]["outputs"][0]["hash_algorithm"] = "some-future-hash"
    verdict = Checker(Graph(runs)).check(str(tmp_path / "out.txt"))
    assert verdict["state"] in ("ok", "modified", "missing", "stale", "unknown")


def test_latest_outputs_are_those_of_the_newest_run_of_each_script_under_a_directory() -> None:
    runs = [
        summary("aaaa01", "/proj/prepare.py", 1, outputs=[("/proj/old.npy", H_DATA)]),
        summary("aaaa05", "/proj/prepare.py", 5, outputs=[("/proj/data.npy", H_DATA),
                                                          ("/proj/extra.txt", H_RAW)]),
        summary("bbbb02", "/proj/sub/train.py", 2, outputs=[("/proj/model.npy", H_MODEL),
                                                            ("/proj/data.npy", H_DATA)]),
        summary("bbbb01", "/proj/sub/train.py", 1, outputs=[("/proj/model-old.npy", H_MODEL)]),
        summary("cccc03", "/elsewhere/plot.py", 3, outputs=[("/proj/graph.png", H_GRAPH)]),
        summary("dddd04", "/project2/other.py", 4, outputs=[("/project2/x.txt", H_GRAPH)]),
        summary("eeee05", "<interactive>", 6, outputs=[("/proj/y.txt", H_GRAPH)]),
    ]
    graph = Graph(runs)
    assert latest_outputs(graph, "/proj") == ["/proj/model.npy", "/proj/data.npy",
                                              "/proj/extra.txt"]  # in the order runs began
    assert latest_outputs(graph, "/proj/") == latest_outputs(graph, "/proj")
    assert latest_outputs(graph, "/proj/sub") == ["/proj/model.npy", "/proj/data.npy"]
    assert latest_outputs(graph, "/nothing") == []


# -- recipe diff's code difference ------------------------------------------------------


def test_code_difference_names_the_script_content_the_commits_and_diffs_the_diffs() -> None:
    first = {"id": rid("aaaa01"), "script_hash": "1" * 32,
             "git": {"commit": "c0ffee", "diff": "+lr = 0.1\n"}}
    second = {"id": rid("bbbb02"), "script_hash": "2" * 32,
              "git": {"commit": "decaf0", "diff": "+lr = 0.2\n"}}
    lines = query.code_difference(first, second).splitlines()
    assert lines[:2] == [f"script content {'1' * 12} -> {'2' * 12}", "commit c0ffee -> decaf0"]
    assert "--- uncommitted changes of run aaaa0100" in lines
    assert "+++ uncommitted changes of run bbbb0200" in lines
    assert "-+lr = 0.1" in lines and "++lr = 0.2" in lines
    assert query.code_difference(first, dict(first, id=rid("cccc03"))) == ""
    assert query.code_difference({"id": rid("a")}, {"id": rid("b")}) == ""
    assert query.code_difference({"id": rid("a"), "git": {"commit": "c0ffee"}},
                                 {"id": rid("b")}) == "commit c0ffee -> (none)"
