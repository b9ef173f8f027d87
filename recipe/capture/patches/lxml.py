"""lxml: XML and HTML documents parsed by libxml2 (C code, unseen by Python's open).

`_ElementTree.write` is not declared: lxml's classes are immutable C types whose methods
cannot be replaced."""

from __future__ import annotations

from ..patching import Input

DECLARATIONS = [
    Input("lxml.etree", "parse", "source"),
    Input("lxml.html", "parse", "filename_or_url"),
]
