"""recipe's local web viewer: browse, search, compare and annotate runs.

`create_app()` is a Flask application factory; `recipe gui` serves it on 127.0.0.1. Every
page reads the store through `recipe.store.Store` and `recipe.query` (the CLI's own query
code), and has a JSON twin (`.json` suffix or `Accept: application/json`).

A local tool can still be attacked through the browser, so: the app answers only requests
whose Host is the address it serves (no DNS rebinding), state changes are POST only with a
per-process CSRF token and no foreign Origin, nothing from disk is served but the app's
own static files, and Jinja escapes everything from the store.
"""

from __future__ import annotations

import hmac
import os
from typing import Any

from flask import Flask, abort, g, request


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The app. `test_config` overrides settings: RECIPE_SETTINGS (a recipe.config.Config,
    default: loaded as the CLI loads it), ALLOWED_HOSTS (host names, without port, that
    requests may name in their Host header; None: any), CSRF_TOKEN, PAGE_SIZE."""
    from recipe import config

    app = Flask(__name__)
    app.config.update(ALLOWED_HOSTS=None, CSRF_TOKEN=os.urandom(32).hex(), PAGE_SIZE=50)
    if test_config:
        app.config.update(test_config)
    if "RECIPE_SETTINGS" not in app.config:
        app.config["RECIPE_SETTINGS"] = config.load()
    app.json.sort_keys = False

    @app.before_request
    def guard() -> None:
        allowed = app.config["ALLOWED_HOSTS"]
        if allowed is not None and request.host.rsplit(":", 1)[0].strip("[]") not in allowed:
            abort(400, "unexpected Host header")
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            origin = request.headers.get("Origin")
            if origin and origin.rstrip("/") != request.host_url.rstrip("/"):
                abort(403, "requests from another site are refused")
            token = request.form.get("csrf_token", "")
            if not hmac.compare_digest(token, app.config["CSRF_TOKEN"]):
                abort(403, "missing or wrong CSRF token: reload the page and try again")

    @app.context_processor
    def globals_for_templates() -> dict[str, Any]:
        store = g.get("store")
        return {"csrf_token": app.config["CSRF_TOKEN"],
                "recipe_home": app.config["RECIPE_SETTINGS"].home,
                "store_warnings": list(dict.fromkeys(store.warnings)) if store else []}

    from . import views

    app.register_blueprint(views.blueprint)
    views.register_filters(app)
    return app
