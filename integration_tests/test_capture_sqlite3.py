"""sqlite3 end to end: the database file is an output when the run changed it, else an
input; databases in memory are no file."""

from __future__ import annotations

import pytest
from library_runs import LibraryRun

from recipe.capture.patches import sqlite3 as declarations

SETUP = '''
import sqlite3

for name in ("survey.db", "lookup.db"):
    with sqlite3.connect(name) as db:
        db.execute("create table site (name text, reading real)")
        db.executemany("insert into site values (?, ?)", [("a", 1.5), ("b", 2.5)])
    db.close()
'''

SCRIPT = '''
import sqlite3
from pathlib import Path

db = sqlite3.connect("survey.db")
print("mean", db.execute("select avg(reading) from site").fetchone()[0])
db.execute("create table summary as select count(*) as n from site")
db.commit()
db.close()
lookup = sqlite3.connect(Path("lookup.db"))  # only queried: an input
print("names", [row[0] for row in lookup.execute("select name from site order by name")])
readonly = sqlite3.connect("file:lookup.db?mode=ro", uri=True)
print("count", readonly.execute("select count(*) from site").fetchone()[0])
fresh = sqlite3.connect(database="fresh.db")
fresh.execute("create table t (x)")
fresh.commit()
memory = sqlite3.connect(":memory:")
memory.execute("create table t (x)")
shared = sqlite3.connect("file::memory:?cache=shared", uri=True)
try:
    sqlite3.connect("no_such_dir/x.db")
except sqlite3.OperationalError as exc:
    print("missing:", exc)
'''


@pytest.fixture(scope="module")
def sqlite_run(tmp_path_factory: pytest.TempPathFactory) -> LibraryRun:
    return LibraryRun.of(tmp_path_factory, declarations.DECLARATIONS, SCRIPT, SETUP)


def test_a_changed_database_is_an_output_an_unchanged_one_an_input(
        sqlite_run: LibraryRun) -> None:
    sqlite_run.assert_events([
        ("output", "sqlite3.connect", "survey.db"),
        ("input", "sqlite3.connect", "lookup.db"),
        ("input", "sqlite3.connect", "lookup.db"),
        ("output", "sqlite3.connect", "fresh.db"),
    ])


def test_recording_changes_nothing_the_script_sees(sqlite_run: LibraryRun) -> None:
    sqlite_run.assert_behaviour_unchanged()
    assert "missing: unable to open database file" in sqlite_run.stdout
