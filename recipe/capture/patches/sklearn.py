"""scikit-learn: the dataset loaders that read local files.

load_files reads every document under a folder of categories: the folder is logged as one
input (`hash_tree` of its contents)."""

from __future__ import annotations

from ..patching import Input, Output

DECLARATIONS = [
    Input("sklearn.datasets", "load_svmlight_file", "f"),
    Input("sklearn.datasets", "load_svmlight_files", "files", many=True),
    Output("sklearn.datasets", "dump_svmlight_file", "f"),
    Input("sklearn.datasets", "load_files", "container_path"),
]
