"""scikit-learn end to end: svmlight files, and load_files' folder of documents as one input."""

from __future__ import annotations

import pytest
from library_runs import LibraryRun

from recipe.capture.patches import sklearn as declarations

pytest.importorskip("sklearn")

SETUP = '''
from pathlib import Path

for category, texts in {"spam": ["win money", "cheap pills"], "ham": ["see you at noon"]}.items():
    folder = Path("corpus") / category
    folder.mkdir(parents=True)
    for index, text in enumerate(texts):
        (folder / f"{index}.txt").write_text(text)
Path("features.svm").write_text("1 1:0.5 3:1.0\\n0 2:2.0\\n")
Path("more.svm").write_text("1 1:1.5\\n")
'''

SCRIPT = '''
import numpy as np
from sklearn.datasets import (dump_svmlight_file, load_files, load_svmlight_file,
                              load_svmlight_files)

documents = load_files("corpus", encoding="utf-8")
print("documents", sorted(documents.target_names), len(documents.data))
X, y = load_svmlight_file("features.svm")
print("features", X.shape, y.tolist())
parts = load_svmlight_files(["features.svm", "more.svm"], n_features=3)
print("parts", len(parts))
dump_svmlight_file(np.eye(2), [0, 1], "dumped.svm")
try:
    load_svmlight_file("missing.svm")
except FileNotFoundError as exc:
    print("missing:", type(exc).__name__)
'''


@pytest.fixture(scope="module")
def sklearn_run(tmp_path_factory: pytest.TempPathFactory) -> LibraryRun:
    return LibraryRun.of(tmp_path_factory, declarations.DECLARATIONS, SCRIPT, SETUP)


def test_loaders_record_the_files_they_read(sklearn_run: LibraryRun) -> None:
    sklearn_run.assert_events([
        ("input", "sklearn.datasets.load_files", "corpus"),
        ("input", "sklearn.datasets.load_svmlight_file", "features.svm"),
        ("input", "sklearn.datasets.load_svmlight_files", "features.svm"),
        ("input", "sklearn.datasets.load_svmlight_files", "more.svm"),
        ("output", "sklearn.datasets.dump_svmlight_file", "dumped.svm"),
    ])


def test_recording_changes_nothing_the_script_sees(sklearn_run: LibraryRun) -> None:
    sklearn_run.assert_behaviour_unchanged()
    assert "missing: FileNotFoundError" in sklearn_run.stdout
