"""What the web page (liveai.control.web) may reach, and who may ask: the Host header, the token,
the WebSocket's Origin, loopback; the takes folder and nothing outside it. A mixin of
liveai.control.web.WebServer (which owns host, port, token and takes)."""
from __future__ import annotations

import http
import ipaddress
import json
import secrets
import socket
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit


def loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def own_address() -> str:
    """This machine's address on the network it routes by (no packet is sent), for the URL."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            return s.getsockname()[0]
    except OSError:
        return socket.gethostname()


class WebGuard:
    """Request checks and the takes folder (see the module docstring)."""

    host: str
    port: int
    token: str | None
    takes: Path

    def url(self) -> str:
        host = self.host if self.host not in ("0.0.0.0", "::") else own_address()
        q = "?" + urlencode({"token": self.token}) if self.token else ""
        return f"http://{host}:{self.port}/{q}"

    def _hosts(self) -> set[str] | None:
        """Host headers accepted; None: any (a wildcard bind, where the token guards)."""
        if self.host in ("0.0.0.0", "::"):
            return None
        names = {self.host}
        if loopback(self.host):
            names |= {"localhost", "127.0.0.1", "[::1]"}
        return {f"{n}:{self.port}" for n in names}

    def check(self, request: Any, peer: str) -> tuple[int, str] | None:
        """Why a request is refused (status, reason), or None."""
        hosts = self._hosts()
        host = request.headers.get("Host", "")
        if hosts is not None and host not in hosts:
            return 403, "wrong Host"
        query = dict(parse_qsl(urlsplit(request.path).query, keep_blank_values=True))
        if self.token is None:
            if not loopback(peer):
                return 403, "not from loopback (serve with --web-host to get a token)"
        elif not secrets.compare_digest(query.get("token", ""), self.token):
            return 403, "no token (use the URL liveai printed)"
        if request.headers.get("Upgrade", "").lower() == "websocket":
            origin = request.headers.get("Origin")
            if origin is not None and origin != f"http://{host}":
                return 403, "foreign Origin"
        return None

    def _response(self, conn: Any, status: int, body: bytes, ctype: str, extra: dict | None = None) -> Any:
        from websockets.datastructures import Headers
        from websockets.http11 import Response
        h = Headers({"Content-Type": ctype, "Content-Length": str(len(body)), "Cache-Control": "no-store",
                     "X-Content-Type-Options": "nosniff", **(extra or {})})
        return Response(status, http.HTTPStatus(status).phrase, h, body)

    def _json(self, conn: Any, status: int, obj: Any) -> Any:
        return self._response(conn, status, json.dumps(obj).encode(), "application/json")
    def take_list(self) -> list[dict]:
        if not self.takes.is_dir():
            return []
        mids = sorted(self.takes.glob("*.mid"), key=lambda p: p.stat().st_mtime, reverse=True)
        return [{"name": p.stem, "mid": f"/takes/{p.name}", "svg": f"/takes/{p.stem}.svg",
                 "bytes": p.stat().st_size} for p in mids[:200]]

    def _take(self, conn: Any, name: str) -> Any:
        """One take's .mid, or its piano roll as SVG; nothing outside the takes folder."""
        if "/" in name or "\\" in name or name.startswith(".") or not name.endswith((".mid", ".svg")):
            return self._json(conn, 404, {"error": "no such take"})
        root = self.takes.resolve()
        mid = (root / (name[:-4] + ".mid")).resolve()
        if mid.parent != root or not mid.is_file():
            return self._json(conn, 404, {"error": "no such take"})
        disp = {"Content-Disposition": f'attachment; filename="{name}"'}
        if name.endswith(".mid"):
            return self._response(conn, 200, mid.read_bytes(), "audio/midi", disp)
        svg = mid.with_suffix(".svg")
        if svg.is_file() and svg.resolve().parent == root:
            body = svg.read_bytes()
        else:
            from liveai.view.pianoroll import read_take, render_svg
            try:
                body = render_svg(read_take(mid), title=mid.stem).encode()
            except Exception as e:
                return self._json(conn, 500, {"error": f"cannot draw {name}: {type(e).__name__}"})
        return self._response(conn, 200, body, "image/svg+xml", disp)
