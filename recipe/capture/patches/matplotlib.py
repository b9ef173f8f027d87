"""matplotlib: figures saved, images read and written."""

from __future__ import annotations

import os

from ..patching import Input, Output


def _savefig_path(path: str, given: object, kwargs: dict) -> str:
    """savefig("graph") writes graph.png: given a path with no extension and no `format`,
    matplotlib appends the default format's extension (rcParams savefig.format). As in
    FigureCanvasBase.print_figure, a bare trailing dot is no extension: "graph." -> graph.png."""
    if (kwargs.get("format") is not None or os.path.splitext(path)[1][1:]
            or not isinstance(given, (str, os.PathLike))):
        return path
    import matplotlib

    return path.rstrip(".") + "." + matplotlib.rcParams["savefig.format"]


DECLARATIONS = [
    Output("matplotlib.pyplot", "savefig", "fname", actual_path=_savefig_path),
    Output("matplotlib.figure", "Figure.savefig", "fname", actual_path=_savefig_path),
    Input("matplotlib.pyplot", "imread", "fname"),
    Output("matplotlib.pyplot", "imsave", "fname"),
    Input("matplotlib.image", "imread", "fname"),
    Output("matplotlib.image", "imsave", "fname"),
    Output("matplotlib.animation", "Animation.save", "filename"),
]
