"""Standard exports of run records: W3C PROV (PROV-JSON, PROV-N) and RO-Crate.

recipe's own JSON export is complete but only recipe reads it. These formats let other
provenance tools read the same history: PROV for graph and query tools, RO-Crate (the
Process Run Crate profile) for archives and workflow registries.

Identifiers
-----------
PROV needs an IRI for everything. recipe has no web home to dereference, so its names live
in the namespace `recipe` = `https://recipe.invalid/ns#`: the `.invalid` top-level domain is
reserved (RFC 2606, RFC 6761), so these IRIs can never resolve to, or collide with, anybody's
real site, and say plainly that they are names, not links. Under it:

    recipe:run/<run id>                                  a run (an Activity)
    recipe:file/<hash algorithm>/<hash>?path=<path>      one version of a file (an Entity):
                                                         these bytes at that path
    recipe:file?path=<path>                              a file recorded without a hash
    recipe:content/<hash algorithm>/<hash>               the bytes, wherever they are; every
                                                         version with these bytes is a
                                                         specializationOf it
    recipe:user/<name>                                   the user (an Agent, a Person)
    recipe:software/recipe-<version>                     recipe itself (a SoftwareAgent)

Paths are absolute and URL-quoted (`/` kept); names and ids are quoted whole. The same bytes
at the same path are the same entity in every export, whichever runs are exported: the ids
are stable, and documents exported at different times can be merged.

The RO-Crate gives runs, users and recipe the same IRIs (`https://recipe.invalid/ns#run/<id>`
...), and references files where they are, as `file://` URIs, or by their relative path when
`include_files` copied them into the crate.
"""

from __future__ import annotations

import json
import mimetypes
import os
import shlex
import shutil
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

if TYPE_CHECKING:
    from prov.model import ProvDocument

FORMATS = ("json", "prov-json", "prov-n", "ro-crate")

RECIPE_NAMESPACE = "https://recipe.invalid/ns#"
PROCESS_RUN_CRATE = "https://w3id.org/ro/wfrun/process/0.5"
RO_CRATE_1_1 = "https://w3id.org/ro/crate/1.1"
RO_CRATE_METADATA = "ro-crate-metadata.json"
DEFAULT_HASH_ALGORITHM = "xxh3_128"

# How a run's status reads as a schema.org ActionStatusType. An interrupted or lost run did
# not complete: for the profile that is a failure (consumers should expect missing results).
ACTION_STATUS = {
    "completed": "http://schema.org/CompletedActionStatus",
    "failed": "http://schema.org/FailedActionStatus",
    "interrupted": "http://schema.org/FailedActionStatus",
    "lost": "http://schema.org/FailedActionStatus",
    "running": "http://schema.org/ActiveActionStatus",
}


# -- what every format shares: the runs' file versions -----------------------------------

class FileVersion(NamedTuple):
    """A file's content at a path: what PROV calls an entity. `digest` is None for a file
    recorded without a hash (then the path alone identifies it)."""

    path: str
    algorithm: str | None
    digest: str | None


class FileEvent(NamedTuple):
    """One logged read or write of a file version by a run."""

    version: FileVersion
    size: int | None
    function: str | None
    time: datetime | None


def _version_of(event: dict[str, Any]) -> FileVersion:
    digest = event.get("hash")
    algorithm = (event.get("hash_algorithm") or DEFAULT_HASH_ALGORITHM) if digest else None
    return FileVersion(event.get("path") or "", algorithm, digest)


def _events(record: dict[str, Any], kind: str) -> list[FileEvent]:
    """The record's `inputs` or `outputs`, in the order logged."""
    return [FileEvent(_version_of(event), event.get("size"), event.get("function"),
                      _parse_time(event.get("time")))
            for event in record.get(kind) or () if event.get("path")]


def _script_version(record: dict[str, Any]) -> FileVersion:
    """The script as a file version: hashed when the recorder could read it."""
    digest = record.get("script_hash")
    algorithm = (record.get("script_hash_algorithm") or DEFAULT_HASH_ALGORITHM) if digest else None
    return FileVersion(record.get("script") or "<unknown>", algorithm, digest)


def _parse_time(text: Any) -> datetime | None:
    """An ISO 8601 time as an aware datetime (UTC when it has no offset); None if absent."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _chronological(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Oldest first, so that documents read in the order things happened (the store hands
    records newest first)."""
    return sorted(records, key=lambda record: record.get("start") or "")


