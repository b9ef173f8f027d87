"""W3C PROV and RO-Crate exports (recipe.provenance.exports), read back with the libraries
other tools use: `prov` for PROV-JSON, `rocrate` for the crate (and roc-validator when
installed)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from prov.model import (
    ProvActivity,
    ProvAgent,
    ProvAssociation,
    ProvCommunication,
    ProvDerivation,
    ProvDocument,
    ProvEntity,
    ProvGeneration,
    ProvSpecialization,
    ProvUsage,
)

from recipe.provenance import exports
from recipe.record.hashing import hash_file

BASE_TIME = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
H_RAW, H_MODEL, H_METRICS = "a1" * 16, "b2" * 16, "c3" * 16
ID_A, ID_B, ID_C, ID_D = ("a" * 32, "b" * 32, "c" * 32, "d" * 32)


def at(minutes: float) -> str:
    return (BASE_TIME + timedelta(minutes=minutes)).isoformat()


def event(path: str, digest: str | None, minutes: float, function: str = "numpy.load",
          algorithm: str = "xxh3_128") -> dict[str, Any]:
    return {"path": path, "hash": digest, "hash_algorithm": algorithm, "size": 10,
            "function": function, "time": at(minutes)}


@pytest.fixture
def chain(make_record: Callable[..., dict[str, Any]]) -> list[dict[str, Any]]:
    """A writes raw.npy; B reads the same bytes copied elsewhere and writes model.npy and
    metrics.json; C reads model.npy and fails; D touches no file. Newest first, as the
    store hands them."""
    a = make_record(run_id=ID_A, script="/project/prepare.py", start=BASE_TIME,
                    params={"n": 10}, label="n=10", tags=["dataset"],
                    script_hash="5a" * 16, script_hash_algorithm="xxh3_128",
                    outputs=[event("/project/data/raw.npy", H_RAW, 1, "numpy.save")])
    b = make_record(run_id=ID_B, script="/project/train.py",
                    start=BASE_TIME + timedelta(minutes=10), params={"lr": 0.1, "deep": True},
                    results={"accuracy": 0.9, "curve": [1, 2]}, label="deep=yes lr=0.1",
                    inputs=[event("/project/copy/raw.npy", H_RAW, 10.5)],
                    outputs=[event("/project/model.npy", H_MODEL, 11, "numpy.save"),
                             event("/project/metrics.json", H_METRICS, 11.5, "recipe.open")])
    c = make_record(run_id=ID_C, script="/project/evaluate.py", status="failed",
                    start=BASE_TIME + timedelta(minutes=20),
                    exception={"type": "ValueError", "message": "shapes differ",
                               "traceback": "Traceback..."},
                    inputs=[event("/project/model.npy", H_MODEL, 20.5)])
    d = make_record(run_id=ID_D, script="/project/notes.py",
                    start=BASE_TIME + timedelta(minutes=30))
    return [d, c, b, a]


def read_back(records: list[dict[str, Any]]) -> ProvDocument:
    """The PROV-JSON export, parsed by prov as any PROV tool would read it."""
    return ProvDocument.deserialize(content=exports.to_prov_json(records), format="json")


def relation_ids(document: ProvDocument, kind: type, *attributes: str) -> set[tuple[str, ...]]:
    """Each relation of `kind` as the tuple of the local ids (after `recipe:`) it links."""
    found = set()
    for record in document.get_records(kind):
        values = dict(record.attributes)
        found.add(tuple(_local(values.get(_attribute(name))) for name in attributes))
    return found


def _attribute(name: str) -> Any:
    from prov.constants import PROV

    return PROV[name]


def _local(value: Any) -> str | None:
    if value is None:
        return None
    assert value.namespace.uri == exports.RECIPE_NAMESPACE
    return value.localpart


def version(path: str, digest: str) -> str:
    return exports.file_name(exports.FileVersion(path, "xxh3_128", digest))


RAW = version("/project/data/raw.npy", H_RAW)
RAW_COPY = version("/project/copy/raw.npy", H_RAW)
MODEL = version("/project/model.npy", H_MODEL)
METRICS = version("/project/metrics.json", H_METRICS)


# -- W3C PROV --------------------------------------------------------------------------------

def test_every_run_is_an_activity_with_its_times(chain: list[dict[str, Any]]) -> None:
    document = read_back(chain)
    activities = {_local(a.identifier): a for a in document.get_records(ProvActivity)}
    assert set(activities) == {f"run/{run_id}" for run_id in (ID_A, ID_B, ID_C, ID_D)}
    for record in chain:
        activity = activities[f"run/{record['id']}"]
        assert activity.get_startTime() == datetime.fromisoformat(record["start"])
        assert activity.get_endTime() == datetime.fromisoformat(record["end"])


def test_files_used_and_generated(chain: list[dict[str, Any]]) -> None:
    document = read_back(chain)
    assert relation_ids(document, ProvUsage, "activity", "entity") == {
        (f"run/{ID_B}", RAW_COPY), (f"run/{ID_C}", MODEL)}
    assert relation_ids(document, ProvGeneration, "entity", "activity") == {
        (RAW, f"run/{ID_A}"), (MODEL, f"run/{ID_B}"), (METRICS, f"run/{ID_B}")}
    usage = next(iter(document.get_records(ProvUsage)))
    assert usage.get_attribute("prov:time")  # when the file was read


def test_outputs_derive_from_the_inputs_of_their_run(chain: list[dict[str, Any]]) -> None:
    document = read_back(chain)
    assert relation_ids(document, ProvDerivation,
                        "generatedEntity", "usedEntity", "activity") == {
        (MODEL, RAW_COPY, f"run/{ID_B}"), (METRICS, RAW_COPY, f"run/{ID_B}")}


def test_runs_that_hand_files_over_inform_each_other(chain: list[dict[str, Any]]) -> None:
    """B read A's bytes under another path (a copy): found by content hash. C read B's."""
    document = read_back(chain)
    assert relation_ids(document, ProvCommunication, "informed", "informant") == {
        (f"run/{ID_B}", f"run/{ID_A}"), (f"run/{ID_C}", f"run/{ID_B}")}


def test_the_same_bytes_at_two_paths_are_two_versions_of_one_content(
        chain: list[dict[str, Any]]) -> None:
    document = read_back(chain)
    content = f"content/xxh3_128/{H_RAW}"
    assert {(RAW, content), (RAW_COPY, content)} <= relation_ids(
        document, ProvSpecialization, "specificEntity", "generalEntity")


def test_user_and_recipe_are_associated_with_every_run(chain: list[dict[str, Any]]) -> None:
    document = read_back(chain)
    associations = relation_ids(document, ProvAssociation, "activity", "agent", "plan")
    prepare = exports.file_name(exports.FileVersion("/project/prepare.py", "xxh3_128",
                                                    "5a" * 16))
    assert (f"run/{ID_A}", "user/tester", prepare) in associations
    assert (f"run/{ID_B}", "user/tester", "file?path=/project/train.py") in associations
    for run_id in (ID_A, ID_B, ID_C, ID_D):
        assert (f"run/{run_id}", "software/recipe-0.1.0", None) in associations
    agents = {_local(agent.identifier): {str(t) for t in agent.get_asserted_types()}
              for agent in document.get_records(ProvAgent)}
    assert agents == {"user/tester": {"prov:Person"},
                      "software/recipe-0.1.0": {"prov:SoftwareAgent"}}


def test_run_attributes(chain: list[dict[str, Any]]) -> None:
    document = read_back(chain)
    activities = {_local(a.identifier): a for a in document.get_records(ProvActivity)}

    def attribute(run_id: str, name: str) -> Any:
        values = activities[f"run/{run_id}"].get_attribute(f"recipe:{name}")
        assert len(values) == 1, (name, values)
        return next(iter(values))

    assert attribute(ID_B, "script") == "/project/train.py"
    assert attribute(ID_B, "status") == "completed"
    assert attribute(ID_B, "exitCode") == 0
    assert attribute(ID_B, "param/lr") == 0.1
    assert attribute(ID_B, "param/deep") is True
    assert attribute(ID_B, "result/accuracy") == 0.9
    assert json.loads(attribute(ID_B, "result/curve")) == [1, 2]
    assert attribute(ID_A, "param/n") == 10
    assert attribute(ID_A, "tag") == "dataset"
    assert attribute(ID_C, "status") == "failed"
    assert attribute(ID_C, "exception") == "ValueError: shapes differ"


def test_prov_n_states_the_same_relations(chain: list[dict[str, Any]]) -> None:
    """prov cannot parse PROV-N back: the statements are checked as text."""
    text = exports.to_prov_n(chain)
    assert text.startswith("document\n") and text.rstrip().endswith("endDocument")
    assert "prefix recipe <https://recipe.invalid/ns#>" in text
    assert f"activity(recipe:run/{ID_A}, {at(0)}, {at(0.05)}" in text
    assert f"used(recipe:run/{ID_B}, recipe:file/xxh3_128/{H_RAW}?path\\=/project/copy/raw.npy" \
        in text
    assert f"wasGeneratedBy(recipe:file/xxh3_128/{H_MODEL}?path\\=/project/model.npy, " \
           f"recipe:run/{ID_B}" in text
    assert f"wasInformedBy(recipe:run/{ID_B}, recipe:run/{ID_A}" in text
    assert f"wasInformedBy(recipe:run/{ID_C}, recipe:run/{ID_B}" in text
    assert text.count("wasDerivedFrom(") == 2
    assert "wasAssociatedWith(recipe:run/" in text


def test_ids_do_not_depend_on_which_runs_are_exported(chain: list[dict[str, Any]]) -> None:
    whole = exports.to_prov_json(chain)
    alone = json.loads(exports.to_prov_json([chain[2]]))  # B only
    for section in ("activity", "entity", "agent"):
        for identifier in alone[section]:
            assert identifier in json.loads(whole)[section]


def test_awkward_paths_survive_both_notations(make_record: Callable[..., dict[str, Any]]
                                              ) -> None:
    path = "/data/a b=(1),[x];y%z.csv"
    record = make_record(run_id=ID_A, inputs=[event(path, H_RAW, 0.01)])
    document = read_back([record])
    entity = next(r for r in document.get_records(ProvEntity)
                  if r.get_attribute("recipe:path") == {path})
    assert _local(entity.identifier) == version(path, H_RAW)
    assert "a%20b%3D%281%29%2C%5Bx%5D%3By%25z.csv" in exports.to_prov_n([record])


def test_a_file_without_hash_is_keyed_by_its_path(make_record: Callable[..., dict[str, Any]]
                                                   ) -> None:
    record = make_record(run_id=ID_A, inputs=[event("/data/stream.bin", None, 0.01)])
    assert relation_ids(read_back([record]), ProvUsage, "entity") == {
        ("file?path=/data/stream.bin",)}


def test_a_run_reading_what_it_wrote_informs_nobody(make_record: Callable[..., Any]) -> None:
    record = make_record(run_id=ID_A, outputs=[event("/p/x.npy", H_RAW, 0.01, "numpy.save")],
                         inputs=[event("/p/x.npy", H_RAW, 0.02)])
    document = read_back([record])
    assert not list(document.get_records(ProvCommunication))
    assert not list(document.get_records(ProvDerivation))  # x.npy is not derived from itself


def test_a_write_after_the_read_informs_nobody(make_record: Callable[..., Any]) -> None:
    reader = make_record(run_id=ID_A, inputs=[event("/p/x.npy", H_RAW, 1)])
    writer = make_record(run_id=ID_B, outputs=[event("/p/x.npy", H_RAW, 2, "numpy.save")])
    assert exports.handovers([reader, writer]) == []


def test_the_writer_of_the_path_read_wins_over_a_copy_elsewhere(
        make_record: Callable[..., Any]) -> None:
    """B read /p/x.npy: its writer is A, even though C wrote the same bytes later, elsewhere."""
    a = make_record(run_id=ID_A, outputs=[event("/p/x.npy", H_RAW, 1, "numpy.save")])
    c = make_record(run_id=ID_C, outputs=[event("/q/x.npy", H_RAW, 2, "numpy.save")])
    b = make_record(run_id=ID_B, inputs=[event("/p/x.npy", H_RAW, 3)])
    assert [(h.informed, h.informant) for h in exports.handovers([a, b, c])] == [(ID_B, ID_A)]


def test_no_runs_is_an_empty_document() -> None:
    assert not list(read_back([]).get_records())
    assert exports.to_prov_n([]).startswith("document")


# -- RO-Crate ---------------------------------------------------------------------------------

def load_crate(directory: Path) -> Any:
    from rocrate.rocrate import ROCrate

    return ROCrate(str(directory))


def action_of(crate: Any, run_id: str) -> Any:
    return crate.get(exports.iri(f"run/{run_id}"))


def ids(value: Any) -> set[str]:
    """The @ids a property refers to, whether one entity or a list."""
    values = value if isinstance(value, list) else [value] if value is not None else []
    return {entity.id for entity in values}


def files_of(value: Any) -> set[str]:
    values = value if isinstance(value, list) else [value] if value is not None else []
    return {entity.id for entity in values if "File" in entity.type}


def test_crate_has_one_create_action_per_run(chain: list[dict[str, Any]], tmp_path: Path
                                             ) -> None:
    metadata = exports.write_ro_crate(chain, str(tmp_path / "crate"))
    assert metadata == str(tmp_path / "crate" / "ro-crate-metadata.json")
    crate = load_crate(tmp_path / "crate")
    actions = [e for e in crate.get_entities() if e.type == "CreateAction"]
    assert {action["identifier"] for action in actions} == {ID_A, ID_B, ID_C, ID_D}
    assert ids(crate.root_dataset["mentions"]) == {action.id for action in actions}
    assert crate.root_dataset["conformsTo"].id == "https://w3id.org/ro/wfrun/process/0.5"
    assert crate.get("https://w3id.org/ro/wfrun/process/0.5").type == "CreativeWork"


def test_crate_actions_link_their_files_script_and_people(chain: list[dict[str, Any]],
                                                          tmp_path: Path) -> None:
    exports.write_ro_crate(chain, str(tmp_path / "crate"))
    crate = load_crate(tmp_path / "crate")
    b = action_of(crate, ID_B)
    assert files_of(b["object"]) == {"file:///project/copy/raw.npy"}
    assert files_of(b["result"]) == {"file:///project/model.npy", "file:///project/metrics.json"}
    assert b["instrument"].id == "file:///project/train.py"
    assert set(b["instrument"].type) >= {"File", "SoftwareSourceCode"}
    assert b["agent"].type == "Person" and b["agent"]["name"] == "tester"
    assert b["participant"].type == "SoftwareApplication"
    assert b["participant"]["softwareVersion"] == "0.1.0"
    assert b["actionStatus"] == "http://schema.org/CompletedActionStatus"
    assert b["startTime"] == "2024-03-01T12:10:00.000+00:00"
    assert b["endTime"] == "2024-03-01T12:10:03.000+00:00"
    assert "error" not in b.properties()

    a = action_of(crate, ID_A)
    assert files_of(a["result"]) == {"file:///project/data/raw.npy"}
    assert a["instrument"]["version"] == "5a" * 16  # the script's content hash
    raw = crate.get("file:///project/data/raw.npy")
    assert raw["identifier"] == f"xxh3_128:{H_RAW}" and raw["contentSize"] == "10"

    c = action_of(crate, ID_C)
    assert c["actionStatus"] == "http://schema.org/FailedActionStatus"
    assert c["error"] == "ValueError: shapes differ"
    assert files_of(c["object"]) == {"file:///project/model.npy"}  # what B wrote
    assert "result" not in c.properties()

    d = action_of(crate, ID_D)
    assert "object" not in d.properties() and "result" not in d.properties()
    data = {entity.id for entity in crate.data_entities}
    assert "file:///project/model.npy" in data  # every file is a part of the crate


def test_parameters_and_results_are_property_values(chain: list[dict[str, Any]],
                                                    tmp_path: Path) -> None:
    exports.write_ro_crate(chain, str(tmp_path / "crate"))
    b = action_of(load_crate(tmp_path / "crate"), ID_B)
    parameters = {e["name"]: e["value"] for e in b["object"] if e.type == "PropertyValue"}
    results = {e["name"]: e["value"] for e in b["result"] if e.type == "PropertyValue"}
    assert parameters == {"lr": 0.1, "deep": True}
    assert results == {"accuracy": 0.9, "curve": "[1, 2]"}


def test_a_running_run_is_an_active_action(make_record: Callable[..., Any], tmp_path: Path
                                           ) -> None:
    exports.write_ro_crate([make_record(run_id=ID_A, status="running")], str(tmp_path / "c"))
    action = action_of(load_crate(tmp_path / "c"), ID_A)
    assert action["actionStatus"] == "http://schema.org/ActiveActionStatus"
    assert "endTime" not in action.properties()


def test_versions_of_one_path_are_told_apart(make_record: Callable[..., Any], tmp_path: Path
                                             ) -> None:
    first = make_record(run_id=ID_A, outputs=[event("/p/x.npy", H_RAW, 0.01, "numpy.save")])
    second = make_record(run_id=ID_B, outputs=[event("/p/x.npy", H_MODEL, 1.01, "numpy.save")])
    exports.write_ro_crate([second, first], str(tmp_path / "crate"))
    crate = load_crate(tmp_path / "crate")
    assert ids(action_of(crate, ID_A)["result"]) == {f"file:///p/x.npy#xxh3_128-{H_RAW}"}
    assert ids(action_of(crate, ID_B)["result"]) == {f"file:///p/x.npy#xxh3_128-{H_MODEL}"}


def write_file(path: Path, content: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return hash_file(str(path))


def test_include_files_copies_what_is_still_on_disk(make_record: Callable[..., Any],
                                                    tmp_path: Path) -> None:
    """Files with the recorded content are copied, under unique names; a file changed since
    the run is not (the copy would lie), nor is one that is gone."""
    raw = tmp_path / "in" / "data.npy"
    other = tmp_path / "out" / "data.npy"
    changed = tmp_path / "out" / "changed.csv"
    script = tmp_path / "train.py"
    raw_hash = write_file(raw, b"raw bytes")
    other_hash = write_file(other, b"other bytes")
    old_hash = write_file(changed, b"old")
    write_file(changed, b"new")
    script_hash = write_file(script, b"print('hello')\n")
    record = make_record(run_id=ID_A, script=str(script), script_hash=script_hash,
                         script_hash_algorithm="xxh3_128",
                         inputs=[event(str(raw), raw_hash, 0.01)],
                         outputs=[event(str(other), other_hash, 0.02, "numpy.save"),
                                  event(str(changed), old_hash, 0.03, "pandas.to_csv"),
                                  event(str(tmp_path / "gone.txt"), H_RAW, 0.04, "open")])
    directory = tmp_path / "crate"
    exports.write_ro_crate([record], str(directory), include_files=True)

    assert sorted(os.listdir(directory)) == ["data-2.npy", "data.npy", "ro-crate-metadata.json",
                                             "train.py"]
    assert (directory / "train.py").read_bytes() == b"print('hello')\n"
    crate = load_crate(directory)
    action = action_of(crate, ID_A)
    assert ids(action["object"]) == {"data.npy"}
    assert action["instrument"].id == "train.py"
    copied = {e.id: e.get("alternateName") for e in action["result"] if e.get("alternateName")}
    assert copied == {"data-2.npy": str(other)}
    assert (directory / "data-2.npy").read_bytes() == b"other bytes"
    assert files_of(action["result"]) == {"data-2.npy", f"file://{changed}",
                                          f"file://{tmp_path}/gone.txt"}
    assert {"data.npy", "data-2.npy", "train.py"} <= {e.id for e in crate.data_entities}


def test_an_existing_crate_is_rewritten(chain: list[dict[str, Any]], tmp_path: Path) -> None:
    directory = tmp_path / "crate"
    exports.write_ro_crate(chain[:1], str(directory))
    exports.write_ro_crate(chain, str(directory))
    crate = load_crate(directory)
    assert len([e for e in crate.get_entities() if e.type == "CreateAction"]) == 4


def test_refuses_a_directory_that_is_not_a_crate(chain: list[dict[str, Any]], tmp_path: Path
                                                 ) -> None:
    directory = tmp_path / "project"
    directory.mkdir()
    (directory / "notes.txt").write_text("mine")
    with pytest.raises(ValueError) as error:
        exports.write_ro_crate(chain, str(directory))
    message = str(error.value)
    assert "\n" not in message and "not empty" in message and str(directory) in message
    assert os.listdir(directory) == ["notes.txt"]
    with pytest.raises(ValueError, match="not a directory"):
        exports.write_ro_crate(chain, str(directory / "notes.txt"))


def test_an_empty_directory_is_fine(chain: list[dict[str, Any]], tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert os.path.isfile(exports.write_ro_crate(chain, str(tmp_path / "empty")))


# rdflib, under roc-validator, warns of its own deprecated classes; the suite makes warnings
# errors, which would stop the validator, not tell anything about the crate.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_crate_passes_roc_validator_process_run_crate(chain: list[dict[str, Any]],
                                                      tmp_path: Path) -> None:
    """roc-validator's process-run-crate profile, every REQUIRED check. It is not a test
    dependency (it pins rich<14 and brings rdflib, pyshacl): the test runs where it is
    installed. Offline, the RO-Crate JSON-LD context is served from rocrate's own copy,
    and the two checks that only test that the context URL can be downloaded are skipped."""
    pytest.importorskip("rocrate_validator")
    import rocrate
    from rocrate_validator import models, services
    from rocrate_validator.utils import document_loader

    with open(os.path.join(os.path.dirname(rocrate.__file__), "data", "ro-crate.jsonld"),
              encoding="utf-8") as handle:
        context = {"@context": json.load(handle)["@context"]}
    fetch = document_loader._fetch_json_ld

    def offline(url: str) -> Any:
        return context if url.startswith("https://w3id.org/ro/crate/") else fetch(url)

    exports.write_ro_crate(chain, str(tmp_path / "crate"))
    monkeypatch = pytest.MonkeyPatch()
    with monkeypatch.context() as patch:
        patch.setattr(document_loader, "_fetch_json_ld", offline)
        settings = services.ValidationSettings(
            rocrate_uri=str(tmp_path / "crate"), profile_identifier="process-run-crate",
            requirement_severity=models.Severity.REQUIRED,
            skip_checks=["ro-crate-1.1_3.1", "ro-crate-1.1_3.2"])
        result = services.validate(settings)
    assert result.passed(), [issue.message for issue in result.get_issues()]
