"""recipe's local web viewer: browse, search, compare and annotate runs.

`create_app()` is a Flask application factory; `recipe gui` serves it on 127.0.0.1. Every
page reads the store through `recipe.store.Store` and `recipe.query` (the CLI's own query
code), and has a JSON twin (`.json` suffix or `Accept: application/json`).

A local tool can still be attacked through the browser, so: the app answers only requests
whose Host is the address it serves, a localhost name or one allowed by name (no DNS
rebinding), state changes are POST only with a per-process CSRF token and no foreign
Origin, every response forbids inline script, framing and MIME sniffing (security
headers), a GET never reads a large file (search by content hashes small files only),
nothing from disk is served but the app's own static files, and Jinja escapes everything
from the store.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from typing import Any

from flask import Flask, Response, abort, g, request

LOCALHOST = frozenset({"127.0.0.1", "localhost", "::1"})
ANY_ADDRESS = "<any IP address>"  # in ALLOWED_HOSTS: Host may be any address literal
WILDCARDS = ("0.0.0.0", "::", "")
# Every response: no script but the app's own file, no inline script or style, no
# framing, no MIME sniffing, no referrer to other sites (same-origin keeps the Origin
# header that the POST check reads; "no-referrer" would make browsers send "null").
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; form-action 'self'; base-uri 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
MAX_HASH_BYTES = 16 * 2**20  # a search term naming a larger file is matched by path only


def allowed_hosts(host: str, names: tuple[str, ...] = ()) -> frozenset[str]:
    """The Host names a server bound to `host` answers: that address, the localhost
    names, and `names` (--allow-host). Bound to every address (0.0.0.0, ::), also any
    address literal and this machine's host name: DNS rebinding needs a domain name."""
    allowed = set(LOCALHOST) | {host.strip("[]").lower()} | {n.lower() for n in names}
    if host in WILDCARDS:
        import socket

        allowed |= {ANY_ADDRESS, socket.gethostname().lower()}
    return frozenset(allowed)


def _host_allowed(host: str, allowed: frozenset[str]) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]").lower()
    if name in allowed:
        return True
    if ANY_ADDRESS in allowed:
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return False
    return False


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The app. `test_config` overrides settings: RECIPE_SETTINGS (a recipe.config.Config,
    default: loaded as the CLI loads it), ALLOWED_HOSTS (host names, without port, that
    requests may name in their Host header, see `allowed_hosts`; None: any), CSRF_TOKEN,
    PAGE_SIZE, MAX_HASH_BYTES."""
    from recipe import config

    app = Flask(__name__)
    app.config.update(ALLOWED_HOSTS=None, CSRF_TOKEN=os.urandom(32).hex(), PAGE_SIZE=50,
                      MAX_HASH_BYTES=MAX_HASH_BYTES)
    if test_config:
        app.config.update(test_config)
    if "RECIPE_SETTINGS" not in app.config:
        app.config["RECIPE_SETTINGS"] = config.load()
    app.json.sort_keys = False

    @app.before_request
    def guard() -> None:
        allowed = app.config["ALLOWED_HOSTS"]
        if allowed is not None and not _host_allowed(request.host, frozenset(allowed)):
            abort(400, "unexpected Host header")
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            origin = request.headers.get("Origin")
            if origin and origin.rstrip("/") != request.host_url.rstrip("/"):
                abort(403, "requests from another site are refused")
            token = request.form.get("csrf_token", "")
            if not hmac.compare_digest(token, app.config["CSRF_TOKEN"]):
                abort(403, "missing or wrong CSRF token: reload the page and try again")

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        return response

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