def _user_of(record: dict[str, Any]) -> str:
    return record.get("user") or "unknown"


def _recipe_version_of(record: dict[str, Any]) -> str:
    if record.get("recipe_version"):
        return str(record["recipe_version"])
    from .. import __version__

    return __version__


class Handover(NamedTuple):
    """Run `informed` used a file version whose bytes run `informant` had generated."""

    informed: str
    informant: str
    version: FileVersion


def handovers(records: list[dict[str, Any]]) -> list[Handover]:
    """Which runs handed files to which, by content hash: for each file a run read, the run
    that last wrote the same bytes before the read, preferably at the same path (the file
    it actually read), else anywhere (a copy or a rename: same hash under another path).

    A writer after the read cannot have informed it, so generation times must not come
    after the use; an event without a time is given the benefit of the doubt."""
    writers: dict[tuple[str, str], list[tuple[datetime | None, str, str]]] = {}
    for record in records:
        for event in _events(record, "outputs"):
            version = event.version
            if version.digest:
                key = (version.algorithm, version.digest)
                writers.setdefault(key, []).append((event.time, version.path, record["id"]))
    found: dict[tuple[str, str], Handover] = {}
    for record in _chronological(records):
        for event in _events(record, "inputs"):
            version = event.version
            if not version.digest:
                continue
            earlier = [(time, path, run_id)
                       for time, path, run_id in writers.get((version.algorithm,
                                                              version.digest), ())
                       if run_id != record["id"] and _not_after(time, event.time)]
            same_path = [writer for writer in earlier if writer[1] == version.path]
            candidates = same_path or earlier
            if not candidates:
                continue
            _time, _path, informant = max(candidates, key=lambda writer: _sortable(writer[0]))
            found.setdefault((record["id"], informant),
                             Handover(record["id"], informant, version))
    return list(found.values())


def _not_after(first: datetime | None, second: datetime | None) -> bool:
    return first is None or second is None or first <= second


def _sortable(moment: datetime | None) -> datetime:
    return moment or datetime.min.replace(tzinfo=timezone.utc)


# -- identifiers --------------------------------------------------------------------------

def _quoted_path(path: str) -> str:
    return quote(path, safe="/")


def run_name(run_id: str) -> str:
    """A run's name in the recipe namespace; `recipe:` + it in PROV, the full IRI in the
    RO-Crate, so that both exports name a run (user, recipe) alike."""
    return f"run/{quote(run_id, safe='')}"


def user_name(user: str) -> str:
    return f"user/{quote(user, safe='')}"


def software_name(version: str) -> str:
    return f"software/recipe-{quote(version, safe='')}"


def file_name(version: FileVersion) -> str:
    """A file version's name in the recipe namespace (see the module docstring)."""
    if version.digest:
        return f"file/{version.algorithm}/{version.digest}?path={_quoted_path(version.path)}"
    return f"file?path={_quoted_path(version.path)}"


def content_name(version: FileVersion) -> str:
    return f"content/{version.algorithm}/{version.digest}"


def iri(name: str) -> str:
    """The absolute IRI of a name in the recipe namespace."""
    return RECIPE_NAMESPACE + name


# -- W3C PROV -------------------------------------------------------------------------------

