"""recipe_gui through Flask's test client: every page and its JSON twin, search and filters
with the semantics of `recipe search`, pagination over thousands of runs, escaping, CSRF,
the Host check, no file served from disk, damaged and missing stores, compare and sweeps.

Stores are filled through the real store API: records written to spool journals as a
recorder writes them, then `Store.merge_pending()`; the big store by bench/storegen.py.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from recipe import config
from recipe.cli import main as recipe_main
from recipe.execute.results import CACHED, EXECUTED, FAILED
from recipe.record import journal as spool
from recipe.record.hashing import hash_file
from recipe.store import Store, open_store
from recipe_gui import create_app

Record = dict[str, Any]
TOKEN = "c0ffee" * 10
XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
ATTR = '"><img src=x onerror=alert(2)>'
ATTR_ESCAPED = "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;"
BIG = 3000  # runs in the big store: 15 sealed shards of 200
DAY = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)


def hexdigest(seed: int) -> str:
    """A made-up content hash (32 hex digits, no common prefix with another seed's)."""
    return hashlib.md5(str(seed).encode()).hexdigest()


def make_client(settings: config.Config, **overrides: Any) -> FlaskClient:
    return make_app(settings, **overrides).test_client()


def make_app(settings: config.Config, **overrides: Any) -> Flask:
    # Not TESTING: errors are handled as the real server handles them (no propagation).
    return create_app({"RECIPE_SETTINGS": settings, "CSRF_TOKEN": TOKEN, **overrides})


def storegen() -> ModuleType:
    bench = str(Path(__file__).resolve().parents[1] / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    return importlib.import_module("storegen")


def html_of(response: Any) -> str:
    return response.get_data(as_text=True)


def ids(rows: list[Record]) -> list[str]:
    return [row["id"] for row in rows]


def row_ids_in_html(page: str) -> list[str]:
    """The run ids of a runs table, in the order shown (the compare checkboxes)."""
    return re.findall(r'<input type="checkbox" name="id" value="([0-9a-f]+)"', page)


# -- a small store: a little pipeline of five runs ------------------------------------------

@pytest.fixture
def store_runs(spool_run: Callable[..., str], settings: config.Config
               ) -> Callable[..., list[str]]:
    """Write (record, events) pairs into the spool and merge them, as recorders and the next
    reader do; their ids."""

    def add(*runs: tuple[Record, list[Record]]) -> list[str]:
        written = [spool_run(record, events) for record, events in runs]
        open_store(settings).merge_pending()
        return written

    return add


@pytest.fixture
def small(make_record: Callable[..., Record], make_event: Callable[..., Record],
          store_runs: Callable[..., list[str]], tmp_path: Path) -> SimpleNamespace:
    """prepare -> train (twice) -> evaluate (failed), and an interrupted plot; one a day.
    /data/raw/customers.csv has the content of tmp_path/copy_of_raw.csv."""
    copy = tmp_path / "copy_of_raw.csv"
    copy.write_text("name,churned\nana,0\nbo,1\n")
    raw = hash_file(str(copy), "xxh3_128")
    clean, model_1, model_2, plot = hexdigest(0xC1EA), hexdigest(0xAB01), hexdigest(0xAB02), \
        hexdigest(0xF16)

    def at(day: int, **extra: Any) -> Record:
        return make_record(start=DAY + timedelta(days=day), **extra)

    prepare = at(0, script="/project/prepare_data.py", tags=["dataset"], duration=12.0)
    train_1 = at(1, script="/project/train.py", tags=["model"], duration=30.0,
                 params={"lr": 0.1, "layers": 32}, results={"acc": 0.8},
                 label="layers=32 lr=0.1", libraries={"numpy": "2.0.0"})
    train_2 = at(2, script="/project/train.py", tags=["model", "paper"], duration=120.0,
                 params={"lr": 0.01, "layers": 32}, results={"acc": 0.85},
                 label="layers=32 lr=0.01", libraries={"numpy": "2.0.0"})
    evaluate = at(3, script="/project/evaluate.py", status="failed", duration=1.0,
                  exception={"type": "ValueError", "message": "bad shape",
                             "traceback": "Traceback (most recent call last):\n..."})
    plotting = at(4, script="/project/figures/plot.py", status="interrupted", duration=7.5)
    store_runs(
        (prepare, [make_event("input", "/data/raw/customers.csv", raw),
                   make_event("output", "/data/clean/customers.parquet", clean,
                              function="pandas.DataFrame.to_parquet")]),
        (train_1, [make_event("input", "/data/clean/customers.parquet", clean),
                   make_event("output", "/results/model.npy", model_1,
                              function="numpy.save")]),
        (train_2, [make_event("input", "/data/clean/customers.parquet", clean),
                   make_event("output", "/results/model.npy", model_2,
                              function="numpy.save")]),
        (evaluate, [make_event("input", "/results/model.npy", model_2)]),
        (plotting, [make_event("input", "/results/model.npy", model_2),
                    make_event("output", "/results/figure.png", plot,
                               function="matplotlib.pyplot.savefig")]),
    )
    return SimpleNamespace(prepare=prepare["id"], train_1=train_1["id"], train_2=train_2["id"],
                           evaluate=evaluate["id"], plot=plotting["id"], copy=str(copy),
                           raw=raw, clean=clean, model_1=model_1, model_2=model_2)


@pytest.fixture
def client(settings: config.Config) -> FlaskClient:
    return make_client(settings)


@pytest.fixture
def sweep_id(make_record: Callable[..., Record], store_runs: Callable[..., list[str]],
             settings: config.Config) -> str:
    """A finished sweep of train.py over lr: three executed points, one cached from an
    earlier sweep, one failed (no result), as `recipe.sweep` saves it."""
    sweep = "5eed5eed" + "0" * 8
    earlier = "ea41e4" + "0" * 10
    points = [(0.1, 0.52, sweep, "completed"), (0.01, 0.31, sweep, "completed"),
              (1.0, 0.9, earlier, "completed"), (0.5, 0.66, sweep, "completed"),
              (2.0, None, sweep, "failed")]
    records = []
    for index, (lr, loss, owner, status) in enumerate(points):
        records.append(make_record(
            start=DAY + timedelta(days=10, minutes=index), script="/project/train.py",
            status=status, params={"lr": lr}, results={} if loss is None else {"loss": loss},
            label=f"lr={lr!r}", sweep=owner, computation=hexdigest(900 + index)))
    store_runs(*[(record, []) for record in records])
    states = [CACHED if owner != sweep else (FAILED if status == "failed" else EXECUTED)
              for _, _, owner, status in points]
    open_store(settings).save_sweep({
        "id": sweep, "target": "/project/train.py", "mode": "independent",
        "params": {"lr": [0.01, 0.5, 1.0, 2.0]}, "nominal": {}, "executor": "inline",
        "jobs": 1, "start": records[0]["start"], "end": records[-1]["end"],
        "status": "failed",
        "runs": [{"id": record["id"], "key": {"lr": record["params"]["lr"]}, "state": state,
                  "error": "ValueError: diverged" if state == FAILED else None}
                 for record, state in zip(records, states, strict=True)],
        "counts": {state: states.count(state) for state in (EXECUTED, CACHED, FAILED)}})
    return sweep


# -- every page and its JSON twin -------------------------------------------------------------

def pages(small: SimpleNamespace, sweep: str) -> list[str]:
    return ["/", f"/run/{small.train_1}", f"/run/{small.train_1[:8]}",
            f"/compare?id={small.train_1}&id={small.train_2}",
            "/file?path=/results/model.npy", f"/file?hash={small.model_2}",
            "/sweeps", f"/sweep/{sweep}"]


def test_every_page_is_html_and_links_its_json_twin(client: FlaskClient, small: SimpleNamespace,
                                                    sweep_id: str) -> None:
    for url in pages(small, sweep_id):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype == "text/html", url
        page = html_of(response)
        assert page.startswith("<!doctype html>") and "Traceback" not in page, url
        twin = re.search(r'<a href="([^"]+)">this page as JSON</a>', page).group(1)
        twin = twin.replace("&amp;", "&")
        answer = client.get(twin)
        assert answer.status_code == 200 and answer.mimetype == "application/json", twin
        # The same data whichever way it is asked for.
        assert client.get(url, headers={"Accept": "application/json"}).get_json() \
            == answer.get_json(), url


def test_a_browser_accept_header_gets_html_and_application_json_gets_json(
        client: FlaskClient, small: SimpleNamespace) -> None:
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert client.get("/", headers={"Accept": browser}).mimetype == "text/html"
    assert client.get("/", headers={"Accept": "*/*"}).mimetype == "text/html"
    answer = client.get("/", headers={"Accept": "application/json"})
    assert answer.mimetype == "application/json"
    assert ids(answer.get_json()["runs"]) == [small.plot, small.evaluate, small.train_2,
                                               small.train_1, small.prepare]


def test_the_json_twins_have_the_shapes_the_pages_show(client: FlaskClient,
                                                       small: SimpleNamespace) -> None:
    runs = client.get("/runs.json").get_json()
    assert list(runs) == ["runs", "total", "page", "per_page", "pages", "sort", "order", "query",
                          "warnings", "notices"]
    assert (runs["total"], runs["page"], runs["per_page"], runs["pages"]) == (5, 1, 50, 1)
    assert (runs["sort"], runs["order"]) == ("start", "desc")
    assert runs["query"] == dict.fromkeys(("q", "script", "status", "tag", "since", "until"),
                                          "")
    first = runs["runs"][0]
    assert {"id", "script", "start", "status", "duration", "inputs", "outputs", "tags",
            "label", "note_count"} <= set(first)
    assert first["outputs"] == [{"path": "/results/figure.png", "hash": hexdigest(0xF16),
                                 "hash_algorithm": "xxh3_128"}]

    one = client.get(f"/run/{small.train_1[:10]}.json").get_json()
    assert list(one) == ["run", "related"]
    assert one["run"]["id"] == small.train_1 and one["run"]["params"] == {"lr": 0.1,
                                                                          "layers": 32}
    assert one["run"]["outputs"][0]["function"] == "numpy.save"
    # One hop of lineage: who wrote what it read, who else read it.
    assert [(r["id"], r["kind"]) for r in one["related"][small.clean]] == [
        (small.prepare, "wrote"), (small.train_2, "read")]
    assert small.model_1 not in one["related"]  # nobody else touched that content

    compared = client.get(f"/compare.json?id={small.train_1}&id={small.train_2[:8]}").get_json()
    assert list(compared) == ["runs", "sections"]
    assert ids(compared["runs"]) == [small.train_1, small.train_2]
    assert [s["title"] for s in compared["sections"]] == [
        "run", "parameters", "results", "inputs", "outputs", "libraries", "git"]

    history = client.get("/file.json?path=/data/clean/customers.parquet").get_json()
    assert list(history) == ["path", "hash", "history", "lineage"]
    assert [(h["run"]["id"], h["kind"]) for h in history["history"]] == [
        (small.prepare, "wrote"), (small.train_1, "read"), (small.train_2, "read")]
    assert history["history"][0]["inputs"][0]["path"] == "/data/raw/customers.csv"
    # Where it came from and what was made from it (as `recipe lineage`).
    up, down = history["lineage"]["up"], history["lineage"]["down"]
    assert [run["id"] for run in up["runs"]] == [small.prepare]
    assert [f["path"] for f in up["runs"][0]["files"]] == ["/data/raw/customers.csv"]
    assert sorted(run["id"] for run in down["runs"]) == sorted([small.train_1, small.train_2])
    [model_2] = [f for run in down["runs"] if run["id"] == small.train_2 for f in run["files"]]
    assert sorted(run["id"] for run in model_2["runs"]) == sorted([small.evaluate, small.plot])
    page = html_of(client.get("/file?path=/data/clean/customers.parquet"))
    assert "Where it came from" in page and "What was made from it" in page

    by_hash = client.get(f"/file.json?hash={small.model_2.upper()}").get_json()
    assert by_hash["hash"] == small.model_2
    assert [(h["run"]["id"], h["kind"]) for h in by_hash["history"]] == [
        (small.train_2, "wrote"), (small.evaluate, "read"), (small.plot, "read")]

    assert client.get("/sweeps.json").get_json() == {"sweeps": []}


def test_the_run_page_shows_every_file_with_its_hash_status_notes_and_forms(
        client: FlaskClient, small: SimpleNamespace) -> None:
    page = html_of(client.get(f"/run/{small.train_2}"))
    for path, digest in (("/data/clean/customers.parquet", small.clean),
                         ("/results/model.npy", small.model_2)):
        assert f'href="/file?path={path}">{path}</a>' in page
        assert f">{digest[:12]}</a>" in page
    assert '<span class="status status-completed">completed</span>' in page
    assert "no notes yet" in page
    assert f'action="/run/{small.train_2}/annotate"' in page
    assert f'action="/run/{small.train_2}/tag"' in page
    assert f'name="csrf_token" value="{TOKEN}"' in page
    # Other runs with this content: the writer of its input, the readers of its output.
    assert f'href="/run/{small.prepare}"' in page and f'href="/run/{small.evaluate}"' in page

    failed = html_of(client.get(f"/run/{small.evaluate}"))
    assert "ValueError" in failed and "bad shape" in failed
    assert "status-failed" in failed

    download = client.get(f"/run/{small.train_2[:8]}/download")
    assert download.status_code == 200 and download.mimetype == "application/json"
    assert download.headers["Content-Disposition"] == \
        f'attachment; filename="run-{small.train_2}.json"'
    assert download.get_json()["id"] == small.train_2


def test_the_run_page_shows_a_notebook_runs_cells_with_the_files_each_touched(
        client: FlaskClient, make_record: Callable[..., Record],
        make_event: Callable[..., Record], store_runs: Callable[..., list[str]]) -> None:
    cells = [{"execution_count": 1, "code": "import numpy as np", "duration": 0.5},
             {"execution_count": 4, "code": f"np.save('{XSS}.npy', x)", "duration": 0.1,
              "error": "ValueError: bad shape"},
             {"execution_count": None, "code": "silent()", "duration": 0.0}]
    written = {**make_event("output", "/project/out.npy", function="numpy.save"), "cell": 4}
    (run_id,) = store_runs((make_record(script="/project/explore.ipynb", cells=cells),
                            [written, make_event("input", "/project/elsewhere.csv")]))

    page = html_of(client.get(f"/run/{run_id}"))

    shown = page[page.index("<h2>Cells"):page.index("<h2>Code")]
    first, second = shown.split('id="cell-2"')[0], shown.split('id="cell-2"')[1]
    assert "import numpy as np" in first and "/project/out.npy" not in first
    assert XSS_ESCAPED in second and "ValueError: bad shape" in second
    assert 'href="/file?path=/project/out.npy">/project/out.npy</a>' in second
    assert "elsewhere.csv" not in shown  # logged outside any cell
    assert client.get(f"/run/{run_id}.json").get_json()["run"]["cells"] == cells


def test_the_runs_page_lists_newest_first_and_links_each_run(client: FlaskClient,
                                                             small: SimpleNamespace) -> None:
    page = html_of(client.get("/"))
    newest_first = [small.plot, small.evaluate, small.train_2, small.train_1, small.prepare]
    assert row_ids_in_html(page) == newest_first
    for run_id in newest_first:
        assert f'<a class="mono" href="/run/{run_id}">{run_id[:8]}</a>' in page
    assert '<span class="count">5</span>' in page and "page 1 of 1" in page


@pytest.mark.parametrize("url", ["/run/0123456789abcdef", "/run/0123456789abcdef.json",
                                 "/run/abc", "/run/0123456789abcdef/download",
                                 "/compare?id=0123456789&id=abcdef0123",
                                 "/sweep/0123456789", "/sweep/0123456789.json", "/nowhere"])
def test_unknown_runs_and_pages_are_404_in_html_and_json(client: FlaskClient,
                                                         small: SimpleNamespace,
                                                         url: str) -> None:
    page = client.get(url)
    assert page.status_code == 404
    if url.endswith(".json"):
        assert page.get_json()["error"] == "Not Found"
    else:
        assert page.mimetype == "text/html" and "<h1>Not Found</h1>" in html_of(page)
        assert "Traceback" not in html_of(page)
    answer = client.get(url, headers={"Accept": "application/json"})
    assert answer.status_code == 404
    assert answer.get_json()["error"] == "Not Found" and answer.get_json()["message"]


def test_bad_arguments_are_400_with_a_message(client: FlaskClient,
                                              small: SimpleNamespace) -> None:
    for url in ["/?sort=evil", "/?page=two", "/runs.json?per_page=x",
                f"/compare?id={small.train_1}", "/compare", "/file", "/file.json?path="]:
        answer = client.get(url)
        assert answer.status_code == 400, url
        assert "Traceback" not in html_of(answer)
    assert "sort must be one of" in client.get("/runs.json?sort=evil").get_json()["message"]


def test_comparing_a_run_with_itself_is_refused(client: FlaskClient,
                                                small: SimpleNamespace) -> None:
    answer = client.get(f"/compare?id={small.train_1}&id={small.train_1[:8]}")
    assert answer.status_code == 400


# -- search and filters: the semantics of `recipe search` -------------------------------------

def cli_search(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    capsys.readouterr()
    code = recipe_main(["search", *args, "--json"])
    found = json.loads(capsys.readouterr().out)
    assert code == (0 if found else 1)
    return ids(found)


def gui_search(client: FlaskClient, term: str) -> list[str]:
    return ids(client.get("/runs.json", query_string={"q": term}).get_json()["runs"])


def test_the_search_box_finds_what_recipe_search_finds(client: FlaskClient,
                                                       small: SimpleNamespace,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    expected = {
        "customers": [small.train_2, small.train_1, small.prepare],  # path substring
        "model.npy": [small.plot, small.evaluate, small.train_2, small.train_1],  # basename
        "/data/raw/": [small.prepare],
        small.copy: [small.prepare],  # a file with the same content under another name
        small.model_2[:10]: [small.plot, small.evaluate, small.train_2],  # a hash prefix
        small.train_1[:8]: [small.train_1],  # an id prefix
        small.train_1: [small.train_1],
        "nothing-like-this": [],
    }
    for term, wanted in expected.items():
        assert gui_search(client, term) == wanted, term
        # The CLI: `recipe search TERM` plus `recipe search --id TERM`.
        by_cli = set(cli_search(capsys, term)) | set(cli_search(capsys, "--id", term))
        assert set(wanted) == by_cli, term


def test_the_search_box_is_in_every_page_and_shows_the_term(client: FlaskClient,
                                                            small: SimpleNamespace) -> None:
    page = html_of(client.get("/", query_string={"q": "model.npy"}))
    assert '<form class="search" action="/" method="get" role="search">' in page
    assert page.count('name="q" value="model.npy"') == 2  # the header and the filters
    assert '<span class="count">4</span>' in page
    assert row_ids_in_html(page) == [small.plot, small.evaluate, small.train_2, small.train_1]
    assert "No run matches." in html_of(client.get("/?q=nothing-like-this"))
    assert 'role="search"' in html_of(client.get(f"/run/{small.prepare}"))


@pytest.mark.parametrize(("query", "wanted"), [
    ({"script": "train.py"}, ["train_2", "train_1"]),
    ({"script": "figures/plot.py"}, ["plot"]),
    ({"script": "rain.py"}, []),  # a file name or a path suffix, not a substring
    ({"status": "failed"}, ["evaluate"]),
    ({"status": "interrupted"}, ["plot"]),
    ({"tag": "paper"}, ["train_2"]),
    ({"tag": "model"}, ["train_2", "train_1"]),
    ({"since": "2024-03-02", "until": "2024-03-03"}, ["train_2", "train_1"]),  # whole days
    ({"since": "2024-03-04"}, ["plot", "evaluate"]),
    ({"until": "2024-03-01"}, ["prepare"]),
    ({"since": "2024-03-02T09:30"}, ["plot", "evaluate", "train_2"]),
    ({"script": "train.py", "tag": "model", "since": "2024-03-03"}, ["train_2"]),
    ({"q": "model.npy", "status": "completed"}, ["train_2", "train_1"]),
    ({"q": "customers", "script": "prepare_data.py"}, ["prepare"]),
])
def test_filters(client: FlaskClient, small: SimpleNamespace, query: dict[str, str],
                 wanted: list[str]) -> None:
    answer = client.get("/runs.json", query_string=query).get_json()
    assert ids(answer["runs"]) == [getattr(small, name) for name in wanted]
    assert answer["total"] == len(wanted)
    assert all(answer["query"][key] == value for key, value in query.items())
    page = html_of(client.get("/", query_string=query))
    assert row_ids_in_html(page) == [getattr(small, name) for name in wanted]


@pytest.mark.parametrize(("sort", "order", "wanted"), [
    ("start", "desc", ["plot", "evaluate", "train_2", "train_1", "prepare"]),
    ("start", "asc", ["prepare", "train_1", "train_2", "evaluate", "plot"]),
    ("duration", "desc", ["train_2", "train_1", "prepare", "plot", "evaluate"]),
    ("duration", "asc", ["evaluate", "plot", "prepare", "train_1", "train_2"]),
    ("script", "asc", ["evaluate", "plot", "prepare", "train_2", "train_1"]),
    ("status", "asc", ["train_2", "train_1", "prepare", "evaluate", "plot"]),
])
def test_sorting(client: FlaskClient, small: SimpleNamespace, sort: str, order: str,
                 wanted: list[str]) -> None:
    answer = client.get("/runs.json", query_string={"sort": sort, "order": order}).get_json()
    got = ids(answer["runs"])
    assert got == [getattr(small, name) for name in wanted]  # ties stay newest first
    assert (answer["sort"], answer["order"]) == (sort, order)
    page = html_of(client.get("/", query_string={"sort": sort, "order": order}))
    assert row_ids_in_html(page) == got
    # The sorted column's header link flips the order.
    flipped = "asc" if order == "desc" else "desc"
    assert f'href="/?sort={sort}&amp;order={flipped}"' in page


# -- thousands of runs: pagination --------------------------------------------------------------

@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """A store of BIG generated runs (bench/storegen.py), built once for this module; its
    settings and every run's summary, newest first. Tests must not change it."""
    root = tmp_path_factory.mktemp("big")
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("RECIPE_"):
                patch.delenv(name)
        patch.setenv("RECIPE_HOME", str(root / "home"))
        patch.chdir(root)
        patch.setattr(os, "fsync", lambda descriptor: None)  # seeding a temporary store
        started = time.perf_counter()
        storegen().build_store(root / "home", BIG, progress=False)
        built = time.perf_counter() - started
        settings = config.load()
        everything = open_store(settings).summaries()
        assert len(everything) == BIG
        yield SimpleNamespace(settings=settings, runs=everything, seconds=built)


@pytest.fixture
def big_client(big: SimpleNamespace) -> FlaskClient:
    return make_client(big.settings)


def test_page_one_of_thousands_is_the_newest_runs_and_small(big: SimpleNamespace,
                                                            big_client: FlaskClient) -> None:
    started = time.perf_counter()
    response = big_client.get("/")
    elapsed = time.perf_counter() - started
    page = html_of(response)
    assert response.status_code == 200
    assert row_ids_in_html(page) == ids(big.runs[:50])
    assert f'<span class="count">{BIG}</span>' in page and f"page 1 of {BIG // 50}" in page
    assert 'href="/?page=2" rel="next"' in page and 'rel="prev"' not in page
    assert len(response.data) < 200_000, len(response.data)
    assert elapsed < 5, f"page 1 of {BIG} runs took {elapsed:.2f} s"

    answer = big_client.get("/runs.json")
    data = answer.get_json()
    assert (data["total"], data["pages"], data["per_page"]) == (BIG, BIG // 50, 50)
    starts = [row["start"] for row in data["runs"]]
    assert starts == sorted(starts, reverse=True)
    assert len(answer.data) < 100_000, len(answer.data)


@pytest.mark.parametrize(("page", "per_page"), [(2, 50), (17, 50), (60, 50), (3, 7),
                                                (1, 500), (6, 500), (14, 217)])
def test_any_page_of_thousands(big: SimpleNamespace, big_client: FlaskClient, page: int,
                               per_page: int) -> None:
    data = big_client.get(f"/runs.json?page={page}&per_page={per_page}").get_json()
    offset = (page - 1) * per_page
    assert ids(data["runs"]) == ids(big.runs[offset:offset + per_page])
    assert (data["total"], data["page"], data["per_page"]) == (BIG, page, per_page)
    assert data["pages"] == -(-BIG // per_page)
    html = html_of(big_client.get(f"/?page={page}&per_page={per_page}"))
    assert row_ids_in_html(html) == ids(data["runs"])
    assert ('rel="next"' in html) == (page < data["pages"])
    assert ('rel="prev"' in html) == (page > 1)


def test_page_sizes_are_clamped(big: SimpleNamespace, big_client: FlaskClient) -> None:
    data = big_client.get("/runs.json?per_page=100000").get_json()
    assert data["per_page"] == 500 and ids(data["runs"]) == ids(big.runs[:500])
    data = big_client.get("/runs.json?per_page=0&page=-4").get_json()
    assert (data["per_page"], data["page"]) == (1, 1) and ids(data["runs"]) == ids(big.runs[:1])
    small_app = make_client(big.settings, PAGE_SIZE=20)
    data = small_app.get("/runs.json").get_json()
    assert data["per_page"] == 20 and data["pages"] == BIG // 20


def test_a_page_past_the_end_does_not_say_the_store_is_empty(big_client: FlaskClient) -> None:
    page = html_of(big_client.get("/?page=999"))
    assert f'<span class="count">{BIG}</span>' in page
    assert "No runs recorded yet" not in page


def test_filters_sorting_and_search_over_thousands(big: SimpleNamespace,
                                                   big_client: FlaskClient) -> None:
    failed = [row for row in big.runs if row["status"] == "failed"]
    data = big_client.get("/runs.json?status=failed&page=2&per_page=20").get_json()
    assert data["total"] == len(failed) and ids(data["runs"]) == ids(failed[20:40])

    trained = [row for row in big.runs if os.path.basename(row["script"]) == "train_model.py"]
    data = big_client.get("/runs.json?script=train_model.py&tag=model&page=3").get_json()
    assert data["total"] == len(trained) and ids(data["runs"]) == ids(trained[100:150])

    # Three whole days, across sealed shards (288 runs a day).
    days = [row for row in big.runs if "2023-01-05" <= row["start"][:10] <= "2023-01-07"]
    data = big_client.get("/runs.json?since=2023-01-05&until=2023-01-07&page=4").get_json()
    assert data["total"] == len(days) == 3 * 288
    assert ids(data["runs"]) == ids(days[150:200])

    by_duration = sorted(big.runs, key=lambda row: row["duration"])
    data = big_client.get("/runs.json?sort=duration&order=asc&page=3").get_json()
    assert ids(data["runs"]) == ids(by_duration[100:150])

    old = big.runs[-7]  # in the oldest shard
    for term in (old["inputs"][0]["path"].rsplit("/", 1)[1], old["id"][:8],
                 old["outputs"][1]["hash"][:12]):
        data = big_client.get("/runs.json", query_string={"q": term}).get_json()
        assert ids(data["runs"]) == [old["id"]], term
    assert big_client.get("/runs.json?q=results/run_0001").get_json()["total"] == 100
    page = big_client.get("/?q=sample_")
    assert page.status_code == 200 and len(page.data) < 200_000
    assert f'<span class="count">{BIG}</span>' in html_of(page)


def test_id_and_hash_prefixes_are_case_insensitive_in_every_shard(
        big: SimpleNamespace, big_client: FlaskClient) -> None:
    old = big.runs[-7]
    for term in (old["id"][:8].upper(), old["outputs"][1]["hash"][:12].upper()):
        data = big_client.get("/runs.json", query_string={"q": term}).get_json()
        assert ids(data["runs"]) == [old["id"]], term


# -- escaping ---------------------------------------------------------------------------------

@pytest.fixture
def evil(make_record: Callable[..., Record], make_event: Callable[..., Record],
         store_runs: Callable[..., list[str]], settings: config.Config) -> SimpleNamespace:
    """Runs whose every text field a script or a repository controls holds markup."""
    digest = hexdigest(0xE71)
    diff = (f"diff --git a/{XSS}.py b/{XSS}.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n"
            f"-print(1)\n+print('{XSS}')  # {ATTR}\n")
    bad = make_record(
        start=DAY, script=f"/project/{XSS}.py", command=[f"/project/{XSS}.py", ATTR],
        cwd=f"/project/{ATTR}", tags=[XSS, "ok"],
        params={"name": XSS, "list": [XSS, ATTR]}, results={"out": ATTR},
        label=f"name={XSS}", libraries={XSS: ATTR}, user=XSS, hostname=ATTR,
        exception={"type": XSS, "message": ATTR, "traceback": f"Traceback\n{XSS}"},
        git={"root": f"/repo/{XSS}", "commit": "0" * 40, "branch": XSS,
             "remote": f"https://example.org/{ATTR}.git", "dirty": True, "diff": diff})
    plain = make_record(start=DAY + timedelta(hours=1), script="/project/plain.py")
    path = f"/data/{XSS}/{ATTR}.csv"
    store_runs((bad, [make_event("input", path, digest),
                      make_event("output", f"/out/{XSS}.npy", hexdigest(0xE72),
                                 function=XSS)]),
               (plain, [make_event("input", path, digest)]))
    sweep = "e7115eed00000000"
    open_store(settings).save_sweep({
        "id": sweep, "target": f"/project/{XSS}.py", "mode": XSS, "params": {XSS: [ATTR]},
        "nominal": {}, "executor": ATTR, "jobs": 1, "start": bad["start"], "end": None,
        "status": ATTR, "runs": [{"id": bad["id"], "key": {XSS: ATTR}, "state": EXECUTED,
                                  "error": None}],
        "counts": {EXECUTED: 1, CACHED: 0, FAILED: 0}})
    return SimpleNamespace(bad=bad["id"], plain=plain["id"], path=path, digest=digest,
                           sweep=sweep)


def test_markup_from_the_store_is_escaped_on_every_page(client: FlaskClient,
                                                        evil: SimpleNamespace) -> None:
    # A note and a tag added through the forms, as a user would.
    for route, field in (("annotate", "text"), ("tag", "tags")):
        answer = client.post(f"/run/{evil.bad}/{route}",
                             data={field: f"{XSS} {ATTR}", "csrf_token": TOKEN})
        assert answer.status_code == 303
    pages = [("/", {}), ("/", {"q": XSS}), ("/", {"tag": XSS}), ("/", {"script": ATTR}),
             (f"/run/{evil.bad}", {}), ("/compare", {"id": [evil.bad, evil.plain]}),
             ("/file", {"path": evil.path}), ("/file", {"hash": evil.digest}),
             ("/sweeps", {}), (f"/sweep/{evil.sweep}", {}),
             ("/compare", {"id": [XSS, ATTR]})]  # an error page quoting what was asked
    for url, query in pages:
        response = client.get(url, query_string=query)
        page = html_of(response)
        assert response.status_code == (404 if query.get("id") == [XSS, ATTR] else 200), url
        scripts = re.findall(r"<script[^>]*>", page, re.IGNORECASE)
        assert scripts == ['<script src="/static/recipe.js" defer>'], (url, query)  # its own
        assert "<img" not in page.lower(), (url, query)
        assert XSS_ESCAPED in page or ATTR_ESCAPED in page, (url, query)
    run_page = html_of(client.get(f"/run/{evil.bad}"))
    assert run_page.count(XSS_ESCAPED) >= 10 and run_page.count(ATTR_ESCAPED) >= 5
    assert f"<p>{XSS_ESCAPED}" in run_page  # the note
    assert f"+print(&#39;{XSS_ESCAPED}&#39;)" in run_page  # the diff
    # The JSON twins hold the text as it was stored, served as JSON (not HTML).
    record = client.get(f"/run/{evil.bad}.json").get_json()["run"]
    assert record["notes"][-1]["text"] == f"{XSS} {ATTR}" and record["script"].count(XSS) == 1
    assert client.get(f"/run/{evil.bad}.json").mimetype == "application/json"


# -- state changes: POST only, CSRF token, no foreign Origin ---------------------------------

def notes_and_tags(client: FlaskClient, run_id: str) -> tuple[list[str], list[str]]:
    record = client.get(f"/run/{run_id}.json").get_json()["run"]
    return [note["text"] for note in record["notes"]], record["tags"]


def test_a_note_and_tags_with_the_token_are_stored(client: FlaskClient,
                                                   small: SimpleNamespace) -> None:
    page = html_of(client.get(f"/run/{small.train_1}"))
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)
    assert token == TOKEN

    answer = client.post(f"/run/{small.train_1[:8]}/annotate",
                         data={"text": "  baseline for the paper ", "csrf_token": token})
    assert answer.status_code == 303 and answer.headers["Location"] == f"/run/{small.train_1}"
    answer = client.post(f"/run/{small.train_1}/tag",
                         data={"tags": "paper, fig3 model", "csrf_token": token},
                         headers={"Origin": "http://localhost"})  # our own origin
    assert answer.status_code == 303

    assert notes_and_tags(client, small.train_1) == (["baseline for the paper"],
                                                     ["model", "paper", "fig3"])
    page = html_of(client.get(f"/run/{small.train_1}"))
    assert "<p>baseline for the paper</p>" in page and 'href="/?tag=fig3"' in page
    assert ids(client.get("/runs.json?tag=fig3").get_json()["runs"]) == [small.train_1]
    # The store holds it: a new app (another process) reads it back.
    assert open_store(config.load()).get(small.train_1)["notes"][0]["text"] == \
        "baseline for the paper"


@pytest.mark.parametrize(("data", "headers"), [
    ({}, {}),
    ({"csrf_token": ""}, {}),
    ({"csrf_token": "0" * 64}, {}),
    ({"csrf_token": TOKEN[:-1]}, {}),
    ({"csrf_token": TOKEN}, {"Origin": "http://evil.example"}),
    ({"csrf_token": TOKEN}, {"Origin": "http://localhost:8321"}),  # another port
    ({"csrf_token": TOKEN}, {"Origin": "null"}),
], ids=["none", "empty", "wrong", "truncated", "foreign-origin", "other-port", "null-origin"])
def test_state_changes_without_the_token_or_from_elsewhere_are_refused(
        client: FlaskClient, small: SimpleNamespace, data: dict[str, str],
        headers: dict[str, str]) -> None:
    for route, field in (("annotate", "text"), ("tag", "tags")):
        answer = client.post(f"/run/{small.train_1}/{route}",
                             data={field: "sneaky", **data}, headers=headers)
        assert answer.status_code == 403, route
        assert "Forbidden" in html_of(answer)
    json_answer = client.post(f"/run/{small.train_1}/annotate", data={"text": "x", **data},
                              headers={**headers, "Accept": "application/json"})
    assert json_answer.status_code == 403 and json_answer.get_json()["error"] == "Forbidden"
    assert notes_and_tags(client, small.train_1) == ([], ["model"])


def test_the_token_is_read_from_the_form_only(client: FlaskClient,
                                              small: SimpleNamespace) -> None:
    answer = client.post(f"/run/{small.train_1}/annotate?csrf_token={TOKEN}",
                         data={"text": "via the query string"},
                         headers={"X-CSRF-Token": TOKEN})
    assert answer.status_code == 403
    assert notes_and_tags(client, small.train_1)[0] == []


def test_each_app_has_its_own_random_token(settings: config.Config) -> None:
    first, second = create_app({"RECIPE_SETTINGS": settings}), \
        create_app({"RECIPE_SETTINGS": settings})
    assert re.fullmatch(r"[0-9a-f]{64}", first.config["CSRF_TOKEN"])
    assert first.config["CSRF_TOKEN"] != second.config["CSRF_TOKEN"]


def test_get_on_a_post_route_is_405(client: FlaskClient, small: SimpleNamespace) -> None:
    for route in ("annotate", "tag"):
        answer = client.get(f"/run/{small.train_1}/{route}?text=x&tags=x&csrf_token={TOKEN}")
        assert answer.status_code == 405 and "Method Not Allowed" in html_of(answer)
        answer = client.get(f"/run/{small.train_1}/{route}",
                            headers={"Accept": "application/json"})
        assert answer.status_code == 405 and answer.get_json()["error"] == "Method Not Allowed"
    assert notes_and_tags(client, small.train_1) == ([], ["model"])


def test_empty_notes_and_unknown_runs_are_refused(client: FlaskClient,
                                                  small: SimpleNamespace) -> None:
    assert client.post(f"/run/{small.train_1}/annotate",
                       data={"text": "   ", "csrf_token": TOKEN}).status_code == 400
    assert client.post(f"/run/{small.train_1}/tag",
                       data={"tags": " , ", "csrf_token": TOKEN}).status_code == 400
    assert client.post("/run/0123456789abcdef/annotate",
                       data={"text": "x", "csrf_token": TOKEN}).status_code == 404
    assert notes_and_tags(client, small.train_1) == ([], ["model"])


# -- the Host check (DNS rebinding) ---------------------------------------------------------

def test_only_the_allowed_host_names_are_answered(settings: config.Config,
                                                  small: SimpleNamespace) -> None:
    client = make_client(settings, ALLOWED_HOSTS={"127.0.0.1", "localhost", "::1"})
    for host in ("127.0.0.1:8321", "localhost", "localhost:5000", "[::1]:8321"):
        assert client.get("/", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example", "evil.example:8321", "localhost.evil.example",
                 "127.0.0.1.nip.io:8321", "0.0.0.0:8321"):
        answer = client.get("/runs.json", headers={"Host": host})
        assert answer.status_code == 400, host
        assert answer.get_json()["message"] == "unexpected Host header"
        assert client.get("/", headers={"Host": host}).status_code == 400
        assert client.post(f"/run/{small.train_1}/annotate", headers={"Host": host},
                           data={"text": "x", "csrf_token": TOKEN}).status_code == 400
    assert notes_and_tags(client, small.train_1)[0] == []
    # Without ALLOWED_HOSTS (serving on another address by choice) any Host is answered.
    assert make_client(settings).get("/", headers={"Host": "evil.example"}).status_code == 200


@pytest.mark.parametrize(("bound", "allowed", "refused"), [
    ("127.0.0.2", ["127.0.0.2:8321", "localhost:8321", "[::1]:8321"],
     ["evil.example", "127.0.0.2.nip.io", "10.1.2.3:8321"]),
    ("0.0.0.0", ["10.1.2.3:8321", "[fe80::1]:8321", "localhost", "lab.example:8321"],
     ["evil.example:8321", "10.1.2.3.nip.io"]),
    ("lab.example", ["lab.example:8321", "127.0.0.1"], ["evil.example", "lab.example.evil"]),
])
def test_a_server_bound_elsewhere_answers_only_its_own_names(
        settings: config.Config, small: SimpleNamespace, bound: str, allowed: list[str],
        refused: list[str]) -> None:
    from recipe_gui import allowed_hosts

    names = ("lab.example",) if bound == "0.0.0.0" else ()
    client = make_client(settings, ALLOWED_HOSTS=allowed_hosts(bound, names))
    for host in allowed:
        assert client.get("/runs.json", headers={"Host": host}).status_code == 200, host
    for host in refused:
        answer = client.get("/runs.json", headers={"Host": host})
        assert answer.status_code == 400, host
        assert client.post(f"/run/{small.train_1}/annotate", headers={"Host": host},
                           data={"text": "x", "csrf_token": TOKEN}).status_code == 400
    assert notes_and_tags(client, small.train_1)[0] == []


def test_the_gui_command_allows_the_bound_address_and_allow_host_names(
        settings: config.Config) -> None:
    from recipe.cli.upkeep import _app_for

    app = _app_for(settings, "127.0.0.2", ("lab.example",))
    client = app.test_client()
    assert client.get("/", headers={"Host": "lab.example:8321"}).status_code == 200
    assert client.get("/", headers={"Host": "127.0.0.2:8321"}).status_code == 200
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400


# -- security headers ---------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/", "/runs.json", "/static/style.css", "/static/recipe.js",
                                 "/run/ffffffffffff", "/sweeps", "/no-such-page"])
def test_every_response_carries_the_security_headers(client: FlaskClient,
                                                     small: SimpleNamespace, url: str) -> None:
    with client.get(url) as answer:
        headers = answer.headers
    policy = dict(part.strip().split(" ", 1)
                  for part in headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'" and policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"  # keeps Origin for the POST check


def test_no_template_has_inline_script_or_style(client: FlaskClient, small: SimpleNamespace,
                                                sweep_id: str) -> None:
    """What the CSP forbids must not be needed: no <script> body, no on* handler, no
    style= attribute, no <style> element, on any page."""
    for url in pages(small, sweep_id):
        page = html_of(client.get(url))
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), url
        assert not re.search(r"\son[a-z]+\s*=", page), url
        assert not re.search(r"\sstyle\s*=|<style", page), url


# -- no large file read on a GET -------------------------------------------------------------

def test_a_get_never_hashes_a_large_file(client: FlaskClient, small: SimpleNamespace,
                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    """A cross-site page can make the browser GET /?q=<a path>: a 2 GiB file there must
    be matched by its path only, never read."""
    from recipe.store import query as query_module

    huge = tmp_path / "huge.bin"
    with open(huge, "wb") as handle:
        handle.truncate(2 * 2**30)  # sparse: 2 GiB that take no disk space
    hashed = []
    real_hash_file = query_module.hash_file
    monkeypatch.setattr(query_module, "hash_file",
                        lambda path, algorithm: hashed.append(path) or
                        real_hash_file(path, algorithm))
    data = client.get("/runs.json", query_string={"q": str(huge)}).get_json()
    assert hashed == [] and data["total"] == 0
    assert "not searched here" in data["notices"][0]
    assert "not searched here" in html_of(client.get("/", query_string={"q": str(huge)}))
    # A small file is still found by its content, under any name.
    found = client.get("/runs.json", query_string={"q": small.copy}).get_json()
    assert hashed == [small.copy] and [run["id"] for run in found["runs"]] == [small.prepare]


# -- nothing from disk but the app's static files ---------------------------------------------

@pytest.mark.parametrize("url", [
    "/static/../recipe/store.py", "/static/..%2f__init__.py", "/static/%2e%2e/views.py",
    "/static/..%2f..%2frecipe%2fstore.py", "/static/%2e%2e%2f%2e%2e%2fpyproject.toml",
    "/static//etc/passwd", "/static/%2fetc%2fpasswd", "/run/..%2f..%2fetc%2fpasswd",
    "/run/..%2f..%2fetc%2fpasswd/download", "/templates/base.html", "/views.py",
])
def test_no_file_outside_static_is_served(client: FlaskClient, small: SimpleNamespace,
                                          url: str) -> None:
    with client.get(url, follow_redirects=True) as answer:  # `//` is redirected first
        assert answer.status_code in (404, 400), url
        text = html_of(answer)
    for secret in ("root:x:0", "def create_app", "class Store", "[build-system]",
                   "{% block"):
        assert secret not in text


def test_the_static_files_are_served(client: FlaskClient) -> None:
    with client.get("/static/style.css") as answer:
        assert answer.status_code == 200 and answer.mimetype == "text/css"
        assert "recipe's viewer" in html_of(answer)


def test_a_file_page_shows_history_never_content(client: FlaskClient, make_record: Callable,
                                                 make_event: Callable,
                                                 store_runs: Callable[..., list[str]],
                                                 tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT\n")
    assert "No recorded run read or wrote this file." in html_of(
        client.get("/file?path=/etc/passwd"))
    [reader] = store_runs((make_record(), [make_event("input", "/etc/passwd"),
                                           make_event("input", str(secret))]))
    for path in ("/etc/passwd", str(secret), "../../../../etc/passwd"):
        for url in ("/file", "/file.json"):
            answer = client.get(url, query_string={"path": path})
            assert answer.status_code == 200
            text = html_of(answer)
            assert "root:x:0" not in text and "TOP-SECRET-CONTENT" not in text
    history = client.get("/file.json", query_string={"path": "/etc/passwd"}).get_json()
    assert [entry["run"]["id"] for entry in history["history"]] == [reader]
    assert client.get("/file.json?path=../../../../etc/passwd").get_json()["history"] == []


# -- damaged and missing stores -------------------------------------------------------------

def damage(path: Path) -> None:
    path.write_text('{"runs": {"1": {"id": ')


@pytest.fixture(scope="module")
def sealed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of 450 generated runs: two sealed shards of 200 and 50 in the head."""
    home = tmp_path_factory.mktemp("sealed") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", lambda descriptor: None)  # seeding a temporary store
        storegen().build_store(home, 450, progress=False)
    return home


@pytest.fixture
def sealed_store(sealed_template: Path, home: Path, settings: config.Config) -> Store:
    """A copy of the 450-run store in this test's RECIPE_HOME, to damage at will."""
    shutil.copytree(sealed_template, home)
    store = open_store(settings)
    assert store.check() == []
    return store


def assert_clear_page(response: Any, *, repair: bool = True) -> str:
    """A page that says what is wrong (and what to do), with no traceback."""
    page = html_of(response)
    assert response.status_code in (200, 503), response.status_code
    assert "Traceback" not in page and 'File "' not in page
    assert "damaged" in page
    assert not repair or "recipe db repair" in page
    return page


@pytest.mark.parametrize("url", ["/?page=9", "/?status=failed", "/?sort=duration",
                                 "/?since=2023-01-01&until=2023-01-01"])
def test_a_damaged_shard_index_gives_a_clear_page(sealed_store: Store, settings: config.Config,
                                                  home: Path, url: str) -> None:
    newest = sealed_store.latest()  # in the head, not in the damaged shard
    damage(home / "db.shards" / "000001.index.json")
    # A fresh run index answers without the damaged file (db check reports it); without
    # one, the pages are read from the shard indexes and meet the damage.
    (home / "db.index.sqlite").unlink(missing_ok=True)
    url = url.format(newest=newest["id"], newest_input=newest["inputs"][0]["path"])
    assert_clear_page(make_client(settings).get(url))


@pytest.mark.parametrize("url", ["/run/{newest}", "/file?path={newest_input}"])
def test_a_damaged_shard_index_does_not_stop_the_pages_of_runs_elsewhere(
        sealed_store: Store, settings: config.Config, home: Path, url: str) -> None:
    newest = sealed_store.latest()  # in the head: its pages need no damaged index
    damage(home / "db.shards" / "000001.index.json")
    url = url.format(newest=newest["id"], newest_input=newest["inputs"][0]["path"])
    answer = make_client(settings).get(url)
    assert answer.status_code == 200 and newest["id"][:8] in html_of(answer)


def test_a_damaged_shard_index_does_not_stop_the_first_page(sealed_store: Store,
                                                            settings: config.Config,
                                                            home: Path) -> None:
    damage(home / "db.shards" / "000001.index.json")
    answer = make_client(settings).get("/")  # the newest runs: not in that shard
    assert answer.status_code == 200 and len(row_ids_in_html(html_of(answer))) == 50


def test_a_damaged_head_is_said_on_the_page(sealed_store: Store, settings: config.Config,
                                            home: Path) -> None:
    damage(home / "db.json")
    client = make_client(settings)
    for url in ("/", "/?q=sample", "/file?path=/x", "/?status=failed"):
        page = assert_clear_page(client.get(url))
        assert f"Part of the store cannot be read: {home / 'db.json'} is damaged" in page


def test_a_damaged_head_is_not_called_an_empty_store(sealed_store: Store,
                                                     settings: config.Config,
                                                     home: Path) -> None:
    damage(home / "db.json")
    assert "No runs recorded yet" not in html_of(make_client(settings).get("/"))


def test_a_damaged_head_never_shows_a_traceback(sealed_store: Store, settings: config.Config,
                                                home: Path) -> None:
    damage(home / "db.json")
    client = make_client(settings)
    for url in ("/", "/runs.json", "/sweeps", "/file?path=/x", "/run/0123456789"):
        answer = client.get(url)
        assert answer.status_code in (200, 404, 503), url
        assert "Traceback" not in html_of(answer), url


def test_a_damaged_sweep_file_gives_a_503_page(client: FlaskClient, sweep_id: str,
                                               home: Path) -> None:
    damage(home / "db.sweeps" / f"{sweep_id}.json")
    answer = client.get(f"/sweep/{sweep_id}")
    assert_clear_page(answer, repair=False)  # `db repair` does not mend sweep files
    assert answer.status_code == 503
    assert "The store cannot be read" in html_of(answer)
    answer = client.get(f"/sweep/{sweep_id}.json")
    assert answer.status_code == 503 and "damaged" in answer.get_json()["message"]
    assert client.get("/sweeps.json").get_json()["sweeps"] == []  # listed without it


def test_a_missing_store_shows_the_empty_state(settings: config.Config, home: Path) -> None:
    assert not home.exists()
    client = make_client(settings)
    answer = client.get("/")
    page = html_of(answer)
    assert answer.status_code == 200
    assert f"No runs recorded yet in <code>{home}</code>" in page
    assert client.get("/runs.json").get_json()["runs"] == []
    assert "No sweeps yet" in html_of(client.get("/sweeps"))
    assert client.get("/run/0123456789").status_code == 404
    assert not (home / "db.json").exists()


# -- compare ----------------------------------------------------------------------------------

def test_comparing_three_runs_marks_the_rows_that_differ(client: FlaskClient,
                                                         small: SimpleNamespace,
                                                         make_record: Callable,
                                                         make_event: Callable,
                                                         store_runs: Callable) -> None:
    [third] = store_runs((make_record(
        start=DAY + timedelta(days=5), script="/project/train.py", tags=["model"],
        params={"lr": 0.1, "layers": 64}, results={"acc": 0.8}, label="layers=64 lr=0.1",
        libraries={"numpy": "2.1.0"}),
        [make_event("input", "/data/clean/customers.parquet", small.clean),
         make_event("output", "/results/model.npy", hexdigest(0xAB03))]))
    chosen = [small.train_1, small.train_2, third]
    url = f"/compare?id={chosen[0][:8]}&id={chosen[1]},{chosen[2][:12]}"
    page = html_of(client.get(url))
    assert "<h1>Compare 3 runs</h1>" in page
    for run_id in chosen:
        assert f'href="/run/{run_id}">{run_id[:8]}</a>' in page
    rows = {name: kind for kind, name in re.findall(
        r'<tr class="(differs|same)">\s*<td class="name">([^<]+)</td>', page)}
    for name in ("lr", "layers", "acc", "/results/model.npy", "numpy", "start", "label"):
        assert rows[name] == "differs", name
    for name in ("script", "status", "python", "/data/clean/customers.parquet", "exit_code"):
        assert rows[name] == "same", name
    assert "2 of 2 differ" in page  # parameters: lr and layers

    sections = {s["title"]: {r["name"]: r for r in s["rows"]}
                for s in client.get(url.replace("/compare", "/compare.json")).get_json()
                ["sections"]}
    assert sections["parameters"]["lr"] == {"name": "lr", "values": [0.1, 0.01, 0.1],
                                            "differs": True}
    assert sections["results"]["acc"]["values"] == [0.8, 0.85, 0.8]
    assert sections["inputs"]["/data/clean/customers.parquet"]["differs"] is False
    assert sections["outputs"]["/results/model.npy"]["values"] == [
        small.model_1, small.model_2, hexdigest(0xAB03)]


def test_a_file_only_one_run_touched_shows_as_missing_in_the_others(
        client: FlaskClient, small: SimpleNamespace) -> None:
    sections = {s["title"]: {r["name"]: r for r in s["rows"]} for s in client.get(
        f"/compare.json?id={small.prepare}&id={small.plot}").get_json()["sections"]}
    assert sections["inputs"]["/data/raw/customers.csv"]["values"] == [small.raw, None]
    assert sections["outputs"]["/results/figure.png"]["values"] == [None, hexdigest(0xF16)]
    assert sections["inputs"]["/data/raw/customers.csv"]["differs"] is True


# -- sweeps -----------------------------------------------------------------------------------

def test_the_sweeps_page_lists_sweeps(client: FlaskClient, sweep_id: str) -> None:
    sweeps = client.get("/sweeps.json").get_json()
    assert [(s["id"], s["run_count"], s["counts"]) for s in sweeps["sweeps"]] == [
        (sweep_id, 5, {"executed": 3, "cached": 1, "failed": 1})]
    assert "runs" not in sweeps["sweeps"][0]
    sweep = client.get(f"/sweep/{sweep_id[:8]}.json").get_json()
    assert list(sweep) == ["sweep", "runs", "params", "results", "x", "y", "chart"]
    page = html_of(client.get("/sweeps"))
    assert f'<a class="mono" href="/sweep/{sweep_id}">{sweep_id[:8]}</a>' in page
    assert "<code>lr=0.01,0.5,1.0,2.0</code>" in page
    assert '<td class="num">3 / 1 / 1</td>' in page and '<td class="num">5</td>' in page


def test_the_sweep_page_plots_a_result_against_a_parameter(client: FlaskClient,
                                                           sweep_id: str) -> None:
    page = html_of(client.get(f"/sweep/{sweep_id[:8]}"))
    assert "<svg" in page and 'aria-label="loss against lr"' in page
    assert page.count('<circle class="point"') == 4  # the failed run has no loss
    assert '<polyline class="line"' in page
    assert '<option selected>loss</option>' in page and '<option selected>lr</option>' in page
    assert ">0.31</text>" in page and ">0.9</text>" in page  # the ends of the y axis
    assert "3 executed, 1 cached, 1 failed" in page
    assert page.count('title="computed before, by sweep ea41e4') == 1
    assert len(row_ids_in_html(page)) == 5

    data = client.get(f"/sweep/{sweep_id}.json").get_json()
    assert (data["params"], data["results"], data["x"], data["y"]) == (["lr"], ["loss"],
                                                                       "lr", "loss")
    chart = data["chart"]
    # Sorted by lr; the lowest loss at the bottom of the plot (largest y coordinate).
    assert [point["label"] for point in chart["points"]] == [
        "lr=0.01 loss=0.31", "lr=0.1 loss=0.52", "lr=0.5 loss=0.66", "lr=1.0 loss=0.9"]
    xs = [point["cx"] for point in chart["points"]]
    ys = [point["cy"] for point in chart["points"]]
    assert xs == sorted(xs) and ys == sorted(ys, reverse=True)
    assert chart["margin"] <= min(xs) and max(xs) <= chart["width"] - chart["margin"]
    assert [tick["label"] for tick in chart["x_ticks"]] == ["0.01", "1.0"]
    assert [run["id"] for run in data["runs"]] == [entry["id"] for entry in
                                                   data["sweep"]["runs"]]


def test_a_sweep_over_words_plots_categories(make_record: Callable,
                                             store_runs: Callable[..., list[str]],
                                             settings: config.Config,
                                             client: FlaskClient) -> None:
    sweep = "ca7e90e500000000"
    records = [make_record(params={"optimizer": name}, results={"loss": loss, "note": "x"},
                           sweep=sweep)
               for name, loss in (("adam", 0.2), ("sgd", 0.5), ("adam", 0.25))]
    store_runs(*[(record, []) for record in records])
    open_store(settings).save_sweep({
        "id": sweep, "target": "/project/train.py", "mode": "grid",
        "params": {"optimizer": ["adam", "sgd"]}, "nominal": {}, "executor": "process",
        "jobs": 2, "start": records[0]["start"], "end": records[-1]["end"],
        "status": "completed", "runs": [{"id": r["id"], "key": r["params"], "state": EXECUTED,
                                         "error": None} for r in records],
        "counts": {EXECUTED: 3, CACHED: 0, FAILED: 0}})
    data = client.get(f"/sweep/{sweep}.json").get_json()
    assert data["results"] == ["loss"]  # "note" is not a number
    assert data["chart"]["lines"] == []  # categories are not joined by lines
    assert [t["label"] for t in data["chart"]["x_ticks"]] == ["adam", "sgd"]
    page = html_of(client.get(f"/sweep/{sweep}?x=optimizer&y=loss"))
    assert page.count('<circle class="point"') == 3 and "<polyline" not in page

    # Asking for a result that no run has: the page, without a chart.
    page = html_of(client.get(f"/sweep/{sweep}?y=missing"))
    assert "<svg" not in page and len(row_ids_in_html(page)) == 3

def test_a_grid_sweep_plots_one_line_per_value_of_the_other_parameter(
        make_record: Callable, store_runs: Callable[..., list[str]], settings: config.Config,
        client: FlaskClient) -> None:
    sweep = "9e1d000000000000"
    records = [make_record(params={"lr": lr, "layers": layers}, results={"loss": lr * layers},
                           sweep=sweep) for layers in (1, 2) for lr in (0.1, 0.2, 0.3)]
    store_runs(*[(record, []) for record in records])
    open_store(settings).save_sweep({
        "id": sweep, "target": "/project/train.py", "mode": "grid",
        "params": {"lr": [0.2, 0.3], "layers": [2]}, "nominal": {}, "executor": "process",
        "jobs": 1, "start": records[0]["start"], "end": records[-1]["end"],
        "status": "completed", "runs": [{"id": r["id"], "key": r["params"], "state": EXECUTED,
                                         "error": None} for r in records],
        "counts": {EXECUTED: 6, CACHED: 0, FAILED: 0}})
    chart = client.get(f"/sweep/{sweep}.json").get_json()["chart"]
    assert [line["name"] for line in chart["lines"]] == ["layers=1", "layers=2"]
    assert all(len(line["points"].split()) == 3 for line in chart["lines"])
    assert [line["name"] for line in chart["legend"]] == ["layers=1", "layers=2"]
    page = html_of(client.get(f"/sweep/{sweep}"))
    assert page.count("<polyline") == 2 and "layers=2</span>" in page


def test_a_recorded_run_lists_its_sweep(client: FlaskClient, sweep_id: str) -> None:
    run_id = client.get(f"/sweep/{sweep_id}.json").get_json()["runs"][0]["id"]
    assert f'href="/sweep/{sweep_id}">{sweep_id[:8]}</a>' in html_of(client.get(
        f"/run/{run_id}"))


def test_the_spool_is_shown_too(client: FlaskClient, make_record: Callable,
                                spool_run: Callable[..., str]) -> None:
    """A run still recording (its journal in the spool) is listed, as running."""
    running = spool_run(make_record(status="running"))
    data = client.get("/runs.json").get_json()
    assert [(row["id"], row["status"]) for row in data["runs"]] == [(running, "running")]
    assert list(spool.journals(config.load().home)) == [running]
