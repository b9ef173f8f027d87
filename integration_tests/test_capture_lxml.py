"""lxml end to end: XML and HTML parsed by libxml2 (C code, no Python-level open)."""

from __future__ import annotations

import pytest
from library_runs import LibraryRun

from recipe.capture.patches import lxml as declarations

pytest.importorskip("lxml")

SETUP = '''
from pathlib import Path

Path("catalog.xml").write_text("<catalog><book year='1999'/><book year='2004'/></catalog>")
Path("page.html").write_text("<html><body><p>one</p><p>two</p></body></html>")
'''

SCRIPT = '''
import io
from pathlib import Path

import lxml.html
from lxml import etree

catalog = etree.parse("catalog.xml")
print("years", catalog.xpath("//book/@year"))
page = lxml.html.parse(Path("page.html"))
print("paragraphs", len(page.findall(".//p")))
print("memory", etree.parse(io.BytesIO(b"<a/>")).getroot().tag)
try:
    etree.parse("missing.xml")
except OSError as exc:
    print("missing:", type(exc).__name__)
'''


@pytest.fixture(scope="module")
def lxml_run(tmp_path_factory: pytest.TempPathFactory) -> LibraryRun:
    return LibraryRun.of(tmp_path_factory, declarations.DECLARATIONS, SCRIPT, SETUP)


def test_documents_parsed_are_recorded(lxml_run: LibraryRun) -> None:
    lxml_run.assert_events([
        ("input", "lxml.etree.parse", "catalog.xml"),
        ("input", "lxml.html.parse", "page.html"),
    ])


def test_recording_changes_nothing_the_script_sees(lxml_run: LibraryRun) -> None:
    lxml_run.assert_behaviour_unchanged()
    assert "missing: OSError" in lxml_run.stdout
