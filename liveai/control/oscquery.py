"""OSCQuery: the address table (liveai.control.addresses) served as an HTTP JSON tree, so Max, ossia and other
OSCQuery clients discover what liveai understands (https://github.com/Vidvox/OSCQueryProposal).

GET / (or any node's path) returns the node: FULL_PATH, CONTENTS for containers, and for methods
TYPE (the OSC type tags of the required arguments; "N" for none), RANGE (one entry per argument:
MIN/MAX or VALS, null when unconstrained), ACCESS (1 read: liveai sends it, 2 write: liveai
receives it, 3 both), DESCRIPTION and, for parameters, VALUE. GET /?HOST_INFO describes the host;
GET /path?VALUE (TYPE, RANGE, ...) returns one attribute. Standard library only (http.server);
it is not advertised over Zeroconf (_oscjson._tcp): that would need a dependency, so clients are
pointed at the port by hand (default 9002).
"""
from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import unquote, urlsplit

from liveai.control.addresses import TABLE, Address, Arg

log = logging.getLogger(__name__)

ACCESS = {"in": 2, "out": 1, "both": 3}
ATTRIBUTES = ("FULL_PATH", "CONTENTS", "TYPE", "RANGE", "ACCESS", "DESCRIPTION", "VALUE")
Values = Callable[[], dict[str, tuple]]


def _range(a: Arg) -> dict | None:
    if a.choices:
        return {"VALS": list(a.choices)}
    if a.range:
        lo, hi = a.range
        return {"MIN": int(lo) if a.type == "i" else float(lo), "MAX": int(hi) if a.type == "i" else float(hi)}
    return None


def _method(a: Address) -> dict:
    req = [x for x in a.args if not x.optional]
    doc = a.doc
    opt = [x for x in a.args if x.optional]
    if opt:
        doc += " Optional: " + ", ".join(f"{x.type} {x.name}" + (f" ({x.doc})" if x.doc else "") for x in opt) + "."
    return {"FULL_PATH": a.path, "TYPE": "".join(x.type for x in req) or "N",
            "RANGE": [_range(x) for x in req], "ACCESS": ACCESS[a.direction], "DESCRIPTION": doc}


def tree(values: dict[str, tuple] | None = None) -> dict:
    """The whole namespace as an OSCQuery node tree; values (path -> args) fill VALUE."""
    root: dict = {"FULL_PATH": "/", "CONTENTS": {}, "ACCESS": 0, "DESCRIPTION": "liveai"}
    for a in TABLE:
        node = root
        parts = a.path.strip("/").split("/")
        for i, name in enumerate(parts):
            contents = node.setdefault("CONTENTS", {})
            node = contents.setdefault(name, {"FULL_PATH": "/" + "/".join(parts[:i + 1]), "ACCESS": 0})
        node.update(_method(a))
        if values and a.path in values and a.direction in ("both", "out"):
            node["VALUE"] = list(values[a.path])
    return root


def find(root: dict, path: str) -> dict | None:
    node = root
    for name in [p for p in path.strip("/").split("/") if p]:
        node = node.get("CONTENTS", {}).get(name)
        if node is None:
            return None
    return node


def host_info(name: str, host: str, osc_port: int, listen: bool) -> dict:
    """HOST_INFO; listen: a WebSocket serves LISTEN/IGNORE (liveai.control.web)."""
    return {"NAME": name, "OSC_IP": host, "OSC_PORT": osc_port, "OSC_TRANSPORT": "UDP",
            "EXTENSIONS": {"ACCESS": True, "VALUE": True, "RANGE": True, "DESCRIPTION": True, "TYPE": True,
                           "LISTEN": listen, "PATH_CHANGED": False, "TAGS": False, "CLIPMODE": False,
                           "UNIT": False, "CRITICAL": False}}


def answer(raw: str, info: Callable[[], dict], values: Values | None) -> tuple[int, dict]:
    """(status, JSON body) for one GET of the namespace: raw is the request's path and query."""
    parts = urlsplit(raw)
    path, query = unquote(parts.path) or "/", parts.query
    if query == "HOST_INFO":
        return 200, info()
    try:
        vals = values() if values else None
    except Exception:
        vals = None
    node = find(tree(vals), path)
    if node is None:
        return 404, {"error": f"no such path {path}"}
    if query:
        attr = query.split("&")[0].upper()
        if attr not in ATTRIBUTES:
            return 400, {"error": f"unknown attribute {query}"}
        if attr not in node:
            return 204, {}
        return 200, {attr: node[attr]}
    return 200, node


class OscQueryServer:
    """A small threaded HTTP server; values() is called per request for current VALUEs."""

    def __init__(self, host: str, port: int, osc_port: int, values: Values | None = None, name: str = "liveai") -> None:
        self.osc_port, self.values, self.name, self.host = osc_port, values, name, host
        outer = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "liveai-oscquery"

            def log_message(self, fmt: str, *args) -> None:  # quiet: no stderr line per request
                log.debug("oscquery %s " + fmt, self.client_address[0], *args)

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                status, body = outer.respond(self.path)
                if status == 204:  # the attribute does not exist on this node
                    self.send_response(204)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.ws_port: int | None = None  # set when the web server (liveai.control.web) serves LISTEN
        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None

    def host_info(self) -> dict:
        info = host_info(self.name, self.host, self.osc_port, self.ws_port is not None)
        if self.ws_port is not None:
            info["WS_PORT"] = self.ws_port
        return info

    def respond(self, raw: str) -> tuple[int, dict]:
        return answer(raw, self.host_info, self.values)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.25},
                                        name="oscquery", daemon=True)
        self._thread.start()
        log.info("OSCQuery on http://%s:%d/", self.host, self.port)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(1.0)
