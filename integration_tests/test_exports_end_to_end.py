"""A real two-step pipeline, recorded, then exported as W3C PROV and as an RO-Crate: the
relations must come from what the scripts really did, not from hand-built records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prov.model import ProvCommunication, ProvDerivation, ProvDocument
from recipe_workspace import Workspace

from recipe.provenance import exports

pytest.importorskip("numpy")

PREPARE = """\
    import recipe
    import numpy as np

    np.save("data.npy", np.arange(10.0))
"""

TRAIN = """\
    import recipe
    import numpy as np

    lr = 0.5
    data = np.load("data.npy")
    np.save("model.npy", data * lr)
"""


@pytest.fixture
def pipeline(ws: Workspace) -> dict[str, dict]:
    """prepare.py then train.py, recorded; their runs by script name."""
    ws.python(ws.write("prepare.py", PREPARE))
    ws.python(ws.write("train.py", TRAIN))
    runs = {Path(run["script"]).name: run for run in ws.runs()}
    assert set(runs) == {"prepare.py", "train.py"}
    return runs


def local(value: Any) -> str:
    return value.localpart


def files(value: Any) -> list[Any]:
    """The File entities among an action's `object` or `result` (one entity or a list)."""
    return [e for e in (value if isinstance(value, list) else [value]) if "File" in e.type]


def test_prov_export_links_the_pipeline(ws: Workspace, pipeline: dict[str, dict]) -> None:
    prepare, train = pipeline["prepare.py"], pipeline["train.py"]
    document = ProvDocument.deserialize(content=exports.to_prov_json(list(pipeline.values())),
                                        format="json")

    informed = {(local(r.get_attribute("prov:informed").pop()),
                 local(r.get_attribute("prov:informant").pop()))
                for r in document.get_records(ProvCommunication)}
    assert informed == {(f"run/{train['id']}", f"run/{prepare['id']}")}

    data = exports.FileVersion(str(ws.root / "data.npy"), "xxh3_128",
                               prepare["outputs"][0]["hash"])
    model = exports.FileVersion(str(ws.root / "model.npy"), "xxh3_128",
                                train["outputs"][0]["hash"])
    derived = {(local(r.get_attribute("prov:generatedEntity").pop()),
                local(r.get_attribute("prov:usedEntity").pop()),
                local(r.get_attribute("prov:activity").pop()))
               for r in document.get_records(ProvDerivation)}
    assert derived == {(exports.file_name(model), exports.file_name(data),
                        f"run/{train['id']}")}

    text = exports.to_prov_n(list(pipeline.values()))
    assert f"wasInformedBy(recipe:run/{train['id']}, recipe:run/{prepare['id']}" in text


def test_ro_crate_export_packs_the_pipeline(ws: Workspace, pipeline: dict[str, dict],
                                            tmp_path: Path) -> None:
    from rocrate.rocrate import ROCrate

    directory = tmp_path / "crate"
    exports.write_ro_crate(list(pipeline.values()), str(directory), include_files=True)
    crate = ROCrate(str(directory))
    prepare = crate.get(exports.iri(f"run/{pipeline['prepare.py']['id']}"))
    train = crate.get(exports.iri(f"run/{pipeline['train.py']['id']}"))

    assert [e.id for e in files(prepare["result"])] == ["data.npy"]
    # The implicit workflow: one entity is what prepare wrote and what train read.
    assert [e.id for e in files(train["object"])] == ["data.npy"]
    assert [e.id for e in files(train["result"])] == ["model.npy"]
    assert train["instrument"].id == "train.py"
    assert train["actionStatus"] == "http://schema.org/CompletedActionStatus"
    assert files(train["object"])[0]["alternateName"] == str(ws.root / "data.npy")
    for name in ("data.npy", "model.npy", "prepare.py", "train.py"):
        assert (directory / name).read_bytes() == (ws.root / name).read_bytes()