def prov_document(records: list[dict[str, Any]]) -> ProvDocument:
    """The runs as one W3C PROV document.

    A run is an Activity (start, end, status, parameters and results as attributes); each
    file version it read or wrote is an Entity it `used` or that `wasGeneratedBy` it; every
    output `wasDerivedFrom` every input of the same run (recipe does not know which input
    fed which output, so this over-approximates rather than miss a dependency). A run that
    read bytes another run wrote `wasInformedBy` that run. The user (a Person, with the
    script as the plan) and recipe (a SoftwareAgent, the recorder) are associated with each
    run. Identical bytes written by several runs (a deterministic re-run) are one entity
    generated by each of them: it is the same file version."""
    from prov.constants import PROV, PROV_LABEL, PROV_ROLE, PROV_TYPE
    from prov.model import ProvDocument

    document = ProvDocument()
    recipe = document.add_namespace("recipe", RECIPE_NAMESPACE)
    records = _chronological(records)
    declared: set[Any] = set()

    def file_entity(version: FileVersion, size: int | None = None, *,
                    script: bool = False) -> Any:
        identifier = recipe[file_name(version)]
        if identifier in declared:
            return identifier
        declared.add(identifier)
        types = [PROV["Plan"], recipe["Script"]] if script else [recipe["FileVersion"]]
        attributes: list[tuple[Any, Any]] = [(PROV_TYPE, t) for t in types]
        attributes += [(PROV_LABEL, os.path.basename(version.path) or version.path),
                       (recipe["path"], version.path)]
        if version.digest:
            attributes += [(recipe["hash"], version.digest),
                           (recipe["hashAlgorithm"], version.algorithm)]
        if size is not None:
            attributes.append((recipe["size"], size))
        document.entity(identifier, attributes)
        if version.digest:
            content = recipe[content_name(version)]
            if content not in declared:
                declared.add(content)
                document.entity(content, [(PROV_TYPE, recipe["Content"]),
                                          (recipe["hash"], version.digest),
                                          (recipe["hashAlgorithm"], version.algorithm)])
            document.specializationOf(identifier, content)
        return identifier

    def agent(identifier: Any, attributes: list[tuple[Any, Any]]) -> Any:
        if identifier not in declared:
            declared.add(identifier)
            document.agent(identifier, attributes)
        return identifier

    for record in records:
        run = recipe[run_name(record["id"])]
        document.activity(run, _parse_time(record.get("start")),
                          _parse_time(record.get("end")), _run_attributes(record, recipe))
        user = agent(recipe[user_name(_user_of(record))],
                     [(PROV_TYPE, PROV["Person"]), (PROV_LABEL, _user_of(record))])
        version = _recipe_version_of(record)
        recorder = agent(recipe[software_name(version)],
                         [(PROV_TYPE, PROV["SoftwareAgent"]),
                          (PROV_LABEL, f"recipe {version}"), (recipe["version"], version)])
        script = file_entity(_script_version(record), script=True)
        document.wasAssociatedWith(run, user, script,
                                   other_attributes=[(PROV_ROLE, recipe["user"])])
        document.wasAssociatedWith(run, recorder,
                                   other_attributes=[(PROV_ROLE, recipe["recorder"])])

        used = _first_events(_events(record, "inputs"))
        for event in used:
            document.used(run, file_entity(event.version, event.size), event.time,
                          other_attributes=_function_attribute(event, recipe))
        generated = _last_events(_events(record, "outputs"))
        for event in generated:
            document.wasGeneratedBy(file_entity(event.version, event.size), run, event.time,
                                    other_attributes=_function_attribute(event, recipe))
        for output in generated:
            for source in used:
                if output.version != source.version:
                    document.wasDerivedFrom(recipe[file_name(output.version)],
                                            recipe[file_name(source.version)], run)

    for handover in handovers(records):
        document.wasInformedBy(recipe[run_name(handover.informed)],
                               recipe[run_name(handover.informant)],
                               other_attributes=[(recipe["file"],
                                                  recipe[file_name(handover.version)])])
    return document


def _first_events(events: list[FileEvent]) -> list[FileEvent]:
    """One usage per file version read: the first read is when the run first used it."""
    first: dict[FileVersion, FileEvent] = {}
    for event in events:
        first.setdefault(event.version, event)
    return list(first.values())


def _last_events(events: list[FileEvent]) -> list[FileEvent]:
    """One generation per file version written: its bytes are those of the last write."""
    last: dict[FileVersion, FileEvent] = {}
    for event in events:
        last.pop(event.version, None)
        last[event.version] = event
    return list(last.values())


def _function_attribute(event: FileEvent, recipe: Any) -> list[tuple[Any, Any]]:
    return [(recipe["function"], event.function)] if event.function else []


