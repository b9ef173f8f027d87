"""Records that tell the truth (issue 13): the parameters a script's parser really returned,
a git diff of source only, libraries by distribution name from the first run, default tags
by words. Real scripts in subprocesses, read back through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from recipe_workspace import Workspace

ARGPARSE = """\
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--window", type=int, default=3)
    parser.add_argument("--out", default="rain.csv")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    print(args.window, args.out, args.verbose)
    """
CLICK = """\
    import click

    @click.command()
    @click.option("--window", default=3)
    @click.option("--out", type=click.Path(), default="rain.csv")
    @click.option("--verbose", is_flag=True)
    def main(window, out, verbose):
        print(window, out, verbose)

    main()
    """
PARSERS = {"argparse": ARGPARSE, "click": CLICK}
RECEIVED = {"window": 5, "out": "rain5.csv", "verbose": True}


@pytest.mark.parametrize("parser", PARSERS)
def test_recipe_run_records_the_arguments_the_script_received(ws: Workspace,
                                                              parser: str) -> None:
    script = ws.write("other.py", PARSERS[parser])
    result = ws.recipe("run", str(script), "--", "--window", "5", "--out", "rain5.csv",
                       "--verbose")
    assert result.stdout == "5 rain5.csv True\n"  # the script's behaviour is untouched
    run = ws.only_run()
    assert run["params"] == RECEIVED
    assert run["label"] == "out=rain5.csv verbose=yes window=5"
    [found] = json.loads(ws.recipe("runs", "--where", "window=5", "--json").stdout)
    assert found["id"] == run["id"]


@pytest.mark.parametrize("parser", PARSERS)
def test_a_script_importing_recipe_records_the_arguments_it_received(ws: Workspace,
                                                                     parser: str) -> None:
    script = ws.write("other.py", "    import recipe\n" + PARSERS[parser])
    result = ws.python(script, "--window", "5", "--out", "rain5.csv", "--verbose")
    assert result.stdout == "5 rain5.csv True\n"
    assert ws.only_run()["params"] == RECEIVED
    assert ws.recipe("runs", "--where", "window=5", "--where", "verbose=yes",
                     "--format", "csv").stdout.count("\n") == 2  # header and the run


def test_defaults_are_recorded_only_where_the_script_got_them(ws: Workspace) -> None:
    script = ws.write("other.py", ARGPARSE)
    ws.recipe("run", str(script), "--", "--out", "x.csv")
    assert ws.only_run()["params"] == {"window": 3, "out": "x.csv", "verbose": False}


@pytest.mark.parametrize("parser", PARSERS)
def test_parser_errors_and_help_pass_through_unchanged(ws: Workspace, parser: str) -> None:
    script = ws.write("other.py", PARSERS[parser])
    plain = subprocess.run([sys.executable, str(script), "--window", "many"], cwd=ws.root,
                           env=ws.env, capture_output=True, text=True)
    recorded = ws.recipe("run", str(script), "--", "--window", "many", check=False)
    assert (recorded.returncode, recorded.stdout) == (plain.returncode, plain.stdout)
    assert plain.returncode == 2 and plain.stderr.splitlines()[-1] in recorded.stderr
    plain_help = subprocess.run([sys.executable, str(script), "--help"], cwd=ws.root, env=ws.env,
                                capture_output=True, text=True)
    assert ws.recipe("run", str(script), "--", "--help").stdout == plain_help.stdout
    assert "--window" in plain_help.stdout


def test_a_parser_fed_other_strings_says_nothing_about_the_run(ws: Workspace) -> None:
    ws.python(ws.write("s.py", """\
        import recipe, argparse
        settings = argparse.ArgumentParser()
        settings.add_argument("--window", type=int, default=3)
        print(settings.parse_args(["--window", "9"]).window)
        """))
    assert ws.only_run()["params"] == {}


def test_subcommands_record_their_options_too(ws: Workspace) -> None:
    script = ws.write("tool.py", """\
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("--seed", type=int, default=0)
        commands = parser.add_subparsers(dest="command")
        fit = commands.add_parser("fit")
        fit.add_argument("--epochs", type=int, default=10)
        fit.set_defaults(handler=print)  # not a parameter: a function
        args = parser.parse_args()
        print(args.command, args.epochs)
        """)
    assert ws.recipe("run", str(script), "--", "--seed", "4", "fit", "--epochs", "2").stdout \
        == "fit 2\n"
    assert ws.only_run()["params"] == {"seed": 4, "command": "fit", "epochs": 2}


def test_the_computation_is_what_the_script_received(ws: Workspace) -> None:
    """A sweep must not serve window=3 from a run that computed window=5."""
    script = ws.write("other.py", ARGPARSE)
    ws.recipe("run", str(script), "--", "--window", "5")
    ws.recipe("run", str(script), "-p", "window=5")
    ws.recipe("run", str(script))
    defaults, given, after_dashes = ws.runs()  # newest first
    assert [run["params"]["window"] for run in (defaults, given, after_dashes)] == [3, 5, 5]
    assert after_dashes["computation"] == given["computation"] != defaults["computation"]


# -- git.diff: text source only ------------------------------------------------------------

def git(ws: Workspace, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=T", "-c", "user.email=t@example.org", *args],
                          cwd=ws.root, check=True, capture_output=True, text=True).stdout


def test_earlier_outputs_and_exports_stay_out_of_the_diff(ws: Workspace) -> None:
    git(ws, "init", "-q", "-b", "main")
    script = ws.write("analysis.py", """\
        import recipe, json
        import numpy as np, pandas as pd
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        frame = pd.DataFrame({"year": [2000, 2001], "t": [1.5, 1.7]})
        frame.to_csv("table.csv", index=False)
        np.savetxt("trend.txt", [0.1, 0.2])
        plt.plot(frame.year, frame.t)
        plt.savefig("graph.png")
        with open("summary.json", "w") as handle:
            json.dump({"mean": 1.6}, handle)
        recipe.log_output("summary.json")
        """)
    ws.write("helper.py", "SCALE = 2  # untracked source\n")
    git(ws, "add", "analysis.py")
    git(ws, "commit", "-qm", "analysis")
    ws.python(script)
    ws.recipe("export", "-o", "runs.json")
    ws.python(script)
    diff = ws.runs()[0]["git"]["diff"]
    assert "+SCALE = 2  # untracked source" in diff.splitlines()
    for name in ("table.csv", "trend.txt", "graph.png", "summary.json", "runs.json"):
        assert name not in diff, name
    [first, second] = [run["id"] for run in reversed(ws.runs())]
    assert "code: the same" in ws.recipe("diff", first, second).stdout


def test_an_env_file_never_enters_the_diff(ws: Workspace) -> None:
    git(ws, "init", "-q", "-b", "main")
    script = ws.write("s.py", "import recipe\n")
    git(ws, "add", "s.py")
    git(ws, "commit", "-qm", "s")
    ws.write(".env", "DATABASE_PASSWORD=hunter2\n")
    ws.python(script)
    run = ws.only_run()
    assert run["git"]["dirty"] is True and "hunter2" not in json.dumps(run)


# -- libraries ------------------------------------------------------------------------------

def test_the_first_run_maps_import_names_to_distribution_names(ws: Workspace) -> None:
    import importlib.metadata

    assert not ws.home.exists()
    ws.python(ws.write("s.py", "import recipe\nimport PIL.Image, dateutil.parser\n"))
    libraries = ws.only_run()["libraries"]
    assert libraries["pillow"] == importlib.metadata.version("pillow")
    assert libraries["python-dateutil"] == importlib.metadata.version("python-dateutil")
    assert "PIL" not in libraries and "dateutil" not in libraries


# -- default tags ---------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "tags"), [
    ("constrained.py", []),
    ("retrain.py", []),
    ("training-loop.py", ["model"]),
    ("TrainModel.py", ["model"]),
    ("preprocess_images.py", ["dataset"]),
])
def test_default_tags_match_whole_words(ws: Workspace, name: str, tags: list[str]) -> None:
    ws.python(ws.write(name, "import recipe\n"))
    assert ws.only_run()["tags"] == tags


def test_the_wrapped_parsers_look_like_the_originals(ws: Workspace) -> None:
    script = ws.write("look.py", """\
        import argparse, inspect, click
        for function in (argparse.ArgumentParser.parse_known_args,
                         argparse.ArgumentParser.parse_known_intermixed_args,
                         click.Command.main, click.Command.make_context):
            print(function.__qualname__, inspect.signature(function), function.__doc__)
        parser = argparse.ArgumentParser()
        parser.add_argument("--x")
        print(parser.parse_args(iter(["--x", "1"])))  # an iterator, read by argparse alone
        """)
    plain = subprocess.run([sys.executable, str(script)], cwd=ws.root, env=ws.env,
                           capture_output=True, text=True, check=True).stdout
    assert ws.recipe("run", str(script)).stdout == plain
