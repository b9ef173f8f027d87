"""The viewer end to end: real scripts recorded, `recipe gui` serving them, and a real headless
Chromium (Debian's, driven by Playwright: no browser is downloaded) searching, opening a run,
adding a note, comparing two runs and following a file's history. Each page is screenshot
into the test's directory."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from recipe_workspace import Workspace

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags chromium's own connections are refused here.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]

pytestmark = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                                reason=f"no {CHROMIUM} (apt-get install chromium)")

MAKE_DATA = """\
    import recipe
    import numpy as np

    np.save("data.npy", np.arange(100, dtype=float))
    """
TRAIN = """\
    import recipe
    import numpy as np

    lr = 0.1
    data = np.load("data.npy")
    np.save("model.npy", data * lr)
    """
EVALUATE = """\
    import recipe
    import numpy as np

    model = np.load("model.npy")
    np.savetxt("scores.csv", model[:10], delimiter=",")
    """


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """One workspace for this module's tests (recording its scripts takes a few seconds)."""
    return Workspace(tmp_path_factory.mktemp("gui-browser"))


@pytest.fixture(scope="module")
def recorded(ws: Workspace) -> dict[str, dict[str, Any]]:
    """Four real runs: make_data -> train (lr=0.1) -> train (lr=0.5) -> evaluate."""
    for name, text in (("make_data.py", MAKE_DATA), ("train.py", TRAIN),
                       ("evaluate.py", EVALUATE)):
        ws.write(name, text)
    ws.python("make_data.py")
    ws.python("train.py")
    ws.recipe("run", "train.py", "-p", "lr=0.5")
    ws.python("evaluate.py")
    runs = ws.runs()  # newest first
    assert [os.path.basename(run["script"]) for run in runs] == [
        "evaluate.py", "train.py", "train.py", "make_data.py"]
    assert all(run["status"] == "completed" for run in runs)
    return {"evaluate": runs[0], "train_2": runs[1], "train_1": runs[2], "make_data": runs[3]}


@pytest.fixture(scope="module")
def server(ws: Workspace, recorded: dict[str, dict[str, Any]]) -> Iterator[str]:
    """`recipe gui --no-browser --port 0` on the workspace's store; its URL. Always stopped."""
    log_path = ws.root / "gui.stderr"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "recipe", "gui", "--no-browser", "--port", "0"],
            cwd=ws.root, env=ws.env, stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            ready, _, _ = select.select([process.stdout], [], [], 30)
            url = process.stdout.readline().strip() if ready else ""
            assert url.startswith("http://127.0.0.1:") and url.endswith("/"), (
                f"no URL on stdout ({url!r}): {log_path.read_text()}")
            assert f"serving {ws.home} on {url}" in log_path.read_text()
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stdout.close()


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[Any]:
    """A page of a headless Chromium; fails the test on a console error or a failed load."""
    problems: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.set_default_timeout(15_000)
            # (Chromium asks for /favicon.ico, which the viewer does not have: not counted.)
            page.on("response", lambda response: response.status >= 400
                    and not response.url.endswith("/favicon.ico")
                    and problems.append(f"{response.status} {response.url}"))
            page.on("console", lambda message: message.type == "error"
                    and not message.text.startswith("Failed to load resource")
                    and problems.append(f"console: {message.text}"))
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("requestfailed", lambda request: problems.append(
                f"request failed: {request.url} {request.failure}"))
            yield page
        finally:
            browser.close()
    assert problems == []


def shoot(page: Any, directory: Path, name: str) -> Path:
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def table_rows(page: Any) -> Any:
    return page.locator("table.runs tbody tr")


