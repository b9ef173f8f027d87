"""The command line as people know it from other tools (issue 13): listing options and
formats, colours, help, errors, completion, config, untag and note removal, `--json`
everywhere data comes out, and malformed `--where` (issue 12 item 17). Through the real
console script in subprocesses."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import click
import pytest
from recipe_workspace import Workspace

from recipe.cli.app import cli
from recipe.record.journal import Journal

TRAIN = """\
    import recipe
    import numpy as np
    layers = recipe.Param(32, name="layers")
    rate = recipe.Param(0.1, name="rate")
    np.save("weights.npy", np.arange(layers))
    recipe.Output(1 / 3 * layers, name="score")
    """
EVALUATE = """\
    import recipe
    import numpy as np
    weights = np.load("weights.npy")
    recipe.Output(float(weights.sum()), name="total")
    """
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Runs of two scripts, and one old run (started ten days ago) put in the spool."""
    ws = Workspace(tmp_path_factory.mktemp("listing"))
    train, evaluate = ws.write("train.py", TRAIN), ws.write("evaluate.py", EVALUATE)
    for layers in ("16", "64", "128"):
        ws.recipe("run", str(train), f"layers={layers}")
    ws.recipe("run", str(evaluate))
    [newest, *_] = ws.runs()
    old = dict(newest, id="0ld" + "0" * 29, params={"layers": 8, "rate": 0.1},
               start=(datetime.now(timezone.utc) - timedelta(days=10)).isoformat(),
               script=str(train), results={"score": 2.5}, label="layers=8 rate=0.1",
               inputs=[], outputs=[])
    Journal(ws.home, old["id"]).write_record(old)
    return ws


def ids(text: str) -> list[str]:
    return [record["id"] for record in json.loads(text)]


# -- listing options -------------------------------------------------------------------------

def test_ndjson_is_one_full_record_per_line(store: Workspace) -> None:
    lines = store.recipe("runs", "--format", "ndjson").stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert records == json.loads(store.recipe("runs", "--json").stdout)
    assert len(records) == 5 and all("libraries" in record for record in records)


def test_csv_reads_back_with_the_csv_module_at_full_precision(store: Workspace) -> None:
    rows = list(csv.DictReader(io.StringIO(store.recipe("runs", "--script", "train.py",
                                                        "--format", "csv").stdout)))
    assert [row["layers"] for row in rows] == ["128", "64", "16", "8"]
    assert rows[0]["score"] == repr(1 / 3 * 128)  # 42.666666666666664, whole
    assert store.recipe("runs", "--csv").stdout == store.recipe("runs", "--format",
                                                                 "csv").stdout


def test_tables_round_numbers_for_people(store: Workspace) -> None:
    table = store.recipe("runs", "--script", "train.py").stdout
    assert "42.67" in table and "42.666" not in table


@pytest.mark.parametrize(("args", "expected"), [
    (["--limit", "2"], ["evaluate", "128"]),
    (["--since", "1d"], ["evaluate", "128", "64", "16"]),
    (["--since", "2w", "--until", "5d"], ["8"]),
    (["--until", (datetime.now() - timedelta(days=10)).date().isoformat()], ["8"]),
    (["--sort", "layers"], ["8", "16", "64", "128", "evaluate"]),  # runs without it last
    (["--sort", "-score", "--limit", "2"], ["128", "64"]),
    (["--where", "score>6"], ["128", "64"]),  # a result
    (["--where", "layers<64", "--since", "3d"], ["16"]),
])
def test_runs_listing_options(store: Workspace, args: list[str], expected: list[str]) -> None:
    def name(record: dict) -> str:
        return str(record["params"]["layers"]) if "layers" in record["params"] else "evaluate"

    assert [name(r) for r in json.loads(store.recipe("runs", *args, "--json").stdout)] == \
        expected


