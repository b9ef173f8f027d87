"""matplotlib: figures saved, images read and written, multi-page PDFs, style files."""

from __future__ import annotations

import os

from ..patching import Closes, Input, Output


def _savefig_path(path: str, given: object, kwargs: dict) -> str:
    """savefig("graph") writes graph.png: given a path with no extension and no `format`,
    matplotlib appends the default format's extension (rcParams savefig.format). As in
    FigureCanvasBase.print_figure, a bare trailing dot is no extension: "graph." -> graph.png."""
    if (kwargs.get("format") is not None or os.path.splitext(path)[1][1:]
            or not isinstance(given, (str, os.PathLike))):
        return path
    import matplotlib

    return path.rstrip(".") + "." + matplotlib.rcParams["savefig.format"]


def _style_file(path: str, given: object, kwargs: dict) -> str | None:
    """style.use("ggplot") names a style of matplotlib's library; only a local file (a
    path, "./paper.mplstyle") is an input."""
    return path if isinstance(given, (str, os.PathLike)) and os.path.isfile(path) else None


DECLARATIONS = [
    Output("matplotlib.pyplot", "savefig", "fname", actual_path=_savefig_path),
    Output("matplotlib.figure", "Figure.savefig", "fname", actual_path=_savefig_path),
    Input("matplotlib.pyplot", "imread", "fname"),
    Output("matplotlib.pyplot", "imsave", "fname"),
    Input("matplotlib.image", "imread", "fname"),
    Output("matplotlib.image", "imsave", "fname"),
    Output("matplotlib.animation", "Animation.save", "filename"),
    # The PDF is created by the first savefig and complete once closed.
    Output("matplotlib.backends.backend_pdf", "PdfPages.__init__", "filename",
           until_closed=True),
    Closes("matplotlib.backends.backend_pdf", "PdfPages.close", lambda pdf: pdf._filename),
    Input("matplotlib.style", "use", "style", many=True, actual_path=_style_file),
    Input("matplotlib", "rc_file", "fname"),
]
