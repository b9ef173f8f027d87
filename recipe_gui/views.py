"""The pages, each an HTML view and its JSON twin built from the same data."""

from __future__ import annotations

import math
import os
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from recipe import display
from recipe.provenance import graph
from recipe.record.fields import now
from recipe.store import Store, StoreError, UnknownRun, open_store, query
from recipe.store.base import summary

blueprint = Blueprint("gui", __name__)

MAX_PAGE_SIZE = 500
LINEAGE_DEPTH = 4  # runs each way on a file's page; `recipe lineage` goes all the way


def store() -> Store:
    if "store" not in g:
        g.store = open_store(current_app.config["RECIPE_SETTINGS"])
    return g.store


def wants_json() -> bool:
    if request.path.endswith(".json"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > \
        request.accept_mimetypes["text/html"]


def respond(template: str, data: dict[str, Any], **context: Any) -> Any:
    """The page, or its JSON twin: `data` is all the page shows."""
    if wants_json():
        return jsonify(data)
    return render_template(template, **data, **context)


def resolve(prefix: str) -> str:
    try:
        return store().resolve(prefix)
    except UnknownRun as exc:
        abort(404, str(exc))


# -- the runs list ---------------------------------------------------------------------------

def _int(name: str, default: int, lowest: int, highest: int) -> int:
    try:
        return min(max(int(request.args.get(name, default)), lowest), highest)
    except ValueError:
        abort(400, f"{name} must be a whole number")


@blueprint.route("/")
@blueprint.route("/runs.json", endpoint="runs_json")
def runs() -> Any:
    args = {name: request.args.get(name, "").strip()
            for name in ("q", "script", "status", "tag", "since", "until")}
    sort = request.args.get("sort", "start")
    descending = request.args.get("order", "desc") != "asc"
    per_page = _int("per_page", current_app.config["PAGE_SIZE"], 1, MAX_PAGE_SIZE)
    page = _int("page", 1, 1, 10**9)
    algorithms = store().hash_algorithms() if args["q"] else ()
    try:
        chosen = query.RunFilter(term=args["q"], script=args["script"], status=args["status"],
                                 tag=args["tag"], since=args["since"], until=args["until"],
                                 algorithms=algorithms,
                                 max_hash_bytes=current_app.config["MAX_HASH_BYTES"],
                                 sort=sort, descending=descending)
    except ValueError as exc:
        abort(400, str(exc))
    rows, total = store().page((page - 1) * per_page, per_page, chosen=chosen)
    data = {"runs": rows, "total": total, "page": page, "per_page": per_page,
            "pages": max(1, math.ceil(total / per_page)), "sort": sort,
            "order": "desc" if descending else "asc", "query": args,
            "warnings": list(dict.fromkeys(store().warnings)),
            "notices": [chosen.search.unhashed] if chosen.search and chosen.search.unhashed
            else []}
    return respond("runs.html", data, statuses=["completed", "failed", "interrupted",
                                                "running", "lost"])


# -- one run ---------------------------------------------------------------------------------

@blueprint.route("/run/<run_id>")
@blueprint.route("/run/<run_id>.json", endpoint="run_json")
def run(run_id: str) -> Any:
    full_id = resolve(run_id)
    record = store().get(full_id)
    related = query.related_runs(store(), record)
    return respond("run.html", {"run": record, "related": related})


@blueprint.route("/run/<run_id>/download")
def download(run_id: str) -> Response:
    record = store().get(resolve(run_id))
    response = jsonify(record)
    response.headers["Content-Disposition"] = f'attachment; filename="run-{record["id"]}.json"'
    return response


@blueprint.route("/run/<run_id>/annotate", methods=["POST"])
def annotate(run_id: str) -> Any:
    full_id = resolve(run_id)
    text = request.form.get("text", "").strip()
    if not text:
        abort(400, "a note needs some text")
    store().annotate(full_id, {"kind": "note", "text": text, "time": now()})
    return redirect(url_for("gui.run", run_id=full_id), code=303)


@blueprint.route("/run/<run_id>/tag", methods=["POST"])
def tag(run_id: str) -> Any:
    full_id = resolve(run_id)
    tags = [word for word in request.form.get("tags", "").replace(",", " ").split() if word]
    if not tags:
        abort(400, "give one or more tags, separated by spaces or commas")
    store().annotate(full_id, {"kind": "tags", "tags": tags})
    return redirect(url_for("gui.run", run_id=full_id), code=303)


# -- comparing runs --------------------------------------------------------------------------

@blueprint.route("/compare")
@blueprint.route("/compare.json", endpoint="compare_json")
def compare() -> Any:
    wanted = [word for value in request.args.getlist("id") for word in value.split(",")
              if word.strip()]
    if len(wanted) < 2:
        abort(400, "pick two or more runs to compare (the checkboxes of the runs list)")
    ids = list(dict.fromkeys(resolve(prefix.strip()) for prefix in wanted))
    if len(ids) < 2:
        abort(400, "pick two or more different runs to compare")
    by_id = {record["id"]: record for record in store().records(ids)}
    records = [by_id[run_id] for run_id in ids]
    return respond("compare.html", {"runs": [summary(r) for r in records],
                                    "sections": query.compare(records)})


# -- a file's history ------------------------------------------------------------------------

@blueprint.route("/file")
@blueprint.route("/file.json", endpoint="file_history_json")
def file_history() -> Any:
    path = request.args.get("path", "").strip()
    digest = request.args.get("hash", "").strip().lower()
    if not path and not digest:
        abort(400, "give a file: ?path=/absolute/path or ?hash=HEX")
    history = query.file_history(store(), path=path, digest=digest)
    trees = {}
    if history:  # where it came from and what was made from it, a few runs each way
        runs = graph.Graph.around(store())
        version = {"path": path or None, "hash": digest or history[-1]["event"].get("hash")}
        trees = {direction: runs.walk(version, direction, LINEAGE_DEPTH)
                 for direction in (graph.UP, graph.DOWN)}
    return respond("file.html", {"path": path, "hash": digest, "history": history,
                                 "lineage": trees})


# -- sweeps ----------------------------------------------------------------------------------

@blueprint.route("/sweeps")
@blueprint.route("/sweeps.json", endpoint="sweeps_json")
def sweeps() -> Any:
    return respond("sweeps.html", {"sweeps": store().sweeps()})


@blueprint.route("/sweep/<sweep_id>")
@blueprint.route("/sweep/<sweep_id>.json", endpoint="sweep_json")
def sweep(sweep_id: str) -> Any:
    try:
        document = store().sweep(sweep_id)
    except UnknownRun as exc:
        abort(404, str(exc))
    rows = query.runs_of(store(), document["id"])
    params = list(document.get("params") or {})
    results = list(dict.fromkeys(
        name for row in rows for name, value in (row.get("results") or {}).items()
        if _number(value) is not None))
    x = request.args.get("x") or (params[0] if params else "")
    y = request.args.get("y") or (results[0] if results else "")
    chart = _chart(rows, x, y, [name for name in params if name != x]) if x and y else None
    return respond("sweep.html", {"sweep": document, "runs": rows, "params": params,
                                  "results": results, "x": x, "y": y, "chart": chart})


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


SERIES_COLOURS = ("#2f5fd0", "#d0602f", "#1f7a3f", "#86198f", "#9a6700", "#0e7490")


def _chart(rows: list[dict[str, Any]], x: str, y: str, others: list[str]
           ) -> dict[str, Any] | None:
    """Coordinates for an SVG plot of result `y` against parameter `x`, one line per
    combination of the `others` swept parameters (server-side: the viewer must work
    offline, with no JavaScript library to fetch)."""
    points = []
    for row in rows:
        params, results = row.get("params") or {}, row.get("results") or {}
        if x in params and _number(results.get(y)) is not None:
            series = " ".join(f"{name}={params.get(name)}" for name in others)
            points.append((params[x], _number(results[y]), row["id"], series))
    if not points:
        return None
    numeric = all(_number(point[0]) is not None for point in points)
    if numeric:
        points.sort(key=lambda point: point[0])
        position = {point[0]: float(point[0]) for point in points}
    else:
        labels = list(dict.fromkeys(str(point[0]) for point in points))
        position = {point[0]: float(labels.index(str(point[0]))) for point in points}
    xs = [position[point[0]] for point in points]
    ys = [point[1] for point in points]
    width, height, left, margin = 640, 320, 84, 48

    def scale(value: float, low: float, high: float, size: float) -> float:
        return size / 2 if high == low else (value - low) / (high - low) * size

    inner_w, inner_h = width - left - margin, height - 2 * margin
    names = list(dict.fromkeys(point[3] for point in points))
    placed = [{"cx": round(left + scale(px, min(xs), max(xs), inner_w), 1),
               "cy": round(height - margin - scale(py, min(ys), max(ys), inner_h), 1),
               "label": f"{x}={raw} {series} {y}={py:.6g}".replace("  ", " "), "id": run_id,
               "colour": SERIES_COLOURS[names.index(series) % len(SERIES_COLOURS)]}
              for px, py, (raw, _, run_id, series) in zip(xs, ys, points, strict=True)]
    lines = []
    for index, name in enumerate(names):
        mine = [p for p, point in zip(placed, points, strict=True) if point[3] == name]
        lines.append({"name": name, "colour": SERIES_COLOURS[index % len(SERIES_COLOURS)],
                      "points": " ".join(f"{p['cx']},{p['cy']}" for p in mine)
                      if numeric else ""})
    ticks = {str(raw): (left + scale(position[raw], min(xs), max(xs), inner_w), raw)
             for raw, *_ in points}
    if numeric:  # the ends of the axis
        ends = [points[0][0], points[-1][0]]
        ticks = {str(raw): (left + scale(position[raw], min(xs), max(xs), inner_w), raw)
                 for raw in ends}
    return {"width": width, "height": height, "left": left, "margin": margin,
            "points": placed, "lines": lines if any(line["name"] for line in lines) or numeric
            else [], "legend": [line for line in lines if line["name"]],
            "x_ticks": [{"x": round(tx, 1), "label": str(label)} for tx, label in
                        ticks.values()],
            "y_low": f"{min(ys):.4g}", "y_high": f"{max(ys):.4g}", "x": x, "y": y}


# -- errors ----------------------------------------------------------------------------------

@blueprint.app_errorhandler(StoreError)
def store_error(exc: StoreError) -> Any:
    return _error_page(503, "The store cannot be read", str(exc))


@blueprint.app_errorhandler(400)
@blueprint.app_errorhandler(403)
@blueprint.app_errorhandler(404)
@blueprint.app_errorhandler(405)
def http_error(exc: Any) -> Any:
    return _error_page(exc.code, exc.name, exc.description)


def _error_page(status: int, title: str, message: str) -> Any:
    if wants_json():
        return jsonify({"error": title, "message": message}), status
    return render_template("error.html", title=title, message=message), status


# -- template helpers ------------------------------------------------------------------------

def register_filters(app: Flask) -> None:
    app.jinja_env.filters.update(short=lambda text: (text or "")[:8], ago=display.ago,
                                 duration=lambda seconds: display.duration(seconds, fine=True),
                                 basename=_basename,
                                 diff_lines=_diff_lines)
    app.jinja_env.globals.update(page_url=_page_url, json_url=_json_url)


def _basename(path: str | None) -> str:
    return os.path.basename(path or "") or (path or "")


def _diff_lines(diff: str | None) -> list[tuple[str, str]]:
    """(css class, line) for a unified diff: added, removed, hunk and file lines coloured."""
    lines = []
    for line in (diff or "").splitlines():
        if line.startswith(("+++", "---", "diff ", "index ")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = ""
        lines.append((kind, line))
    return lines


def _page_url(**changes: Any) -> str:
    """This list's URL with some query arguments changed (a stable, shareable link)."""
    args = {key: value for key, value in request.args.items() if value}
    args.update({key: value for key, value in changes.items()})
    args = {key: value for key, value in args.items() if value not in ("", None)}
    return url_for("gui.runs", **args)


def _json_url() -> str:
    """This page's JSON twin."""
    path = "/runs" if request.path == "/" else request.path.rstrip("/")
    query_string = request.query_string.decode()
    return f"{path}.json" + (f"?{query_string}" if query_string else "")