def test_search_takes_the_listing_options(store: Workspace) -> None:
    everything = ids(store.recipe("search", "weights.npy", "--json").stdout)
    assert len(everything) == 4  # three wrote it, one read it; the old run has no files
    assert ids(store.recipe("search", "weights.npy", "--json", "--limit", "1").stdout) == \
        everything[:1]
    assert ids(store.recipe("search", "weights.npy", "--json", "--sort", "start").stdout) == \
        everything[::-1]
    lines = store.recipe("search", "weights.npy", "--format", "ndjson").stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == everything
    rows = list(csv.reader(io.StringIO(store.recipe("search", "weights.npy", "--csv").stdout)))
    assert rows[0][:4] == ["id", "status", "start", "script"] and len(rows) == 5


def test_lineage_and_status_take_the_listing_options(store: Workspace) -> None:
    rows = list(csv.DictReader(io.StringIO(store.recipe(
        "lineage", str(store.root / "weights.npy"), "--down", "--format", "csv").stdout)))
    assert [row["script"].rsplit("/", 1)[-1] for row in rows] == ["evaluate.py"]
    assert rows[0]["relation"] == "read" and rows[0]["depth"] == "1"
    tree = json.loads(store.recipe("lineage", "weights.npy", "--json").stdout)
    assert len(tree["runs"]) == 1  # the newest version of weights.npy, written by layers=128
    assert json.loads(store.recipe("lineage", "weights.npy", "--json", "--since", "5d",
                                   "--until", "4d").stdout)["runs"] == []
    verdicts = [json.loads(line) for line in store.recipe(
        "status", "--format", "ndjson", check=False).stdout.splitlines()]
    assert [(v["state"], os.path.basename(v["path"])) for v in verdicts] == [("ok",
                                                                              "weights.npy")]
    status_csv = store.recipe("status", "--csv", "--limit", "0").stdout
    assert status_csv == "state,path,run,reason\n"


def test_lineage_json_of_nothing_is_an_empty_array(store: Workspace) -> None:
    result = store.recipe("lineage", "no-such-file.txt", "--json", check=False)
    assert (result.returncode, json.loads(result.stdout)) == (1, [])


def test_runs_of_several_scripts_get_one_table_each(store: Workspace) -> None:
    lines = store.recipe("runs").stdout.splitlines()
    headings = [line for line in lines if line.endswith(".py)") or ".py (" in line]
    assert [heading.split()[0] for heading in headings] == ["evaluate.py", "train.py"]
    evaluate_header = lines[lines.index(headings[0]) + 1].split()
    train_header = lines[lines.index(headings[1]) + 1].split()
    assert evaluate_header[-1] == "total" and "layers" not in evaluate_header
    assert train_header[-3:] == ["layers", "rate", "score"] and "total" not in train_header
    assert "#model" in store.recipe("runs", "--script", "train.py").stdout


@pytest.mark.parametrize("args", [["--json", "--csv"], ["--format", "csv", "--json"],
                                  ["--since", "yesterday"], ["--limit", "-1"]])
def test_bad_listing_options_are_one_line_errors(store: Workspace, args: list[str]) -> None:
    result = store.recipe("runs", *args, check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("recipe: error: ")


@pytest.mark.parametrize("expression", ["lr==0.1", "lr>>1", "lr>=", ">=3", "lr"])
@pytest.mark.parametrize("command", ["runs", "search"])
def test_a_malformed_where_is_one_line_and_exit_2(store: Workspace, command: str,
                                                  expression: str) -> None:
    args = ["runs"] if command == "runs" else ["runs", "--script", "train.py"]
    result = store.recipe(*args, "--where", expression, check=False)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.count("\n") == 1 and expression in result.stderr


# -- output for people ---------------------------------------------------------------------

def on_a_terminal(ws: Workspace, *args: str, env: dict[str, str] | None = None) -> str:
    """What `recipe ARGS` prints on a pseudo-terminal."""
    main, child = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "recipe", *args], cwd=ws.root,
                               env={**ws.env, **(env or {})}, stdout=child, stderr=child)
    os.close(child)
    output = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the other end closed
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=60)
    os.close(main)
    return output.decode()


