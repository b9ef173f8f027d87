"""xml.etree.ElementTree (the standard library's): XML documents parsed and written."""

from __future__ import annotations

from ..patching import Input, Output

_ET = "xml.etree.ElementTree"

DECLARATIONS = [
    Input(_ET, "parse", "source"),
    Input(_ET, "iterparse", "source"),
    Input(_ET, "ElementTree.parse", "source"),
    Output(_ET, "ElementTree.write", "file_or_filename"),
]