def _run_attributes(record: dict[str, Any], recipe: Any) -> list[tuple[Any, Any]]:
    """What describes a run beyond its times, as PROV attributes. Parameters and results are
    one attribute each (`recipe:param/<name>`, `recipe:result/<name>`), typed, so that PROV
    tools can query them; values that are not scalars are JSON text."""
    from prov.constants import PROV_LABEL, PROV_TYPE

    script = record.get("script") or "<unknown>"
    label = record.get("label") or ""
    git = record.get("git") or {}
    optional = {
        "command": shlex.join(record["command"]) if record.get("command") else None,
        "cwd": record.get("cwd"),
        "exitCode": record.get("exit_code"),
        "exception": _exception_text(record),
        "hostname": record.get("hostname"),
        "user": record.get("user"),
        "python": record.get("python"),
        "platform": record.get("platform"),
        "label": label or None,
        "gitCommit": git.get("commit"),
        "gitBranch": git.get("branch"),
        "gitDirty": git.get("dirty"),
    }
    attributes: list[tuple[Any, Any]] = [
        (PROV_TYPE, recipe["Run"]),
        (PROV_LABEL, f"{os.path.basename(script) or script} {label}".strip()),
        (recipe["script"], script),
        (recipe["status"], record.get("status") or "unknown"),
    ]
    attributes += [(recipe[name], value) for name, value in optional.items()
                   if value is not None]
    attributes += [(recipe["tag"], tag) for tag in record.get("tags") or ()]
    for kind, values in (("param", record.get("params")), ("result", record.get("results"))):
        for name, value in sorted((values or {}).items()):
            if value is not None:
                attributes.append((recipe[f"{kind}/{quote(str(name), safe='')}"],
                                   _literal(value)))
    return attributes