def test_colour_on_a_terminal_never_with_no_color(store: Workspace) -> None:
    assert ANSI.search(on_a_terminal(store, "runs"))
    assert not ANSI.search(on_a_terminal(store, "runs", env={"NO_COLOR": "1"}))
    assert not ANSI.search(on_a_terminal(store, "--no-color", "runs"))
    assert not ANSI.search(store.recipe("runs").stdout)  # a pipe
    assert ANSI.search(store.recipe("--color", "runs").stdout)
    assert ANSI.search(store.recipe("--color", "runs", env={"NO_COLOR": "1"}).stdout)


def test_show_aligns_its_rows_and_gives_sizes_in_human_units(ws: Workspace) -> None:
    ws.python(ws.write("s.py", """\
        import recipe
        import numpy as np
        np.save("big.npy", np.zeros(29 * 1024 // 8 - 16))
        np.save("small.npy", np.zeros(2))
        """))
    text = ws.recipe("show", ws.only_run()["id"]).stdout
    rows = [line for line in text.splitlines() if line and not line.startswith(" ")
            and not line.startswith(("Inputs", "Outputs"))]
    assert len(rows) >= 9
    for line in rows:  # every value starts in column 13, after its label
        assert re.fullmatch(r"[A-Z][a-z]+: *", line[:12]) and line[12] != " ", line
    outputs = [line for line in text.splitlines() if line.startswith("  /")]
    assert [line.split()[2:4] for line in outputs] == [["29", "KB"], ["144", "B"]]
    assert len({line.index("numpy.save") for line in outputs}) == 1


def test_recipe_alone_prints_its_help_and_exits_0(ws: Workspace) -> None:
    result = ws.recipe()
    assert result.stdout.startswith("Usage: recipe") and result.stderr == ""