def test_browse_search_annotate_compare_in_chromium(ws: Workspace, server: str,
                                                    recorded: dict[str, dict[str, Any]],
                                                    browser_page: Any, tmp_path: Path) -> None:
    expect = sync_api.expect
    page = browser_page
    shots = []

    # The runs list: every run, newest first, each linked to its page.
    page.goto(server)
    expect(page).to_have_title("Runs · recipe")
    expect(table_rows(page)).to_have_count(4)
    order = [recorded[name]["id"][:8] for name in ("evaluate", "train_2", "train_1",
                                                   "make_data")]
    assert table_rows(page).locator("td:nth-child(2) a").all_inner_texts() == order
    expect(page.locator("h1 .count")).to_have_text("4")
    shots.append(shoot(page, tmp_path, "runs"))

    # Search from the header's box: only the run that wrote scores.csv.
    page.locator("header input[name=q]").fill("scores.csv")
    page.locator("header input[name=q]").press("Enter")
    page.wait_for_url("**/?q=scores.csv")
    expect(table_rows(page)).to_have_count(1)
    expect(table_rows(page).first).to_contain_text("evaluate.py")
    expect(page.locator("form.filters input[name=q]")).to_have_value("scores.csv")
    shots.append(shoot(page, tmp_path, "search"))

    # Open that run: its inputs and outputs with their hashes.
    evaluate = recorded["evaluate"]
    table_rows(page).first.locator(f"a:text-is('{evaluate['id'][:8]}')").click()
    page.wait_for_url(f"**/run/{evaluate['id']}")
    expect(page.locator("h1")).to_contain_text(evaluate["id"][:8])
    expect(page.locator("h1 .status")).to_have_text("completed")
    files = page.locator("table.files")
    for event in evaluate["inputs"] + evaluate["outputs"]:
        expect(files.locator(f"a:text-is('{event['path']}')")).to_have_count(1)
        expect(files.locator(f"a:text-is('{event['hash'][:12]}')")).to_have_count(1)
    assert [os.path.basename(e["path"]) for e in evaluate["outputs"]] == ["scores.csv"]
    # model.npy was written by the second train run: linked as another run with this content.
    expect(files.first).to_contain_text(recorded["train_2"]["id"][:8])
    shots.append(shoot(page, tmp_path, "run"))

    # Add a note through the form: shown after the redirect, as text, and in the store.
    note = "checked in Chromium <b>not bold</b> & fine"
    page.locator("input[name=text]").fill(note)
    page.locator("button:text-is('Add note')").click()
    page.wait_for_url(f"**/run/{evaluate['id']}")
    expect(page.locator("ul.notes li p")).to_have_text([note])
    expect(page.locator("ul.notes b")).to_have_count(0)
    shown = json.loads(ws.recipe("show", evaluate["id"][:8], "--json").stdout)
    assert [n["text"] for n in shown["notes"]] == [note]
    shots.append(shoot(page, tmp_path, "run-with-note"))

    # A file's history from its link: who wrote model.npy, who read it.
    model = next(e for e in evaluate["inputs"] if e["path"].endswith("model.npy"))
    files.locator(f"a:text-is('{model['path']}')").first.click()
    page.wait_for_url(re.compile(r"/file\?path="))
    expect(page.locator("h1")).to_contain_text(model["path"])
    history = page.locator("table.history tbody tr")
    expect(history).to_have_count(3)  # written twice, read once
    for name in ("train_1", "train_2", "evaluate"):
        expect(page.locator("table.history")).to_contain_text(recorded[name]["id"][:8])
    # Its lineage: made (this version) by the second train run from make_data's data.npy.
    came_from = page.locator("section", has=page.locator("h2:text-is('Where it came from')"))
    for name in ("train_2", "make_data"):
        expect(came_from).to_contain_text(recorded[name]["id"][:8])
    shots.append(shoot(page, tmp_path, "file"))

    # Compare the two train runs: tick them in the list and press compare.
    page.locator("header nav a:text-is('Runs')").click()
    page.wait_for_url(server)
    for name in ("train_1", "train_2"):
        page.locator(f"input[aria-label='compare {recorded[name]['id'][:8]}']").check()
    page.locator("button:text-is('compare')").click()
    page.wait_for_url(re.compile(r"/compare\?id="))
    expect(page.locator("h1")).to_have_text("Compare 2 runs")
    header = page.locator("table.compare thead")
    for name in ("train_1", "train_2"):
        expect(header).to_contain_text(recorded[name]["id"][:8])
    lr_row = page.locator("table.compare tr.differs", has=page.locator("td.name:text-is('lr')"))
    expect(lr_row).to_have_count(1)
    expect(lr_row).to_contain_text("0.5")  # (0.1 for the plain run: see the xfail below)
    expect(page.locator("table.compare tr.same").first).to_be_hidden()  # only what differs
    shots.append(shoot(page, tmp_path, "compare"))
    # The page's script is a file of the app's own (the CSP allows no inline script).
    page.locator("#only-differences").uncheck()
    expect(page.locator("table.compare tr.same").first).to_be_visible()

    # The sweeps page, empty here.
    page.locator("header nav a:text-is('Sweeps')").click()
    expect(page.locator("p.empty")).to_contain_text("No sweeps yet")
    shots.append(shoot(page, tmp_path, "sweeps"))

    for shot in shots:
        data = shot.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, shot


def test_compare_shows_the_parameters_of_a_plain_run(server: str,
                                                     recorded: dict[str, dict[str, Any]]
                                                     ) -> None:
    ids = "&".join(f"id={recorded[name]['id']}" for name in ("train_1", "train_2"))
    with urllib.request.urlopen(f"{server}compare.json?{ids}", timeout=30) as answer:
        sections = json.load(answer)["sections"]
    [parameters] = [section for section in sections if section["title"] == "parameters"]
    assert parameters["rows"] == [{"name": "lr", "values": [0.1, 0.5], "differs": True}]


def test_every_answer_carries_the_security_headers(server: str) -> None:
    for path in ("", "runs.json", "static/style.css", "no-such-page"):
        try:
            answer = urllib.request.urlopen(f"{server}{path}", timeout=30)
        except urllib.error.HTTPError as error:
            answer = error
        with answer:
            headers = answer.headers
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert (headers["X-Frame-Options"], headers["X-Content-Type-Options"],
                headers["Referrer-Policy"]) == ("DENY", "nosniff", "same-origin")


def test_a_sweep_chart_draws_under_the_content_security_policy(
        tmp_path_factory: pytest.TempPathFactory, browser_page: Any) -> None:
    """The chart's colours are SVG attributes, not style= (which the CSP refuses, and
    the browser would report on the console, failing `browser_page`)."""
    ws = Workspace(tmp_path_factory.mktemp("gui-sweep"))
    ws.write("fit.py", """\
        import recipe
        lr = recipe.Param(0.1, name="lr")
        layers = recipe.Param(1, name="layers")
        recipe.Output(lr * layers, name="score")
        """)
    ws.recipe("sweep", "fit.py", "-p", "lr=0.2,0.3", "-p", "layers=1,2", "--grid")
    process = subprocess.Popen(
        [sys.executable, "-m", "recipe", "gui", "--no-browser", "--port", "0"],
        cwd=ws.root, env=ws.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        url = process.stdout.readline().strip() if ready else ""
        page = browser_page
        page.goto(f"{url}sweeps")
        page.locator("table a").first.click()
        page.wait_for_url(re.compile(r"/sweep/"))
        points = page.locator("figure.chart circle.point")
        sync_api.expect(points).to_have_count(6)
        assert len(set(points.evaluate_all(
            "circles => circles.map(c => getComputedStyle(c).fill)"))) == 2  # one per line
        sync_api.expect(page.locator("figcaption.legend svg.swatch")).to_have_count(2)
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