def _literal(value: Any) -> Any:
    """A value PROV can type (bool, int, float, str); anything else as JSON text."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _exception_text(record: dict[str, Any]) -> str | None:
    exception = record.get("exception")
    if not exception:
        return None
    return f"{exception.get('type') or 'Exception'}: {exception.get('message') or ''}".strip()


def to_prov_json(records: list[dict[str, Any]]) -> str:
    """PROV-JSON (https://www.w3.org/submissions/prov-json/) of the runs."""
    return prov_document(records).serialize(format="json", indent=2)


def to_prov_n(records: list[dict[str, Any]]) -> str:
    """PROV-N (https://www.w3.org/TR/prov-n/), the human-readable PROV notation."""
    return prov_document(records).get_provn() + "\n"


# -- RO-Crate (Process Run Crate) -------------------------------------------------------------

def write_ro_crate(records: list[dict[str, Any]], directory: str, *,
                   include_files: bool = False) -> str:
    """Write the runs as an RO-Crate following the Process Run Crate profile 0.5
    (https://w3id.org/ro/wfrun/process/0.5) into `directory`; returns the path of its
    ro-crate-metadata.json.

    Each run is a CreateAction: its script the `instrument`, the files it read its `object`,
    the files it wrote its `result` (with its parameters and results as PropertyValues), the
    user its `agent`, and recipe, which recorded it, a `participant`. Files are referenced
    where they are, as `file://` URIs; with `include_files`, every file still on disk with
    the recorded content (checked by hash) is copied into the crate and referenced by its
    relative path instead, its original path kept as `alternateName`.

    The directory is created if needed. A non-empty directory that is not already an
    RO-Crate is refused (ValueError), so that an export never mixes itself into unrelated
    files; an existing crate is rewritten, copies of the same name replaced."""
    from ..record.journal import atomic_write_json

    directory = os.path.abspath(directory)
    metadata_path = os.path.join(directory, RO_CRATE_METADATA)
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise ValueError(f"{directory} exists and is not a directory")
    if (os.path.isdir(directory) and os.listdir(directory)
            and not os.path.isfile(metadata_path)):
        raise ValueError(f"{directory} is not empty and is not an RO-Crate "
                         f"(no {RO_CRATE_METADATA}): give a new or empty directory")
    os.makedirs(directory, exist_ok=True)
    records = _chronological(records)  # the oldest version of a name keeps it when copied
    copies = _copy_files(records, directory) if include_files else {}
    metadata = {"@context": f"{RO_CRATE_1_1}/context",
                "@graph": _crate_graph(records, copies)}
    atomic_write_json(metadata_path, metadata, indent=2)
    return metadata_path


def _file_versions(records: list[dict[str, Any]]) -> Iterator[FileVersion]:
    """Every file version the runs touched, scripts included, each once."""
    seen: set[FileVersion] = set()
    for record in records:
        versions = [_script_version(record)]
        versions += [event.version for kind in ("inputs", "outputs")
                     for event in _events(record, kind)]
        for version in versions:
            if version not in seen:
                seen.add(version)
                yield version


def _copy_files(records: list[dict[str, Any]], directory: str) -> dict[FileVersion, str]:
    """Copy into `directory` each file version whose bytes are still on disk, under a name
    unique in the crate; returns the relative name of each version copied. A file whose
    content changed since the run is not copied: the crate would misstate what was used."""
    from ..record.hashing import hash_file

    taken = {RO_CRATE_METADATA, "ro-crate-preview.html"}
    copies: dict[FileVersion, str] = {}
    digests: dict[tuple[str, str], str | None] = {}
    for version in _file_versions(records):
        if not version.digest or not os.path.isabs(version.path):
            continue
        key = (version.path, version.algorithm)
        if key not in digests:
            try:
                digests[key] = (hash_file(version.path, version.algorithm)
                                if os.path.isfile(version.path) else None)
            except (OSError, KeyError):  # unreadable, or a hash algorithm we do not know
                digests[key] = None
        if digests[key] != version.digest:
            continue
        name = _unique_name(os.path.basename(version.path), taken)
        target = os.path.join(directory, name)
        if os.path.abspath(version.path) != target:
            shutil.copy2(version.path, target)
        copies[version] = name
    return copies


def _unique_name(name: str, taken: set[str]) -> str:
    stem, extension = os.path.splitext(name)
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{stem}-{number}{extension}"
    taken.add(candidate)
    return candidate


def _crate_time(moment: datetime | None) -> str | None:
    """Milliseconds, not microseconds: the profile's validator accepts only those."""
    return moment.isoformat(timespec="milliseconds") if moment else None


def _one_or_many(references: list[dict[str, str]]) -> Any:
    """RO-Crate 1.1 recommends a single value over a one-item list."""
    return references[0] if len(references) == 1 else references


def _crate_graph(records: list[dict[str, Any]],
                 copies: dict[FileVersion, str]) -> list[dict[str, Any]]:
    """The JSON-LD @graph of the crate, entities in a stable order. Runs, users and recipe
    get the IRIs of the PROV export (`https://recipe.invalid/ns#run/<id>`...), so that both
    exports of a run can be joined; files are where they are (`file://`) or in the crate."""
    records = _chronological(records)
    graph: dict[str, dict[str, Any]] = {}
    files: list[dict[str, str]] = []  # every File data entity: the root's hasPart

    def add(entity: dict[str, Any]) -> dict[str, str]:
        """Add an entity (merging its @types into one of the same id); its reference."""
        existing = graph.get(entity["@id"])
        if existing is None:
            graph[entity["@id"]] = entity
            if "File" in _as_list(entity["@type"]):
                files.append({"@id": entity["@id"]})
        else:
            types = _as_list(existing["@type"])
            types += [t for t in _as_list(entity["@type"]) if t not in types]
            existing["@type"] = types[0] if len(types) == 1 else types
            if "File" in types and {"@id": entity["@id"]} not in files:
                files.append({"@id": entity["@id"]})
        return {"@id": entity["@id"]}

    # Several versions of one path, none copied, would share its file:// URI: a fragment
    # naming the content tells them apart.
    versions_by_path: dict[str, set[FileVersion]] = {}
    for version in _file_versions(records):
        if version not in copies:
            versions_by_path.setdefault(version.path, set()).add(version)

    def file_id(version: FileVersion) -> str:
        if version in copies:
            return quote(copies[version])
        if not os.path.isabs(version.path):  # "<stdin>", "<interactive>": no file
            return iri(f"script/{quote(version.path, safe='')}")
        uri = "file://" + quote(version.path)
        if len(versions_by_path[version.path]) > 1 and version.digest:
            uri += f"#{version.algorithm}-{version.digest}"
        return uri

    def file_entity(version: FileVersion, size: int | None = None, *,
                    script: bool = False) -> dict[str, str]:
        is_file = os.path.isabs(version.path)
        types: Any = "File"
        if script:
            types = ["File", "SoftwareSourceCode"] if is_file else "SoftwareSourceCode"
        entity: dict[str, Any] = {"@id": file_id(version), "@type": types,
                                  "name": os.path.basename(version.path) or version.path}
        if script:
            entity["programmingLanguage"] = "Python"
            if is_file:  # the profile asks for the tool's source: where the script is
                entity["url"] = "file://" + quote(version.path)
            if version.digest:
                entity["version"] = version.digest  # the script's content is its version
        if is_file:
            entity["encodingFormat"] = (mimetypes.guess_type(version.path)[0]
                                        or "application/octet-stream")
        if size is not None:
            entity["contentSize"] = str(size)
        if version.digest:
            entity["identifier"] = f"{version.algorithm}:{version.digest}"
            if version.algorithm == "sha256":
                entity["sha256"] = version.digest
        if version in copies:
            entity["alternateName"] = version.path
        return add(entity)

    actions = []
    for record in records:
        version = _recipe_version_of(record)
        recipe = add({"@id": iri(software_name(version)), "@type": "SoftwareApplication",
                      "name": "recipe", "softwareVersion": version,
                      "description": "Provenance for Python scripts: records every file a "
                                     "script reads and writes."})
        user = _user_of(record)
        person = add({"@id": iri(user_name(user)), "@type": "Person", "name": user})
        action_id = iri(run_name(record["id"]))
        objects = [file_entity(e.version, e.size) for e in _first_events(
            _events(record, "inputs"))]
        results = [file_entity(e.version, e.size) for e in _last_events(
            _events(record, "outputs"))]
        objects += [add(value) for value in _property_values(action_id, "param",
                                                             record.get("params"))]
        results += [add(value) for value in _property_values(action_id, "result",
                                                             record.get("results"))]
        status = ACTION_STATUS.get(record.get("status") or "", ACTION_STATUS["failed"])
        action: dict[str, Any] = {
            "@id": action_id,
            "@type": "CreateAction",
            "name": _action_name(record),
            "description": _action_description(record),
            "identifier": record["id"],
            "instrument": file_entity(_script_version(record), script=True),
            "agent": person,
            "participant": recipe,
            "actionStatus": status,
        }
        for key, field in (("startTime", "start"), ("endTime", "end")):
            moment = _crate_time(_parse_time(record.get(field)))
            if moment:
                action[key] = moment
        if objects:
            action["object"] = _one_or_many(objects)
        if results:
            action["result"] = _one_or_many(results)
        if status == ACTION_STATUS["failed"] and _exception_text(record):
            action["error"] = _exception_text(record)
        actions.append(add(action))

    root: dict[str, Any] = {
        "@id": "./",
        "@type": "Dataset",
        "name": "recipe runs",
        "description": f"{len(records)} run(s) of Python scripts recorded by recipe: "
                       "what each read and wrote, when, with which parameters.",
        "datePublished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        # RO-Crate requires a license; recipe cannot know the terms of the user's files.
        "license": "Not stated: recipe does not know under which terms the recorded files "
                   "may be shared; ask their owner.",
        "conformsTo": {"@id": PROCESS_RUN_CRATE},
    }
    if files:
        root["hasPart"] = _one_or_many(files)
    if actions:
        root["mentions"] = _one_or_many(actions)
    header = [
        {"@id": RO_CRATE_METADATA, "@type": "CreativeWork",
         "conformsTo": {"@id": RO_CRATE_1_1}, "about": {"@id": "./"}},
        root,
        {"@id": PROCESS_RUN_CRATE, "@type": "CreativeWork", "name": "Process Run Crate",
         "version": "0.5"},
    ]
    return header + list(graph.values())


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _property_values(action_id: str, kind: str,
                     values: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Parameters (or results) as PropertyValues: the profile's way to show values that an
    action consumed (its `object`) or produced (its `result`) without a file."""
    entities = []
    for name, value in sorted((values or {}).items()):
        entity: dict[str, Any] = {"@id": f"{action_id}/{kind}/{quote(str(name), safe='')}",
                                  "@type": "PropertyValue", "name": str(name)}
        if value is not None:
            entity["value"] = _literal(value)
        entities.append(entity)
    return entities


def _action_name(record: dict[str, Any]) -> str:
    script = record.get("script") or "<unknown>"
    name = f"Run of {os.path.basename(script) or script}"
    return f"{name} ({record['label']})" if record.get("label") else name


def _action_description(record: dict[str, Any]) -> str:
    """The command line and where and how it ended: for people, not to be parsed."""
    command = shlex.join(record["command"]) if record.get("command") else record.get("script")
    text = f"python {command}"
    if record.get("cwd"):
        text += f" in {record['cwd']}"
    if record.get("hostname"):
        text += f" on {record['hostname']}"
    text += f": {record.get('status') or 'unknown'}"
    if record.get("exit_code") is not None:
        text += f" (exit code {record['exit_code']})"
    return text
