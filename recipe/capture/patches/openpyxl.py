"""openpyxl: Excel workbooks loaded and saved."""

from __future__ import annotations

from ..patching import Input, Output

DECLARATIONS = [
    Input("openpyxl", "load_workbook", "filename"),
    Output("openpyxl", "Workbook.save", "filename"),
]
