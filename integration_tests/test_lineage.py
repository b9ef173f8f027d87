"""`recipe lineage`, `recipe status`, `recipe diff` and recipe.lineage() over a real chain of
numpy scripts: prepare.py (raw.txt -> data.npy), train.py (data.npy -> model.npy, with a
module-level `lr = 0.1`) and plot.py (model.npy -> graph.png, matplotlib Agg)."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from recipe_workspace import Workspace

SCRIPTS = {
    "prepare.py": """\
        import recipe
        import numpy as np
        raw = np.loadtxt("raw.txt")
        np.save("data.npy", raw * 2)
        """,
    "train.py": """\
        import recipe
        import numpy as np
        lr = 0.1
        data = np.load("data.npy")
        np.save("model.npy", data.mean(axis=0) * lr)
        """,
    "plot.py": """\
        import recipe
        import numpy as np
        import matplotlib.pyplot as plt
        model = np.load("model.npy")
        plt.plot(model)
        plt.savefig("graph.png")
        """,
}
RAW = "1 2\n3 4\n5 6\n"


def new_workspace(root: Path) -> Workspace:
    ws = Workspace(root)
    ws.write("raw.txt", RAW)
    for name, text in SCRIPTS.items():
        ws.write(name, text)
    return ws


def newest(ws: Workspace, script: str) -> dict[str, Any]:
    """The newest run of `script` (a file name)."""
    return next(run for run in ws.runs() if run["script"].endswith("/" + script))


def runs_of(ws: Workspace, script: str) -> list[dict[str, Any]]:
    """The runs of `script`, oldest first."""
    return [run for run in reversed(ws.runs()) if run["script"].endswith("/" + script)]


def tree_ids(tree: dict[str, Any]) -> list[str]:
    """Run ids in the tree, depth first (a run marked seen gets a `*`)."""
    found = []
    for run in tree["runs"]:
        found.append(run["id"] + ("*" if run.get("seen") else ""))
        for child in run["files"]:
            found.extend(tree_ids(child))
    return found


def ids_in_text(text: str) -> list[str]:
    """The 8-digit run ids in `recipe lineage` text, in order."""
    return re.findall(r"(?:written|read) by ([0-9a-f]{8})  ", text)


@dataclass
class Chain:
    ws: Workspace
    prepare: dict[str, Any]
    prepare_again: dict[str, Any]
    train: dict[str, Any]
    plot: dict[str, Any]

    def path(self, name: str) -> str:
        return str(self.ws.root / name)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    """prepare, train, plot, then prepare again (same raw.txt, so the same data.npy
    content written a second time, after train read it)."""
    ws = new_workspace(tmp_path_factory.mktemp("chain"))
    for name in ("prepare.py", "train.py", "plot.py", "prepare.py"):
        ws.python(name)
    first, again = runs_of(ws, "prepare.py")
    return Chain(ws, first, again, newest(ws, "train.py"), newest(ws, "plot.py"))


def test_lineage_up_lists_the_three_runs_in_order_with_their_files(chain: Chain) -> None:
    result = chain.ws.recipe("lineage", "graph.png")
    prepare, train, plot = chain.prepare, chain.train, chain.plot

    def line(prefix: str, run: dict[str, Any], script: str) -> str:
        when = run["start"][:19].replace("T", " ")
        return f"{prefix}written by {run['id'][:8]}  {script}  {when}  completed"

    def read(prefix: str, name: str, run: dict[str, Any]) -> str:
        [event] = [e for e in run["inputs"] if e["path"] == chain.path(name)]
        return f"{prefix}read {chain.path(name)}  [{event['hash'][:12]}]"

    assert result.stdout.splitlines() == [
        f"{chain.path('graph.png')}  [{plot['outputs'][0]['hash'][:12]}]",
        line("└─ ", plot, "plot.py"),
        read("   └─ ", "model.npy", plot),
        line("      └─ ", train, "train.py"),
        read("         └─ ", "data.npy", train),
        # only the prepare run before train: the second one wrote that content later
        line("            └─ ", prepare, "prepare.py"),
        read("               └─ ", "raw.txt", prepare),
    ]
    assert result.stderr == ""


def test_lineage_of_a_file_written_by_two_runs_lists_both_writers(chain: Chain) -> None:
    assert chain.prepare["outputs"][0]["hash"] == chain.prepare_again["outputs"][0]["hash"]
    tree = json.loads(chain.ws.recipe("lineage", "data.npy", "--json").stdout)
    assert [run["id"] for run in tree["runs"]] == [chain.prepare["id"],
                                                   chain.prepare_again["id"]]
    text = chain.ws.recipe("lineage", "data.npy").stdout
    assert ids_in_text(text) == [chain.prepare["id"][:8], chain.prepare_again["id"][:8]]
    assert text.count(f"read {chain.path('raw.txt')}") == 2


def test_lineage_down_from_the_raw_data(chain: Chain) -> None:
    text = chain.ws.recipe("lineage", "raw.txt", "--down").stdout
    lines = text.splitlines()
    assert lines[0].startswith(chain.path("raw.txt") + "  [")
    # both prepare runs read raw.txt; only the first one's data.npy fed train
    assert ids_in_text(text) == [chain.prepare["id"][:8], chain.train["id"][:8],
                                 chain.plot["id"][:8], chain.prepare_again["id"][:8]]
    for name in ("data.npy", "model.npy", "graph.png"):
        assert f"wrote {chain.path(name)}  [" in text
    assert "read by" in lines[1] and "prepare.py" in lines[1]


def test_lineage_depth_1_stops_after_the_first_run(chain: Chain) -> None:
    text = chain.ws.recipe("lineage", "graph.png", "--depth", "1").stdout
    assert ids_in_text(text) == [chain.plot["id"][:8]]
    assert text.splitlines()[-1].endswith(f"read {chain.path('model.npy')}  "
                                          f"[{chain.train['outputs'][0]['hash'][:12]}]"
                                          "  (more beyond --depth)")
    down = chain.ws.recipe("lineage", "raw.txt", "--down", "--depth", "2").stdout
    assert ids_in_text(down) == [chain.prepare["id"][:8], chain.train["id"][:8],
                                 chain.prepare_again["id"][:8]]
    bad = chain.ws.recipe("lineage", "graph.png", "--depth", "0", check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_lineage_json_is_the_nested_tree(chain: Chain) -> None:
    tree = json.loads(chain.ws.recipe("lineage", "graph.png", "--json").stdout)
    assert set(tree) == {"path", "hash", "runs"}
    assert tree["path"] == chain.path("graph.png")
    assert tree["hash"] == chain.plot["outputs"][0]["hash"]
    [plot] = tree["runs"]
    assert set(plot) == {"id", "script", "start", "status", "relation", "files"}
    assert (plot["id"], plot["script"], plot["start"], plot["status"], plot["relation"]) == (
        chain.plot["id"], chain.path("plot.py"), chain.plot["start"], "completed", "wrote")
    [model] = plot["files"]
    assert (model["path"], model["hash"]) == (chain.path("model.npy"),
                                              chain.train["outputs"][0]["hash"])
    assert tree_ids(tree) == [chain.plot["id"], chain.train["id"], chain.prepare["id"]]
    raw = model["runs"][0]["files"][0]["runs"][0]["files"][0]
    assert raw == {"path": chain.path("raw.txt"), "hash": chain.prepare["inputs"][0]["hash"],
                   "runs": []}
    down = json.loads(chain.ws.recipe("lineage", "model.npy", "--down", "--json").stdout)
    assert [(run["id"], run["relation"]) for run in down["runs"]] == [(chain.plot["id"], "read")]


def test_lineage_dot_has_the_nodes_and_edges_in_the_direction_data_flowed(chain: Chain) -> None:
    dot = chain.ws.recipe("lineage", "graph.png", "--dot").stdout
    assert dot.startswith("digraph lineage {\n") and dot.endswith("}\n")
    digest = {"raw.txt": chain.prepare["inputs"][0]["hash"],
              "data.npy": chain.prepare["outputs"][0]["hash"],
              "model.npy": chain.train["outputs"][0]["hash"],
              "graph.png": chain.plot["outputs"][0]["hash"]}
    for name, value in digest.items():
        assert f'"file:{value}" [shape=note, label="{name}"];' in dot
    for script, run in (("prepare.py", chain.prepare), ("train.py", chain.train),
                        ("plot.py", chain.plot)):
        assert f'"run:{run["id"]}" [shape=box, label="{script} {run["id"][:8]}"];' in dot
    edges = set(re.findall(r'^  "([^"]+)" -> "([^"]+)";$', dot, re.M))
    p, t, g = (f"run:{run['id']}" for run in (chain.prepare, chain.train, chain.plot))
    assert edges == {(f"file:{digest['raw.txt']}", p), (p, f"file:{digest['data.npy']}"),
                     (f"file:{digest['data.npy']}", t), (t, f"file:{digest['model.npy']}"),
                     (f"file:{digest['model.npy']}", g), (g, f"file:{digest['graph.png']}")}
    both = chain.ws.recipe("lineage", "graph.png", "--dot", "--json", check=False)
    assert both.returncode == 2 and both.stdout == ""


def test_a_copy_under_another_name_is_found_by_its_content(chain: Chain) -> None:
    shutil.copy(chain.ws.root / "model.npy", chain.ws.root / "model-final.npy")
    tree = json.loads(chain.ws.recipe("lineage", "model-final.npy", "--json").stdout)
    assert tree["path"] == chain.path("model-final.npy")
    assert tree["hash"] == chain.train["outputs"][0]["hash"]
    assert tree_ids(tree) == [chain.train["id"], chain.prepare["id"]]
    down = chain.ws.recipe("lineage", "model-final.npy", "--down").stdout
    assert ids_in_text(down) == [chain.plot["id"][:8]]


def test_lineage_from_a_hash_prefix(chain: Chain) -> None:
    digest = chain.train["outputs"][0]["hash"]
    by_hash = json.loads(chain.ws.recipe("lineage", digest[:10], "--json").stdout)
    by_path = json.loads(chain.ws.recipe("lineage", "model.npy", "--json").stdout)
    assert by_hash["runs"] == by_path["runs"] and by_hash["hash"] == digest


def test_lineage_of_what_no_run_touched_exits_1(chain: Chain) -> None:
    for term in ("no-such-file.txt", "0123456789abcdef"):
        result = chain.ws.recipe("lineage", term, check=False)
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr == f"recipe: no recorded run read or wrote {term!r}\n"


def test_lineage_of_an_existing_file_no_run_touched_exits_1(chain: Chain) -> None:
    chain.ws.write("notes.txt", "never read by a recorded run\n")
    result = chain.ws.recipe("lineage", "notes.txt", check=False)
    assert result.returncode == 1 and result.stdout == ""


def test_status_without_paths_checks_the_newest_run_of_each_script(chain: Chain) -> None:
    result = chain.ws.recipe("status")
    rows = [line.split(None, 2) for line in result.stdout.splitlines()]
    assert sorted(rows) == sorted([
        ["ok", "data.npy", f"as run {chain.prepare_again['id'][:8]} (prepare.py) wrote it"],
        ["ok", "model.npy", f"as run {chain.train['id'][:8]} (train.py) wrote it"],
        ["ok", "graph.png", f"as run {chain.plot['id'][:8]} (plot.py) wrote it"],
    ])
    verdicts = json.loads(chain.ws.recipe("status", "--json").stdout)
    assert {(v["path"], v["state"], v["run"]) for v in verdicts} == {
        (chain.path("data.npy"), "ok", chain.prepare_again["id"]),
        (chain.path("model.npy"), "ok", chain.train["id"]),
        (chain.path("graph.png"), "ok", chain.plot["id"])}
    unknown = chain.ws.recipe("status", "raw.txt", "--json")  # only read: unknown, exit 0
    assert json.loads(unknown.stdout) == [{"path": chain.path("raw.txt"), "state": "unknown",
                                           "run": None,
                                           "reason": "no recorded run wrote this file"}]


def test_recipe_lineage_from_python_is_the_json_tree(chain: Chain) -> None:
    chain.ws.write("ask.py", """\
        import json, recipe
        print(json.dumps([recipe.lineage("graph.png"),
                          recipe.lineage("raw.txt", direction="down", depth=2)]))
        try:
            recipe.lineage("no-such-file.txt")
        except ValueError as exc:
            print(exc)
        """)
    out = chain.ws.python("ask.py").stdout.splitlines()
    up, down = json.loads(out[0])
    assert up == json.loads(chain.ws.recipe("lineage", "graph.png", "--json").stdout)
    assert down == json.loads(chain.ws.recipe("lineage", "raw.txt", "--down", "--depth", "2",
                                              "--json").stdout)
    assert out[1] == "no recorded run read or wrote 'no-such-file.txt'"


def test_diff_with_a_bad_run_id_is_one_error_line(chain: Chain) -> None:
    for bad in ("ffffffff", "ab"):
        result = chain.ws.recipe("diff", bad, chain.train["id"][:8], check=False)
        assert result.returncode == 2 and result.stdout == ""
        assert len(result.stderr.splitlines()) == 1
        assert result.stderr.startswith("recipe: error: ") and "Traceback" not in result.stderr
        assert repr(bad) in result.stderr


# -- a re-run after an input change, and files changed outside recipe ---------------------


@dataclass
class Rerun:
    ws: Workspace
    after_raw_change: Any = None
    after_rerun: Any = None
    after_rerun_json: Any = None
    train: list[dict[str, Any]] = field(default_factory=list)

    def status(self, *paths: str) -> tuple[int, dict[str, dict[str, Any]]]:
        result = self.ws.recipe("status", "--json", *paths, check=False)
        return result.returncode, {Path(v["path"]).name: v for v in json.loads(result.stdout)}


@pytest.fixture(scope="module")
def rerun(tmp_path_factory: pytest.TempPathFactory) -> Rerun:
    """prepare, train (lr 0.1) and plot; then raw.txt changes (status taken); then
    prepare and train with lr=0.2 run again, plot not."""
    ws = new_workspace(tmp_path_factory.mktemp("rerun"))
    ws.python("prepare.py")
    ws.recipe("run", "train.py")  # `recipe run`: the module-level lr is recorded
    ws.python("plot.py")
    (ws.root / "raw.txt").write_text("1 2\n3 4\n5 7\n")
    found = Rerun(ws, ws.recipe("status", check=False))
    ws.python("prepare.py")
    ws.recipe("run", "train.py", "-p", "lr=0.2")
    found.train = runs_of(ws, "train.py")
    found.after_rerun = ws.recipe("status", check=False)
    found.after_rerun_json = found.status()
    return found


def test_status_after_an_input_changed_says_everything_after_it_is_stale(rerun: Rerun) -> None:
    result = rerun.after_raw_change
    assert result.returncode == 1 and result.stderr == ""
    raw = "raw.txt"  # paths under the working directory are shown relative to it
    reasons = {}
    for line in result.stdout.splitlines():
        state, name, reason = line.split(None, 2)
        assert state == "stale"
        reasons[name] = reason
    assert set(reasons) == {"data.npy", "model.npy", "graph.png"}
    assert reasons["data.npy"].startswith(f"its input {raw} changed since run ")
    assert reasons["model.npy"].startswith("its input data.npy comes from run ")
    assert reasons["graph.png"].startswith("its input model.npy comes from run ")
    assert all(reason.endswith(" read it") and raw in reason for reason in reasons.values())


def test_status_after_the_rerun_says_only_the_plot_is_stale(rerun: Rerun) -> None:
    code, verdicts = rerun.after_rerun_json
    assert code == 1
    assert {name: v["state"] for name, v in verdicts.items()} == {
        "data.npy": "ok", "model.npy": "ok", "graph.png": "stale"}
    plot = runs_of(rerun.ws, "plot.py")[0]
    assert verdicts["graph.png"]["run"] == plot["id"]
    assert verdicts["graph.png"]["reason"] == (
        f"its input model.npy changed since run {plot['id'][:8]} read it")
    assert verdicts["model.npy"]["run"] == rerun.train[1]["id"]
    assert rerun.after_rerun.returncode == 1
    assert sorted(line.split()[:2] for line in rerun.after_rerun.stdout.splitlines()) == [
        ["ok", "data.npy"], ["ok", "model.npy"], ["stale", "graph.png"]]


def test_diff_between_the_two_train_runs(rerun: Rerun) -> None:
    first, second = rerun.train
    result = rerun.ws.recipe("diff", first["id"][:8], second["id"][:8])
    lines = result.stdout.splitlines()
    assert lines[0] == f"--- run {first['id'][:8]}  {first['script']}  {first['start']}"
    assert lines[1] == f"+++ run {second['id'][:8]}  {second['script']}  {second['start']}"
    assert "parameters:" in lines
    assert lines[lines.index("parameters:") + 1] == "  lr: 0.1 -> 0.2"
    model = str(rerun.ws.root / "model.npy")
    assert lines[lines.index("outputs:") + 1] == (
        f"  {model}: {first['outputs'][0]['hash']} -> {second['outputs'][0]['hash']}")
    data = str(rerun.ws.root / "data.npy")
    assert f"  {data}: {first['inputs'][0]['hash']} -> {second['inputs'][0]['hash']}" in lines
    assert lines[-1] == "code: the same"

    found = json.loads(rerun.ws.recipe("diff", first["id"], second["id"], "--json").stdout)
    assert found["runs"] == [first["id"], second["id"]]
    sections = {s["title"]: s["rows"] for s in found["sections"]}
    assert list(sections) == ["run", "parameters", "results", "inputs", "outputs",
                              "libraries", "git"]
    assert sections["parameters"] == [{"name": "lr", "values": [0.1, 0.2], "differs": True}]
    assert sections["outputs"] == [{"name": model, "differs": True, "values": [
        first["outputs"][0]["hash"], second["outputs"][0]["hash"]]}]
    assert all(row["differs"] for rows in sections.values() for row in rows)
    assert found["code"] == ""


def test_files_changed_outside_recipe(rerun: Rerun) -> None:
    """The only test of this module that changes the workspace."""
    ws = rerun.ws
    ws.python("plot.py")
    text = ws.recipe("status", "model.npy", "data.npy", "graph.png").stdout  # all ok: exit 0
    assert [line.split()[:2] for line in text.splitlines()] == [
        ["ok", "model.npy"], ["ok", "data.npy"], ["ok", "graph.png"]]

    # the plot script edited: its output is stale, the others are not
    plot_py = ws.root / "plot.py"
    plot_py.write_text(plot_py.read_text() + "plt.title('edited')\n")
    code, verdicts = rerun.status()
    plot = newest(ws, "plot.py")
    assert code == 1 and verdicts["graph.png"] == {
        "path": str(ws.root / "graph.png"), "run": plot["id"], "state": "stale",
        "reason": f"its script plot.py changed since run {plot['id'][:8]}"}
    assert verdicts["model.npy"]["state"] == verdicts["data.npy"]["state"] == "ok"

    # the model overwritten by hand; the plot deleted
    as_trained = (ws.root / "model.npy").read_bytes()
    (ws.root / "model.npy").write_bytes(b"not what train.py wrote")
    (ws.root / "graph.png").unlink()
    code, verdicts = rerun.status()
    train = rerun.train[1]
    assert code == 1
    assert verdicts["model.npy"] | {"path": None} == {
        "path": None, "run": train["id"], "state": "modified",
        "reason": f"changed on disk since run {train['id'][:8]} wrote it"}
    assert verdicts["graph.png"] | {"path": None} == {
        "path": None, "run": plot["id"], "state": "missing",
        "reason": f"gone since run {plot['id'][:8]} wrote it"}
    text = ws.recipe("status", check=False).stdout
    assert re.search(r"^modified  model\.npy +changed on disk since run", text, re.M)
    assert re.search(r"^missing   graph\.png +gone since run", text, re.M)

    # data.npy renamed: found by its content under the new name, and by its recorded path
    (ws.root / "data.npy").rename(ws.root / "data-renamed.npy")
    prepare = newest(ws, "prepare.py")
    by_content = json.loads(ws.recipe("lineage", "data-renamed.npy", "--json").stdout)
    assert by_content["path"] == str(ws.root / "data-renamed.npy")
    assert by_content["hash"] == prepare["outputs"][0]["hash"]
    assert [run["id"] for run in by_content["runs"]] == [prepare["id"]]
    by_path = json.loads(ws.recipe("lineage", "data.npy", "--json").stdout)
    assert by_path["path"] == str(ws.root / "data.npy") and by_path["runs"] == by_content["runs"]
    code, verdicts = rerun.status("data.npy", "model.npy", "data-renamed.npy")
    assert code == 1
    assert verdicts["data.npy"]["state"] == "missing"
    assert verdicts["model.npy"]["state"] == "modified"
    # a renamed output is found by its content
    assert verdicts["data-renamed.npy"]["state"] == "ok"
    assert verdicts["data-renamed.npy"]["reason"].endswith("wrote it as data.npy")
    # model.npy put back as train wrote it: stale now, as the data it read is gone
    (ws.root / "model.npy").write_bytes(as_trained)
    code, verdicts = rerun.status("model.npy")
    assert code == 1 and verdicts["model.npy"]["state"] == "stale"
    assert verdicts["model.npy"]["reason"] == "its input data.npy is gone"
