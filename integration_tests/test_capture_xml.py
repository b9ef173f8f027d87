"""xml.etree.ElementTree end to end: documents parsed and written (parse calls
ElementTree.parse: one event)."""

from __future__ import annotations

import pytest
from library_runs import LibraryRun

from recipe.capture.patches import xml as declarations

SETUP = '''
from pathlib import Path

Path("stations.xml").write_text(
    "<stations><station id='a' temp='1.5'/><station id='b' temp='2.5'/></stations>")
'''

SCRIPT = '''
import io
import xml.etree.ElementTree as ET

tree = ET.parse("stations.xml")
temps = [float(s.get("temp")) for s in tree.getroot()]
print("mean", sum(temps) / len(temps))
print("events", sum(1 for _ in ET.iterparse("stations.xml")))
summary = ET.ElementTree(ET.Element("summary", mean=str(sum(temps) / len(temps))))
summary.write("summary.xml", encoding="utf-8", xml_declaration=True)
with open("copy.xml", "wb") as handle:
    tree.write(handle)
summary.write(io.BytesIO())  # a buffer: nothing logged
print("parsed", ET.parse(io.StringIO("<a/>")).getroot().tag)
try:
    ET.parse("missing.xml")
except FileNotFoundError as exc:
    print("missing:", type(exc).__name__)
'''


@pytest.fixture(scope="module")
def xml_run(tmp_path_factory: pytest.TempPathFactory) -> LibraryRun:
    return LibraryRun.of(tmp_path_factory, declarations.DECLARATIONS, SCRIPT, SETUP)


def test_documents_parsed_and_written_are_recorded(xml_run: LibraryRun) -> None:
    xml_run.assert_events([
        ("input", "xml.etree.ElementTree.parse", "stations.xml"),
        ("input", "xml.etree.ElementTree.iterparse", "stations.xml"),
        ("output", "xml.etree.ElementTree.ElementTree.write", "summary.xml"),
        ("output", "xml.etree.ElementTree.ElementTree.write", "copy.xml"),
    ])


def test_recording_changes_nothing_the_script_sees(xml_run: LibraryRun) -> None:
    xml_run.assert_behaviour_unchanged()
    assert "missing: FileNotFoundError" in xml_run.stdout
