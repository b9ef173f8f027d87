"""Every declared input/output function of numpy, pandas and matplotlib, end to end.

A table of cases (function, setup code, call code, expected kind, expected file) drives a
few real runs, so that the suite stays fast:

- one recorded script calls every case (`calls.py`, after a setup script that writes the
  input files without recording); the stored run is read back once and each case checks
  its own event: absolute path of the file really touched, content hash of that file on
  disk, size, `function` name, logged exactly once (nested declared calls are not logged
  twice);
- the same calls run again in a second directory without recipe: return values and
  written bytes must be identical;
- a behaviour script, run with and without recipe, compares `inspect.signature` of every
  declared function and the exceptions of failing calls (which must log nothing);
- small runs for import order, `RECIPE_LIBRARIES_DISABLED` and `RECIPE_DISABLE`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import shutil
import textwrap
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from recipe_workspace import Workspace

from recipe.capture.patches import matplotlib as mpl_patches
from recipe.capture.patches import numpy as np_patches
from recipe.capture.patches import pandas as pd_patches
from recipe.record.hashing import hash_file

DECLARATIONS = [*np_patches.DECLARATIONS, *pd_patches.DECLARATIONS,
                *mpl_patches.DECLARATIONS]

# Written by pandas/matplotlib/numpy identically in every process: compared byte for byte
# with the run without recipe. (npz, xlsx, pdf, svg, dta, h5... carry timestamps or ids.)
DETERMINISTIC = {".npy", ".txt", ".csv", ".tsv", ".json", ".pkl", ".html", ".tex", ".md",
                 ".xml", ".bin", ".png", ".parquet", ".feather"}


# ---------------------------------------------------------------------------------------
# The table of cases


@dataclass(frozen=True)
class Case:
    id: str
    function: str  # the public dotted name; for a call that logs nothing, the one called
    call: str  # statements run in the recorded script; may set `result`
    kind: str | None = None  # "input" / "output"; None: the call must log nothing
    file: str | None = None  # the file really read or written, relative to the workspace
    setup: str = ""  # run before, by a script that does not record
    requires: str | None = None  # a module the case needs (skipped without it)
    xfail: str | None = None  # a known core bug: the event check fails for this reason

    @property
    def skip_reason(self) -> str | None:
        if self.requires and importlib.util.find_spec(self.requires) is None:
            return f"{self.requires} is not installed"
        return None


def inp(function: str, file: str, call: str, setup: str = "", *, id: str | None = None,
        requires: str | None = None, xfail: str | None = None) -> Case:
    return Case(id or function, function, call, "input", file, setup, requires, xfail)


def out(function: str, file: str, call: str, setup: str = "", *, id: str | None = None,
        requires: str | None = None, xfail: str | None = None) -> Case:
    return Case(id or function, function, call, "output", file, setup, requires, xfail)


def nolog(function: str, id: str, call: str, *, requires: str | None = None) -> Case:
    return Case(id, function, call, requires=requires)


MKSUB = 'os.makedirs("sub", exist_ok=True)'

NUMPY_CASES = [
    # np.load of a .npy reads through np.fromfile (declared too): one event only.
    inp("numpy.load", "np_load.npy", 'result = np.load("np_load.npy")',
        'np.save("np_load.npy", a)'),
    inp("numpy.load", "np_load.npz",
        'with np.load("np_load.npz") as z:\n    result = dict(z)',
        'np.savez("np_load.npz", a=a, b=a * 2)', id="numpy.load-npz"),
    inp("numpy.loadtxt", "np_loadtxt.txt", 'result = np.loadtxt("np_loadtxt.txt")',
        'np.savetxt("np_loadtxt.txt", a)'),
    inp("numpy.genfromtxt", "np_genfromtxt.csv",
        'result = np.genfromtxt("np_genfromtxt.csv", delimiter=",")',
        'np.savetxt("np_genfromtxt.csv", a, delimiter=",")'),
    inp("numpy.fromfile", "np_fromfile.bin", 'result = np.fromfile("np_fromfile.bin")',
        'a.tofile("np_fromfile.bin")'),
    inp("numpy.fromregex", "np_fromregex.txt",
        'result = np.fromregex("np_fromregex.txt", r"(\\d+) (\\d+)", [("p", int), ("q", int)])',
        'Path("np_fromregex.txt").write_text("1 2\\n3 4\\n")'),
    out("numpy.save", "np_save.npy", 'np.save("np_save.npy", a)'),
    out("numpy.save", "x.npy", 'np.save("x", a)', id="numpy.save-no-suffix"),
    out("numpy.savez", "np_savez.npz", 'np.savez("np_savez.npz", a, a * 2)'),
    out("numpy.savez", "b.npz", 'np.savez("b", a=a)', id="numpy.savez-no-suffix"),
    out("numpy.savez_compressed", "np_savez_compressed.npz",
        'np.savez_compressed("np_savez_compressed.npz", a=a)'),
    out("numpy.savez_compressed", "c.npz", 'np.savez_compressed("c", a=a)',
        id="numpy.savez_compressed-no-suffix"),
    out("numpy.savetxt", "np_savetxt.txt", 'np.savetxt("np_savetxt.txt", a)'),
    # path forms
    inp("numpy.load", "sub/np_path_load.npy",
        'result = np.load(Path("sub/np_path_load.npy"))',
        MKSUB + '\nnp.save("sub/np_path_load.npy", a)', id="numpy.load-Path"),
    out("numpy.save", "sub/np_path_save.npy", 'np.save(Path("sub/np_path_save.npy"), a)',
        MKSUB, id="numpy.save-Path"),
    out("numpy.save", "sub/np_path_nosuffix.npy", 'np.save(Path("sub/np_path_nosuffix"), a)',
        MKSUB, id="numpy.save-Path-no-suffix"),
    out("numpy.savez", "sub/np_path_savez.npz", 'np.savez(Path("sub/np_path_savez"), a=a)',
        MKSUB, id="numpy.savez-Path-no-suffix"),
    inp("numpy.load", "np_fileobj_load.npy",
        'with open("np_fileobj_load.npy", "rb") as f:\n    result = np.load(f)',
        'np.save("np_fileobj_load.npy", a)', id="numpy.load-file-object"),
    out("numpy.save", "np_fileobj_save.npy",
        'with open("np_fileobj_save.npy", "wb") as f:\n    np.save(f, a)',
        id="numpy.save-file-object"),
    inp("numpy.fromfile", "np_fileobj_fromfile.bin",
        'with open("np_fileobj_fromfile.bin", "rb") as f:\n    result = np.fromfile(f)',
        'a.tofile("np_fileobj_fromfile.bin")', id="numpy.fromfile-file-object"),
    out("numpy.savetxt", "np_fileobj_savetxt.txt",
        'with open("np_fileobj_savetxt.txt", "w") as f:\n    np.savetxt(f, a)',
        id="numpy.savetxt-file-object"),
    out("numpy.save", "np_kw.npy", 'np.save(file="np_kw.npy", arr=a)',
        id="numpy.save-keyword"),
    out("numpy.savez", "np_kw_savez.npz", 'np.savez(file="np_kw_savez", a=a)',
        id="numpy.savez-keyword-no-suffix"),
    inp("numpy.loadtxt", "np_kw_loadtxt.txt", 'result = np.loadtxt(fname="np_kw_loadtxt.txt")',
        'np.savetxt("np_kw_loadtxt.txt", a)', id="numpy.loadtxt-keyword"),
    # memory maps: the mode decides; "r+" (the default) left unchanged is an input
    out("numpy.memmap", "np_memmap.bin",
        'm = np.memmap("np_memmap.bin", dtype="float64", mode="w+", shape=(3, 4))\n'
        'm[:] = a\nm.flush()\nresult = np.array(m)\ndel m'),
    inp("numpy.memmap", "np_memmap_r.bin",
        'result = np.array(np.memmap("np_memmap_r.bin", dtype="float64", mode="r"))',
        'a.tofile("np_memmap_r.bin")', id="numpy.memmap-r"),
    inp("numpy.memmap", "np_memmap_unchanged.bin",
        'result = float(np.memmap("np_memmap_unchanged.bin", dtype="float64").sum())',
        'a.tofile("np_memmap_unchanged.bin")', id="numpy.memmap-r+-unchanged"),
    out("numpy.memmap", "np_memmap_changed.bin",
        'm = np.memmap(filename="np_memmap_changed.bin", dtype="float64")\nm[0] = -1.0\n'
        'm.flush()\ndel m', 'a.tofile("np_memmap_changed.bin")',
        id="numpy.memmap-r+-changed"),
    # np.load(mmap_mode=...) maps the array with np.memmap: one event only.
    inp("numpy.load", "np_load_mmap.npy",
        'result = np.array(np.load("np_load_mmap.npy", mmap_mode="r"))',
        'np.save("np_load_mmap.npy", a)', id="numpy.load-mmap_mode"),
    # no file: nothing logged, nothing broken
    nolog("numpy.save", "numpy.save-BytesIO",
          'buf = io.BytesIO()\nnp.save(buf, a)\nresult = buf.getvalue()'),
    nolog("numpy.load", "numpy.load-BytesIO",
          'buf = io.BytesIO()\nnp.save(buf, a)\nbuf.seek(0)\nresult = np.load(buf)'),
    nolog("numpy.savetxt", "numpy.savetxt-StringIO",
          'buf = io.StringIO()\nnp.savetxt(buf, a)\nresult = buf.getvalue()'),
    nolog("numpy.loadtxt", "numpy.loadtxt-lines", 'result = np.loadtxt(["1 2", "3 4"])'),
]

# pandas readers: (name, file written by the setup, setup code, extra call arguments, needs)
READER_SETUPS = [
    ("read_csv", "pd_read_csv.csv", 'df.to_csv("pd_read_csv.csv", index=False)', "", None),
    ("read_table", "pd_read_table.tsv",
     'df.to_csv("pd_read_table.tsv", sep="\\t", index=False)', "", None),
    ("read_fwf", "pd_read_fwf.txt", 'df.to_string("pd_read_fwf.txt", index=False)', "", None),
    ("read_json", "pd_read_json.json", 'df.to_json("pd_read_json.json")', "", None),
    ("read_excel", "pd_read_excel.xlsx", 'df.to_excel("pd_read_excel.xlsx", index=False)',
     "", "openpyxl"),
    ("read_parquet", "pd_read_parquet.parquet", 'df.to_parquet("pd_read_parquet.parquet")',
     "", "pyarrow"),
    ("read_feather", "pd_read_feather.feather", 'df.to_feather("pd_read_feather.feather")',
     "", "pyarrow"),
    ("read_pickle", "pd_read_pickle.pkl", 'df.to_pickle("pd_read_pickle.pkl")', "", None),
    ("read_hdf", "pd_read_hdf.h5", 'df.to_hdf("pd_read_hdf.h5", key="df")', ', "df"',
     "tables"),
    ("read_stata", "pd_read_stata.dta", 'df.to_stata("pd_read_stata.dta", write_index=False)',
     "", None),
    ("read_sas", "pd_read_sas.xpt", 'write_xport("pd_read_sas.xpt", [1.0, 2.5, -3.0])', "",
     None),
    ("read_orc", "pd_read_orc.orc", 'df.to_orc("pd_read_orc.orc")', "", "pyarrow.orc"),
    ("read_xml", "pd_read_xml.xml", 'df.to_xml("pd_read_xml.xml")', "", "lxml"),
    ("read_html", "pd_read_html.html", 'df.to_html("pd_read_html.html")', "", "lxml"),
    ("read_spss", "pd_read_spss.sav",
     'import pyreadstat\npyreadstat.write_sav(df, "pd_read_spss.sav")', "", "pyreadstat"),
]

# pandas writers: name -> (file extension, extra call arguments, needs)
WRITER_FORMATS = {
    "to_csv": ("csv", "", None),
    "to_json": ("json", "", None),
    "to_excel": ("xlsx", "", "openpyxl"),
    "to_parquet": ("parquet", "", "pyarrow"),
    "to_feather": ("feather", "", "pyarrow"),
    "to_pickle": ("pkl", "", None),
    "to_hdf": ("h5", ', key="data"', "tables"),
    "to_stata": ("dta", "", None),
    "to_orc": ("orc", "", "pyarrow.orc"),
    "to_xml": ("xml", "", "lxml"),
    "to_html": ("html", "", None),
    "to_latex": ("tex", "", "jinja2"),
    "to_markdown": ("md", "", "tabulate"),
    "to_string": ("txt", "", None),
}
SERIES_WRITERS = ["to_csv", "to_json", "to_excel", "to_pickle", "to_hdf", "to_latex",
                  "to_markdown", "to_string"]

PANDAS_CASES = [
    inp(f"pandas.{reader}", file, f'result = pd.{reader}("{file}"{extra})', setup,
        requires=needs)
    for reader, file, setup, extra, needs in READER_SETUPS
] + [
    out(f"pandas.DataFrame.{writer}", f"pd_df_{writer}.{ext}",
        f'result = df.{writer}("pd_df_{writer}.{ext}"{extra})', requires=needs)
    for writer, (ext, extra, needs) in WRITER_FORMATS.items()
] + [
    out(f"pandas.Series.{writer}", f"pd_series_{writer}.{WRITER_FORMATS[writer][0]}",
        f'result = s.{writer}("pd_series_{writer}.{WRITER_FORMATS[writer][0]}"'
        f'{WRITER_FORMATS[writer][1]})', requires=WRITER_FORMATS[writer][2])
    for writer in SERIES_WRITERS
] + [
    # path forms
    inp("pandas.read_csv", "sub/pd_path.csv", 'result = pd.read_csv(Path("sub/pd_path.csv"))',
        MKSUB + '\ndf.to_csv("sub/pd_path.csv")', id="pandas.read_csv-Path"),
    inp("pandas.read_csv", "pd_fileobj.csv",
        'with open("pd_fileobj.csv") as f:\n    result = pd.read_csv(f)',
        'df.to_csv("pd_fileobj.csv")', id="pandas.read_csv-file-object"),
    inp("pandas.read_parquet", "pd_fileobj.parquet",
        'with open("pd_fileobj.parquet", "rb") as f:\n    result = pd.read_parquet(f)',
        'df.to_parquet("pd_fileobj.parquet")', id="pandas.read_parquet-file-object",
        requires="pyarrow"),
    inp("pandas.read_csv", "pd_kw.csv",
        'result = pd.read_csv(filepath_or_buffer="pd_kw.csv", sep=",")',
        'df.to_csv("pd_kw.csv")', id="pandas.read_csv-keyword"),
    out("pandas.DataFrame.to_csv", "sub/pd_path_out.csv", 'df.to_csv(Path("sub/pd_path_out.csv"))',
        MKSUB, id="pandas.DataFrame.to_csv-Path"),
    out("pandas.DataFrame.to_csv", "pd_fileobj_out.csv",
        'with open("pd_fileobj_out.csv", "w", newline="") as f:\n    df.to_csv(f)',
        id="pandas.DataFrame.to_csv-file-object"),
    out("pandas.DataFrame.to_parquet", "pd_fileobj_out.parquet",
        'with open("pd_fileobj_out.parquet", "wb") as f:\n    df.to_parquet(f)',
        id="pandas.DataFrame.to_parquet-file-object", requires="pyarrow"),
    out("pandas.DataFrame.to_excel", "pd_excelwriter.xlsx",
        'with pd.ExcelWriter("pd_excelwriter.xlsx") as writer:\n    df.to_excel(writer)',
        id="pandas.DataFrame.to_excel-ExcelWriter", requires="openpyxl"),
    # HDFStore opens in "a" mode by default: only read, it is an input.
    out("pandas.HDFStore", "pd_hdfstore.h5",
        'with pd.HDFStore("pd_hdfstore.h5", mode="w") as store:\n    store["df"] = df',
        requires="tables"),
    inp("pandas.HDFStore", "pd_hdfstore_read.h5",
        'with pd.HDFStore("pd_hdfstore_read.h5") as store:\n    result = store["df"]',
        'df.to_hdf("pd_hdfstore_read.h5", key="df")', id="pandas.HDFStore-read",
        requires="tables"),
    out("pandas.HDFStore", "pd_hdfstore_append.h5",
        'store = pd.HDFStore(Path("pd_hdfstore_append.h5"))\nstore.put("more", df)\n'
        'store.close()', 'df.to_hdf("pd_hdfstore_append.h5", key="df")',
        id="pandas.HDFStore-append", requires="tables"),
    out("pandas.DataFrame.to_csv", "pd_kw_out.csv", 'df.to_csv(path_or_buf="pd_kw_out.csv")',
        id="pandas.DataFrame.to_csv-keyword"),
    out("pandas.DataFrame.to_csv", "pd_class_call.csv",
        'pd.DataFrame.to_csv(df, "pd_class_call.csv")', id="pandas.DataFrame.to_csv-via-class"),
    out("pandas.Series.to_json", "sub/pd_series_path.json",
        's.to_json(path_or_buf=Path("sub/pd_series_path.json"))', MKSUB,
        id="pandas.Series.to_json-Path-keyword"),
    # no path: the writer returns the text (or bytes); nothing logged
    nolog("pandas.DataFrame.to_csv", "pandas.DataFrame.to_csv-no-path", "result = df.to_csv()"),
    nolog("pandas.Series.to_csv", "pandas.Series.to_csv-no-path", "result = s.to_csv()"),
    nolog("pandas.DataFrame.to_json", "pandas.DataFrame.to_json-no-path",
          "result = df.to_json()"),
    nolog("pandas.DataFrame.to_html", "pandas.DataFrame.to_html-no-path",
          "result = df.to_html()"),
    nolog("pandas.DataFrame.to_string", "pandas.DataFrame.to_string-no-path",
          "result = df.to_string()"),
    nolog("pandas.Series.to_markdown", "pandas.Series.to_markdown-no-path",
          "result = s.to_markdown()", requires="tabulate"),
    nolog("pandas.DataFrame.to_parquet", "pandas.DataFrame.to_parquet-no-path",
          "result = pd.read_parquet(io.BytesIO(df.to_parquet()))", requires="pyarrow"),
    nolog("pandas.DataFrame.to_excel", "pandas.DataFrame.to_excel-BytesIO",
          "buf = io.BytesIO()\ndf.to_excel(buf)\nbuf.seek(0)\nresult = pd.read_excel(buf)",
          requires="openpyxl"),
    nolog("pandas.read_csv", "pandas.read_csv-StringIO",
          'result = pd.read_csv(io.StringIO("n,x\\n1,2\\n"))'),
]

MATPLOTLIB_CASES = [
    # Each page goes through Figure.savefig; the PDF is one output, complete when closed.
    out("matplotlib.backends.backend_pdf.PdfPages", "mpl_pages.pdf",
        "from matplotlib.backends.backend_pdf import PdfPages\n"
        'with PdfPages("mpl_pages.pdf") as pdf:\n    pdf.savefig(figure())\n'
        "    pdf.savefig(figure())\n    result = pdf.get_pagecount()"),
    inp("matplotlib.style.use", "paper.mplstyle",
        'plt.style.use("paper.mplstyle")\nresult = matplotlib.rcParams["lines.linewidth"]\n'
        'plt.style.use("default")', 'Path("paper.mplstyle").write_text("lines.linewidth: 3\\n")'),
    inp("matplotlib.style.use", "sub/listed.mplstyle",
        'plt.style.use(["default", Path("sub/listed.mplstyle")])\n'
        'result = matplotlib.rcParams["lines.linewidth"]\nplt.style.use("default")',
        MKSUB + '\nPath("sub/listed.mplstyle").write_text("lines.linewidth: 4\\n")',
        id="matplotlib.style.use-list"),
    nolog("matplotlib.style.use", "matplotlib.style.use-library-style",
          'plt.style.use("ggplot")\nplt.style.use("default")'),
    inp("matplotlib.rc_file", "custom.rc",
        'matplotlib.rc_file("custom.rc")\nresult = matplotlib.rcParams["lines.linewidth"]\n'
        "matplotlib.rcdefaults()", 'Path("custom.rc").write_text("lines.linewidth: 2\\n")'),
    # pyplot.savefig -> Figure.savefig -> image.imsave (PNG): one event only.
    out("matplotlib.pyplot.savefig", "mpl_pyplot_savefig.png",
        'figure()\nplt.savefig("mpl_pyplot_savefig.png")'),
    out("matplotlib.pyplot.savefig", "graph.png", 'figure()\nplt.savefig("graph")',
        id="matplotlib.pyplot.savefig-no-extension"),
    out("matplotlib.pyplot.savefig", "graph_dot.png", 'figure()\nplt.savefig("graph_dot.")',
        id="matplotlib.pyplot.savefig-trailing-dot"),
    out("matplotlib.pyplot.savefig", "graph_pdf",
        'figure()\nplt.savefig("graph_pdf", format="pdf")',
        id="matplotlib.pyplot.savefig-format-no-extension"),
    out("matplotlib.pyplot.savefig", "graph_rc.svg",
        'figure()\nwith matplotlib.rc_context({"savefig.format": "svg"}):\n'
        '    plt.savefig("graph_rc")', id="matplotlib.pyplot.savefig-rc-format"),
    out("matplotlib.pyplot.savefig", "mpl_kw.png", 'figure()\nplt.savefig(fname="mpl_kw.png")',
        id="matplotlib.pyplot.savefig-keyword"),
    out("matplotlib.figure.Figure.savefig", "mpl_figure_savefig.pdf",
        'figure().savefig("mpl_figure_savefig.pdf")'),
    out("matplotlib.figure.Figure.savefig", "sub/mpl_path.png",
        'figure().savefig(Path("sub/mpl_path.png"))', MKSUB,
        id="matplotlib.figure.Figure.savefig-Path"),
    out("matplotlib.figure.Figure.savefig", "sub/mpl_path_noext.png",
        'figure().savefig(Path("sub/mpl_path_noext"))', MKSUB,
        id="matplotlib.figure.Figure.savefig-Path-no-extension"),
    out("matplotlib.figure.Figure.savefig", "mpl_class_call.png",
        'Figure.savefig(figure(), "mpl_class_call.png")',
        id="matplotlib.figure.Figure.savefig-via-class"),
    out("matplotlib.figure.Figure.savefig", "mpl_fileobj.png",
        'with open("mpl_fileobj.png", "wb") as f:\n    figure().savefig(f)',
        id="matplotlib.figure.Figure.savefig-file-object"),
    inp("matplotlib.pyplot.imread", "mpl_pyplot_imread.png",
        'result = plt.imread("mpl_pyplot_imread.png")', 'plt.imsave("mpl_pyplot_imread.png", img)'),
    out("matplotlib.pyplot.imsave", "mpl_pyplot_imsave.png",
        'plt.imsave("mpl_pyplot_imsave.png", img)'),
    inp("matplotlib.image.imread", "mpl_image_imread.png",
        'result = mpimg.imread("mpl_image_imread.png")', 'plt.imsave("mpl_image_imread.png", img)'),
    out("matplotlib.image.imsave", "mpl_image_imsave.png",
        'mpimg.imsave("mpl_image_imsave.png", img)'),
    # image.imsave of a vector format goes through Figure.savefig: one event only.
    out("matplotlib.image.imsave", "mpl_image_imsave.svg",
        'mpimg.imsave("mpl_image_imsave.svg", img)', id="matplotlib.image.imsave-svg"),
    # Animation.save draws every frame with Figure.savefig: one event only.
    out("matplotlib.animation.Animation.save", "mpl_animation.gif",
        "import matplotlib.animation\n"
        "animation = matplotlib.animation.FuncAnimation(figure(), lambda i: [], frames=2)\n"
        'animation.save("mpl_animation.gif", writer="pillow", fps=2)', requires="PIL"),
    inp("matplotlib.image.imread", "sub/mpl_path_imread.png",
        'result = mpimg.imread(Path("sub/mpl_path_imread.png"))',
        MKSUB + '\nplt.imsave("sub/mpl_path_imread.png", img)',
        id="matplotlib.image.imread-Path"),
    inp("matplotlib.pyplot.imread", "mpl_fileobj_imread.png",
        'with open("mpl_fileobj_imread.png", "rb") as f:\n    result = plt.imread(f)',
        'plt.imsave("mpl_fileobj_imread.png", img)', id="matplotlib.pyplot.imread-file-object"),
    nolog("matplotlib.figure.Figure.savefig", "matplotlib.figure.Figure.savefig-BytesIO",
          'buf = io.BytesIO()\nfigure().savefig(buf)\nresult = len(buf.getvalue()) > 0'),
    nolog("matplotlib.pyplot.imsave", "matplotlib.pyplot.imsave-BytesIO",
          'buf = io.BytesIO()\nplt.imsave(buf, img)\nbuf.seek(0)\nresult = plt.imread(buf)'),
]

CASES = NUMPY_CASES + PANDAS_CASES + MATPLOTLIB_CASES
assert len({case.id for case in CASES}) == len(CASES), "case ids must be unique"
assert len({case.file for case in CASES if case.file}) == len(
    [case for case in CASES if case.file]), "each logging case must touch its own file"
ACTIVE = [case for case in CASES if case.skip_reason is None]


def params(cases: list[Case], *, with_xfail: bool = False) -> list:
    marks_of = []
    for case in cases:
        marks = []
        if case.skip_reason:
            marks.append(pytest.mark.skip(reason=case.skip_reason))
        if with_xfail and case.xfail:
            marks.append(pytest.mark.xfail(strict=True, reason=case.xfail))
        marks_of.append(pytest.param(case, id=case.id, marks=marks))
    return marks_of


# ---------------------------------------------------------------------------------------
# Scripts generated from the table

PREAMBLE = '''\
import io
import json
import os
import pickle
import sys
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import matplotlib
import matplotlib.image as mpimg
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

a = np.arange(12, dtype=np.float64).reshape(3, 4)
df = pd.DataFrame({"n": [1, 2, 3], "x": [0.5, 1.5, 2.5], "s": ["a", "b", "c"]})
s = pd.Series([1.0, 2.0, 3.0], name="x")
img = np.linspace(0.0, 1.0, 48).reshape(4, 4, 3)
errors = {}
returns = {}
os.makedirs("_meta", exist_ok=True)


def figure():
    fig = plt.figure()
    plt.plot([1, 3, 2])
    return fig


def write_xport(path, values):
    """A SAS XPORT (v5) file with one numeric variable X, as SAS writes it."""
    import struct

    def ibm(value):  # IBM hexadecimal floating point, 8 bytes
        if value == 0:
            return bytes(8)
        sign, value, exponent = (0x80 if value < 0 else 0), abs(value), 64
        while value >= 1:
            value, exponent = value / 16, exponent + 1
        while value < 1 / 16:
            value, exponent = value * 16, exponent - 1
        return bytes([sign | exponent]) + int(value * 2 ** 56).to_bytes(7, "big")

    def card(text):
        return text.ljust(80).encode("ascii")

    stamp = "01JAN24:00:00:00"
    head = "HEADER RECORD*******"
    field = struct.pack(">hhhh8s40s8shhh2s8shhl52s", 1, 0, 8, 1, b"X".ljust(8), b" " * 40,
                        b" " * 8, 0, 0, 0, b"  ", b" " * 8, 0, 0, 0, bytes(52))
    data = b"".join(ibm(v) for v in values)
    with open(path, "wb") as f:
        f.write(card(head + "LIBRARY HEADER RECORD!!!!!!!" + "0" * 30))
        f.write(card("SAS     SAS     SASLIB  9.4     X64_10PR" + " " * 24 + stamp))
        f.write(card(stamp))
        f.write(card(head + "MEMBER  HEADER RECORD!!!!!!!" + "000000000000000001600000000"
                     + "140"))
        f.write(card(head + "DSCRPTR HEADER RECORD!!!!!!!" + "0" * 30))
        f.write(card("SAS     DATA    SASDATA 9.4     X64_10PR" + " " * 24 + stamp))
        f.write(card(stamp + " " * 16 + " " * 40 + "DATA"))
        f.write(card(head + "NAMESTR HEADER RECORD!!!!!!!" + "000000" + "0001" + "0" * 20))
        f.write(field + b" " * (160 - len(field)))
        f.write(card(head + "OBS     HEADER RECORD!!!!!!!" + "0" * 30))
        f.write(data + b" " * (-len(data) % 80))
'''

EPILOGUE = '''
with open(os.path.join("_meta", NAME + "-errors.json"), "w") as f:
    json.dump(errors, f)
with open(os.path.join("_meta", NAME + "-returns.pkl"), "wb") as f:
    pickle.dump(returns, f)
'''


def _indent(code: str) -> str:
    return textwrap.indent(code, "    ")


def setup_script(cases: list[Case]) -> str:
    """Writes every input file, without recording."""
    blocks = [PREAMBLE, 'NAME = "setup"']
    for case in cases:
        if case.setup:
            blocks.append(f"try:\n{_indent(case.setup)}\nexcept Exception:\n"
                          f"    errors[{case.id!r}] = traceback.format_exc()\n")
    return "\n".join([*blocks, EPILOGUE])


def calls_script(cases: list[Case], *, record: bool) -> str:
    """Calls every case; keeps each return value (pickled) and each error."""
    blocks = ["import recipe\n" if record else "", PREAMBLE, 'NAME = "calls"']
    for case in cases:
        blocks.append(
            f"result = None\ntry:\n{_indent(case.call)}\nexcept Exception:\n"
            f"    errors[{case.id!r}] = traceback.format_exc()\nelse:\n"
            f"    try:\n        returns[{case.id!r}] = pickle.dumps(result)\n"
            f"    except Exception as exc:\n        returns[{case.id!r}] = repr(exc)\n"
            f"plt.close('all')\n")
    return "\n".join([*blocks, EPILOGUE])


# ---------------------------------------------------------------------------------------
# Checking events


def abspath(ws: Workspace, relative: str) -> str:
    return os.path.join(os.path.realpath(ws.root), relative)


def events(run: dict) -> list[tuple[str, dict]]:
    return ([("input", event) for event in run["inputs"]]
            + [("output", event) for event in run["outputs"]])


def assert_logged_once(ws: Workspace, run: dict, kind: str, function: str,
                       relative: str) -> None:
    """The file was logged exactly once, as `kind` by `function`, with its content hash."""
    path = abspath(ws, relative)
    assert os.path.isfile(path), f"{relative} was not written"
    found = [(k, event) for k, event in events(run) if event["path"] == path]
    assert len(found) == 1, (
        f"{relative}: expected one event, got {len(found)}: {found}\n"
        f"all events: {[(k, e['function'], e['path']) for k, e in events(run)]}")
    logged_kind, event = found[0]
    assert (logged_kind, event["function"]) == (kind, function)
    assert os.path.isabs(event["path"])
    assert event["hash_algorithm"] == "xxh3_128"
    assert event["size"] == os.path.getsize(path), "size differs from the file on disk"
    assert event["hash"] == hash_file(path), "hash differs from the file on disk"


def assert_same(left: Any, right: Any) -> None:
    """Deep equality for what the calls return: arrays, frames, lists, dicts, scalars."""
    import numpy as np
    import pandas as pd

    assert type(left) is type(right)
    if isinstance(left, pd.DataFrame):
        pd.testing.assert_frame_equal(left, right)
    elif isinstance(left, pd.Series):
        pd.testing.assert_series_equal(left, right)
    elif isinstance(left, np.ndarray):
        assert left.dtype == right.dtype
        np.testing.assert_array_equal(left, right)
    elif isinstance(left, dict):
        assert left.keys() == right.keys()
        for key in left:
            assert_same(left[key], right[key])
    elif isinstance(left, (list, tuple)):
        assert len(left) == len(right)
        for one, other in zip(left, right, strict=True):
            assert_same(one, other)
    else:
        assert left == right


@dataclass
class Outcome:
    """One run of calls.py: where it ran, what each call returned or raised."""

    ws: Workspace
    errors: dict[str, str]
    returns: dict[str, Any]

    @classmethod
    def read(cls, ws: Workspace) -> Outcome:
        meta = ws.root / "_meta"
        return cls(ws, json.loads((meta / "calls-errors.json").read_text()),
                   pickle.loads((meta / "calls-returns.pkl").read_bytes()))

    def check_ran(self, case: Case) -> None:
        assert case.id not in self.errors, f"{case.id} raised:\n{self.errors[case.id]}"


@dataclass
class Declared:
    recorded: Outcome
    plain: Outcome
    run: dict


@pytest.fixture(scope="module")
def declared(tmp_path_factory: pytest.TempPathFactory) -> Declared:
    """calls.py recorded in one workspace and run without recipe in another, at once."""
    ws = Workspace(tmp_path_factory.mktemp("declared"))
    plain = Workspace(tmp_path_factory.mktemp("plain"))
    ws.write("setup.py", setup_script(ACTIVE))
    ws.python("setup.py")
    setup_errors = json.loads((ws.root / "_meta" / "setup-errors.json").read_text())
    assert not setup_errors, "setup failed:\n" + "\n".join(setup_errors.values())
    shutil.copytree(ws.root, plain.root, dirs_exist_ok=True)
    ws.write("calls.py", calls_script(ACTIVE, record=True))
    plain.write("calls.py", calls_script(ACTIVE, record=False))
    # _meta/ holds what calls.py reports back to the test, written with open(): not a case
    exclude = {"RECIPE_CAPTURE_EXCLUDE": "*/_meta/*"}
    with ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(w.python, "calls.py", env=exclude) for w in (ws, plain)]
        for job in jobs:
            job.result()
    run = ws.only_run()
    assert run["status"] == "completed"
    return Declared(Outcome.read(ws), Outcome.read(plain), run)


# ---------------------------------------------------------------------------------------
# The declared functions, one case at a time


@pytest.mark.parametrize("case", params([c for c in CASES if c.kind], with_xfail=True))
def test_call_is_logged_once_with_the_file_hash(declared: Declared, case: Case) -> None:
    declared.recorded.check_ran(case)
    assert_logged_once(declared.recorded.ws, declared.run, case.kind, case.function, case.file)


@pytest.mark.parametrize("case", params([c for c in CASES if not c.kind]))
def test_call_without_a_file_logs_nothing(declared: Declared, case: Case) -> None:
    declared.recorded.check_ran(case)
    expected = {abspath(declared.recorded.ws, c.file) for c in ACTIVE if c.file}
    stray = [event for _, event in events(declared.run)
             if event["function"] == case.function and event["path"] not in expected]
    assert not stray


def test_nothing_else_is_logged(declared: Declared) -> None:
    """Every event belongs to a case: no file logged twice, none logged by a nested call."""
    ws = declared.recorded.ws
    expected = Counter((c.kind, c.function, abspath(ws, c.file)) for c in ACTIVE if c.file)
    actual = Counter((kind, event["function"], event["path"])
                     for kind, event in events(declared.run))
    assert actual - expected == Counter()


@pytest.mark.parametrize("case", params(CASES))
def test_return_value_is_unchanged(declared: Declared, case: Case) -> None:
    declared.plain.check_ran(case)
    declared.recorded.check_ran(case)
    recorded, plain = declared.recorded.returns[case.id], declared.plain.returns[case.id]
    assert isinstance(recorded, bytes), f"return value not picklable: {recorded}"
    assert_same(pickle.loads(recorded), pickle.loads(plain))


@pytest.mark.parametrize("case", params(
    [c for c in CASES if c.kind == "output" and Path(c.file).suffix in DETERMINISTIC]))
def test_written_file_is_unchanged(declared: Declared, case: Case) -> None:
    declared.recorded.check_ran(case)
    declared.plain.check_ran(case)
    written = (declared.recorded.ws.root / case.file).read_bytes()
    assert written == (declared.plain.ws.root / case.file).read_bytes()


# ---------------------------------------------------------------------------------------
# Signatures and exceptions: the same with and without recipe

FAILING_CALLS = {
    "numpy.load-missing": 'np.load("missing.npy")',
    "numpy.load-not-npy": 'np.load("bad.npy")',
    "numpy.load-no-argument": "np.load()",
    "numpy.loadtxt-missing": 'np.loadtxt("missing.txt")',
    "numpy.fromfile-missing": 'np.fromfile("missing.bin")',
    "numpy.save-no-directory": 'np.save("no_dir/x.npy", a)',
    "numpy.savez-bad-keyword": 'np.savez("never.npz", a, arr_0=a)',
    "numpy.memmap-missing": 'np.memmap("missing.bin")',
    "pandas.HDFStore-missing": 'pd.HDFStore("missing.h5", mode="r")',
    "pandas.read_csv-missing": 'pd.read_csv("missing.csv")',
    "pandas.read_csv-empty": 'pd.read_csv("empty.csv")',
    "pandas.read_parquet-missing": 'pd.read_parquet("missing.parquet")',
    "pandas.read_pickle-missing": 'pd.read_pickle("missing.pkl")',
    "pandas.DataFrame.to_csv-no-directory": 'df.to_csv("no_dir/x.csv")',
    "pandas.DataFrame.to_csv-no-self": "pd.DataFrame.to_csv()",
    "pandas.DataFrame.to_hdf-no-key": 'df.to_hdf("never.h5")',
    "matplotlib.pyplot.imread-missing": 'plt.imread("missing.png")',
    "matplotlib.pyplot.savefig-no-directory": 'plt.savefig("no_dir/x.png")',
    "matplotlib.figure.Figure.savefig-bad-format": 'Figure().savefig("never.unknownformat")',
}

BEHAVIOUR_SCRIPT = '''\
import sys

if sys.argv[1] == "recipe":
    import recipe
import importlib
import inspect
import json

import numpy as np
import pandas as pd
import matplotlib
import matplotlib.image
import matplotlib.pyplot as plt
import wrapt
from matplotlib.figure import Figure

DECLARATIONS = {declarations!r}
FAILING_CALLS = {failing!r}


def isinstance_wrapper(obj):  # a wrapt proxy passes isinstance() checks to what it wraps
    return issubclass(type(obj), (wrapt.FunctionWrapper, wrapt.BoundFunctionWrapper))


with open("bad.npy", "wb") as f:
    f.write(b"not an array at all")
open("empty.csv", "w").close()
instances = {{"DataFrame": pd.DataFrame({{"a": [1]}}), "Series": pd.Series([1]),
             "Figure": Figure()}}
functions = {{}}
for name, module, attribute in DECLARATIONS:
    parent, obj = None, importlib.import_module(module)
    for part in attribute.split("."):
        parent, obj = obj, getattr(obj, part, None)
    if obj is None:
        functions[name] = None
        continue
    entry = {{"signature": str(inspect.signature(obj)), "name": obj.__name__,
             "qualname": obj.__qualname__, "doc": obj.__doc__,
             "patched": isinstance_wrapper(obj)}}
    if isinstance(parent, type) and parent.__name__ in instances:  # (not Animation)
        bound = getattr(instances[parent.__name__], attribute.rsplit(".", 1)[1])
        entry["bound_signature"] = str(inspect.signature(bound))
        entry["bound_patched"] = isinstance_wrapper(bound)
    functions[name] = entry

a = np.arange(3)
df = pd.DataFrame({{"a": [1, 2]}})
exceptions = {{}}
for key, code in FAILING_CALLS.items():
    try:
        exec(code)
    except BaseException as exc:
        exceptions[key] = [type(exc).__module__, type(exc).__qualname__, str(exc)]
    else:
        exceptions[key] = None
json.dump({{"functions": functions, "exceptions": exceptions}}, sys.stdout)
'''


@dataclass
class Behaviour:
    plain: dict
    recorded: dict
    run: dict


@pytest.fixture(scope="module")
def behaviour(tmp_path_factory: pytest.TempPathFactory) -> Behaviour:
    ws = Workspace(tmp_path_factory.mktemp("behaviour"))
    declarations = [(d.name, d.module, d.attribute) for d in DECLARATIONS]
    ws.write("behaviour.py", BEHAVIOUR_SCRIPT.format(declarations=declarations,
                                                     failing=FAILING_CALLS))
    with ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(ws.python, "behaviour.py", mode) for mode in ("plain", "recipe")]
        plain, recorded = (json.loads(job.result().stdout) for job in jobs)
    return Behaviour(plain, recorded, ws.only_run())


@pytest.mark.parametrize("name", [d.name for d in DECLARATIONS])
def test_signature_is_unchanged(behaviour: Behaviour, name: str) -> None:
    plain, recorded = behaviour.plain["functions"][name], behaviour.recorded["functions"][name]
    if plain is None:  # the installed library has no such function (Series.to_parquet)
        assert recorded is None
        return
    assert recorded["patched"] and not plain["patched"]
    assert recorded.get("bound_patched", True)
    for key in ("signature", "bound_signature", "name", "qualname", "doc"):
        assert recorded.get(key) == plain.get(key), key


@pytest.mark.parametrize("key", list(FAILING_CALLS))
def test_exception_is_unchanged(behaviour: Behaviour, key: str) -> None:
    raised = behaviour.plain["exceptions"][key]
    assert raised is not None, f"{FAILING_CALLS[key]} did not fail"
    assert behaviour.recorded["exceptions"][key] == raised


def test_missing_file_raises_file_not_found(behaviour: Behaviour) -> None:
    raised = behaviour.recorded["exceptions"]
    assert raised["numpy.load-missing"] == [
        "builtins", "FileNotFoundError", "[Errno 2] No such file or directory: 'missing.npy'"]
    assert raised["pandas.read_csv-missing"][:2] == ["builtins", "FileNotFoundError"]


def test_failing_calls_log_nothing(behaviour: Behaviour) -> None:
    """Only the files the script writes itself to make the calls fail (seen by the
    open-event fallback) are recorded."""
    assert behaviour.run["status"] == "completed"
    assert behaviour.run["inputs"] == []
    assert sorted((Path(event["path"]).name, event["function"])
                  for event in behaviour.run["outputs"]) == [
        ("bad.npy", "open"), ("empty.csv", "open")]


def test_every_declared_function_has_a_case(behaviour: Behaviour) -> None:
    """The table covers every declaration the installed libraries have."""
    logging = {d.name for d in DECLARATIONS if d.kind not in ("complete", "internal")}
    present = {name for name, entry in behaviour.plain["functions"].items() if entry}
    covered = {case.function for case in CASES if case.kind}
    assert present & logging - covered == set()


# ---------------------------------------------------------------------------------------
# Import order, disabled libraries, RECIPE_DISABLE

WRITE_ONE_OF_EACH = '''
np.save("early.npy", np.arange(3))
pd.DataFrame({"a": [1, 2]}).to_csv("early.csv")
plt.plot([1, 2])
plt.savefig("early.png")
'''


@pytest.fixture(scope="module")
def imported_first(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, dict]:
    """The libraries imported before `import recipe`."""
    ws = Workspace(tmp_path_factory.mktemp("order"))
    ws.write("early.py", "import numpy as np\nimport pandas as pd\nimport matplotlib\n"
                         "import matplotlib.pyplot as plt\nimport recipe\n" + WRITE_ONE_OF_EACH)
    ws.python("early.py")
    return ws, ws.only_run()


@pytest.mark.parametrize("function, file", [
    ("numpy.save", "early.npy"),
    ("pandas.DataFrame.to_csv", "early.csv"),
    ("matplotlib.pyplot.savefig", "early.png"),
])
def test_library_imported_before_recipe_is_logged(imported_first: tuple[Workspace, dict],
                                                  function: str, file: str) -> None:
    ws, run = imported_first
    assert_logged_once(ws, run, "output", function, file)
    # and after `import recipe`: every case of the `declared` run imports them after it


def test_disabled_library_is_not_logged(ws: Workspace) -> None:
    ws.write("disabled.py", "import recipe\nimport numpy as np\nimport pandas as pd\n"
                            "import matplotlib.pyplot as plt\n" + WRITE_ONE_OF_EACH
             + 'pd.read_csv("early.csv")\n')
    ws.python("disabled.py", env={"RECIPE_LIBRARIES_DISABLED": "pandas"})
    run = ws.only_run()
    # pandas is not patched; the files it opens in Python are still seen, as `open`
    assert sorted((kind, event["function"], Path(event["path"]).name)
                  for kind, event in events(run)) == [
        ("input", "open", "early.csv"), ("output", "matplotlib.pyplot.savefig", "early.png"),
        ("output", "numpy.save", "early.npy"), ("output", "open", "early.csv")]
    assert_logged_once(ws, run, "output", "numpy.save", "early.npy")


def test_recipe_disable_stores_no_run(ws: Workspace) -> None:
    ws.write("off.py", "import recipe\nimport numpy as np\nimport pandas as pd\n"
                       "import matplotlib.pyplot as plt\n" + WRITE_ONE_OF_EACH
             + "import wrapt\nprint(issubclass(type(np.save), wrapt.FunctionWrapper))\n")
    result = ws.python("off.py", env={"RECIPE_DISABLE": "1"})
    assert result.stdout.strip() == "False"  # not patched
    assert (ws.root / "early.npy").is_file() and (ws.root / "early.png").is_file()
    assert ws.runs() == []