def every_command(group: click.Group = cli, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        # The store branch gives the db commands their examples (issue 13, store items).
        if name == "db":
            continue
        found.append((*path, name))
        if isinstance(command, click.Group):
            found += every_command(command, (*path, name))
    return found


@pytest.mark.parametrize("command", every_command(), ids=" ".join)
def test_every_command_has_help_with_an_example(ws: Workspace, command: tuple[str, ...]) -> None:
    result = ws.recipe(*command, "--help")
    assert result.stdout.startswith(f"Usage: recipe {' '.join(command)}")
    assert "Example:" in result.stdout


@pytest.mark.parametrize("args", [["show"], ["show", "abc"], ["runs", "--limit", "x"],
                                  ["serch", "x"], ["runs", "--sweep", "abc"]])
def test_errors_say_recipe_error_once(ws: Workspace, args: list[str]) -> None:
    result = ws.recipe(*args, check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("recipe: error: ") and result.stderr.count("recipe:") == 1
    assert not result.stderr.startswith("recipe: error: recipe")


def test_sweep_and_run_ids_need_the_same_prefix_length(ws: Workspace) -> None:
    ws.home.mkdir()
    for args in (["show", "abcde"], ["runs", "--sweep", "abcde"], ["search", "--id", "abcde"]):
        result = ws.recipe(*args, check=False)
        assert result.returncode == 2
        assert "too short: give at least 6 characters" in result.stderr


# -- annotating, and --json where data comes out ------------------------------------------

def test_untag_and_note_removal(ws: Workspace) -> None:
    ws.python(ws.write("train.py", "import recipe\n"))
    run_id = ws.only_run()["id"][:8]
    ws.recipe("tag", run_id, "paper", "draft")
    ws.recipe("annotate", run_id, "-m", "first")
    ws.recipe("annotate", run_id, "-m", "second")
    assert "Note 2:" in ws.recipe("show", run_id).stdout
    ws.recipe("untag", run_id, "draft", "model")
    removed = json.loads(ws.recipe("annotate", run_id, "--remove", "1", "--json").stdout)
    assert removed["tags"] == ["paper"]
    assert [note["text"] for note in removed["notes"]] == ["second"]
    assert ws.only_run() == removed
    missing = ws.recipe("annotate", run_id, "--remove", "5", check=False)
    assert missing.returncode == 2 and "has 1 note(s)" in missing.stderr


def test_tag_and_annotate_and_run_print_json_on_request(ws: Workspace) -> None:
    script = ws.write("s.py", 'import recipe\nn = recipe.Param(1, name="n")\n')
    ran = json.loads(ws.recipe("run", "--json", str(script), "-p", "n=2").stdout)
    assert ran["params"] == {"n": 2} and ran["status"] == "completed"
    tagged = json.loads(ws.recipe("tag", ran["id"][:8], "x", "--json").stdout)
    assert tagged["tags"] == ["x"]
    noted = json.loads(ws.recipe("annotate", ran["id"][:8], "-m", "hi", "--json").stdout)
    assert [note["text"] for note in noted["notes"]] == ["hi"]
    assert ws.only_run() == noted


# -- config and completion -----------------------------------------------------------------

def test_config_shows_each_setting_and_where_it_came_from(ws: Workspace) -> None:
    ws.write("recipe.ini", "[hash]\nalgorithm = sha256\n")
    text = ws.recipe("config", "--show-origin",
                     env={"RECIPE_GIT_DIFF_MAX_KB": "64"}).stdout
    lines = {line.split()[1]: line.split() for line in text.splitlines()}
    assert lines["hash.algorithm"] == [str(ws.root / "recipe.ini"), "hash.algorithm", "=",
                                       "sha256"]
    assert lines["git.diff_max_kb"] == ["RECIPE_GIT_DIFF_MAX_KB", "git.diff_max_kb", "=",
                                        "64"]
    assert lines["tags.defaults"] == ["default", "tags.defaults", "=", "yes"]
    assert lines["home"] == ["RECIPE_HOME", "home", "=", str(ws.home)]
    assert re.search(r"^hash\.algorithm += sha256$", ws.recipe("config").stdout, re.M)
    data = json.loads(ws.recipe("config", "--json").stdout)
    assert {"section": "hash", "key": "algorithm", "value": "sha256",
            "origin": str(ws.root / "recipe.ini")} in data["options"]
    bad = ws.recipe("config", env={"RECIPE_HASH_ALGORITHM": "md5"}, check=False)
    assert bad.returncode == 2 and "md5" in bad.stderr
    assert re.search(r"^hash\.algorithm +=  md5$|^hash\.algorithm += md5$", bad.stdout, re.M)
    assert not ws.home.exists()  # reading the settings made no store


def complete(ws: Workspace, words: str) -> list[str]:
    """What bash completion offers for the last of `words` (click's protocol)."""
    result = ws.recipe(env={"_RECIPE_COMPLETE": "bash_complete", "COMP_WORDS": words,
                            "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ")
                                                                    else 1))})
    return [line.split(",", 1)[1] for line in result.stdout.splitlines()]


def test_completion_of_commands_options_and_run_ids(store: Workspace) -> None:
    assert {"search", "show", "status", "sweep"} <= set(complete(store, "recipe s"))
    assert "--limit" in complete(store, "recipe runs --l")
    newest = ids(store.recipe("runs", "--json").stdout)
    assert complete(store, f"recipe show {newest[0][:4]}") == [newest[0]]
    assert set(complete(store, "recipe diff ")) == set(newest)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_completion_script_is_printed(ws: Workspace, shell: str) -> None:
    script = ws.recipe("completion", shell).stdout
    assert "_RECIPE_COMPLETE" in script


def test_the_bash_completion_script_loads_in_bash(ws: Workspace) -> None:
    script = ws.recipe("completion", "bash").stdout
    result = subprocess.run(["bash", "-c", 'eval "$1" && complete -p recipe', "bash", script],
                            capture_output=True, text=True, check=True)
    assert result.stdout.startswith("complete ") and "recipe" in result.stdout


# -- the web viewer's port -------------------------------------------------------------------

def test_gui_on_a_port_in_use_says_so_in_one_line(ws: Workspace) -> None:
    ws.home.mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = ws.recipe("gui", "--port", str(port), "--no-browser", check=False,
                           timeout=30)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert f"port {port} on 127.0.0.1 is in use" in result.stderr
    assert "--port 0" in result.stderr
