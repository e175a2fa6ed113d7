"""The web page's server (issue 27) against a real `liveai demo` (real time, OSC only): an OSCQuery
client outside the project (the websockets library, speaking the proposal's LISTEN/IGNORE) receives
LISTENed values as binary OSC; the page's OSC is checked by the address table and rate-limited; what
it may reach is only the page, the namespace and the takes folder; without the token, with a foreign
Origin, a foreign Host or from off loopback without a token: refused."""
from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import mido
import pytest

websockets = pytest.importorskip("websockets", reason="the web extra (websockets) is not installed")
from pythonosc.osc_message import OscMessage  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from liveai.io.osc import build  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def start_demo(tmp: Path, *extra: str, tempo: str = "100") -> SimpleNamespace:
    """`liveai demo` on the real clock, OSC only, its web page on a free port; the takes folder in tmp."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_DATA_HOME=str(tmp / "data"))
    env.pop("STATE_DIRECTORY", None)
    takes = tmp / "data" / "liveai" / "recordings"
    takes.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "liveai", "demo", "--no-midi", "--web", "--web-port", "0",
                             "--osc-port", "0", "--oscquery-port", "0", "--osc-out", "127.0.0.1:9", "--no-show",
                             "--tempo", tempo, *extra],
                            cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + 30
    url = oscquery = None
    while time.monotonic() < deadline and (url is None or oscquery is None):
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"web page (http://\S+)", line)
        if m:
            url = m.group(1)
        m = re.search(r"oscquery port (\d+)", line)
        if m:
            oscquery = int(m.group(1))
    if url is None:
        proc.kill()
        raise AssertionError("no web page URL:\n" + "".join(lines))
    port = int(re.search(r":(\d+)/", url).group(1))
    token = re.search(r"token=([\w-]+)", url)
    return SimpleNamespace(proc=proc, url=url, port=port, oscquery=oscquery, takes=takes,
                           token=token.group(1) if token else None)


def stop(d: SimpleNamespace) -> None:
    d.proc.terminate()
    try:
        d.proc.wait(10)
    except subprocess.TimeoutExpired:
        d.proc.kill()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = start_demo(tmp_path_factory.mktemp("web"))
    yield d
    stop(d)


def get(url: str, headers: dict | None = None) -> tuple[int, bytes, dict]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def raw_get(port: int, path: str, host: str) -> int:
    """A GET with any Host header (urllib would put the real one)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.putrequest("GET", path, skip_host=True)
    c.putheader("Host", host)
    c.endheaders()
    status = c.getresponse().status
    c.close()
    return status


def receive(ws, seconds: float) -> list[tuple[str, list]]:
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            m = OscMessage(ws.recv(timeout=max(0.01, end - time.monotonic())))
        except TimeoutError:
            break
        out.append((m.address, m.params))
    return out


def test_host_info_advertises_listen_and_the_websocket(demo):
    status, body, _ = get(f"http://127.0.0.1:{demo.port}/?HOST_INFO")
    info = json.loads(body)
    assert status == 200 and info["EXTENSIONS"]["LISTEN"] is True and info["WS_PORT"] == demo.port
    # the OSCQuery HTTP server of --oscquery-port points at the same WebSocket
    other = json.loads(get(f"http://127.0.0.1:{demo.oscquery}/?HOST_INFO")[1])
    assert other["EXTENSIONS"]["LISTEN"] is True and other["WS_PORT"] == demo.port
    # the namespace is served here too, and the page to a browser
    node = json.loads(get(f"http://127.0.0.1:{demo.port}/liveai/energy")[1])
    assert node["FULL_PATH"] == "/liveai/energy" and node["TYPE"] == "f"
    status, body, headers = get(f"http://127.0.0.1:{demo.port}/", {"Accept": "text/html"})
    assert status == 200 and body.startswith(b"<!doctype html>")
    assert "https://" not in body.decode() and "http://" not in body.decode()  # nothing from the internet


def test_an_oscquery_client_listens_gets_values_as_they_change_and_ignores(demo):
    with connect(f"ws://127.0.0.1:{demo.port}/") as ws:
        for path in ("/liveai/position", "/liveai/chord", "/liveai/bass/note", "/liveai/energy", "/liveai/player/note"):
            ws.send(json.dumps({"COMMAND": "LISTEN", "DATA": path}))
        got = receive(ws, 3.0)
        positions = [tuple(a) for p, a in got if p == "/liveai/position"]
        assert len(set(positions)) >= 3, got  # streamed as the beats go by, no polling
        assert any(a[0] for p, a in got if p == "/liveai/chord"), got
        assert any(a[1] > 0 for p, a in got if p == "/liveai/bass/note"), got  # notes as they go out
        assert any(a[1] > 0 for p, a in got if p == "/liveai/player/note"), got  # and the player's
        # the page's OSC goes through the table: a value is set and streamed back, junk answered
        ws.send(build("/liveai/energy", 0.25))
        ws.send(build("/liveai/energy", 7.0))
        ws.send(build("/liveai/nowhere"))
        got = receive(ws, 1.5)
        assert ("/liveai/energy", pytest.approx([0.25])) in [(p, a) for p, a in got]
        errors = [a[0] for p, a in got if p == "/liveai/error"]
        assert any("energy" in e for e in errors) and any("unknown address" in e for e in errors)
        assert json.loads(get(f"http://127.0.0.1:{demo.port}/liveai/energy?VALUE")[1])["VALUE"] == [0.25]
        for path in ("/liveai/position", "/liveai/chord", "/liveai/bass/note", "/liveai/energy", "/liveai/player/note"):
            ws.send(json.dumps({"COMMAND": "IGNORE", "DATA": path}))
        receive(ws, 0.3)  # what was on its way
        assert receive(ws, 1.5) == []


def test_control_messages_beyond_the_rate_are_dropped(demo):
    from liveai.control.web import BURST, RATE
    with connect(f"ws://127.0.0.1:{demo.port}/") as ws:
        t0 = time.monotonic()
        for _ in range(600):
            ws.send(build("/liveai/ping"))
        elapsed = time.monotonic() - t0
        pongs = [p for p, _ in receive(ws, 1.5) if p == "/liveai/pong"]
    assert 0 < len(pongs) <= BURST + RATE * (elapsed + 0.5) + 1 < 600


def test_takes_download_and_nothing_outside_the_folder(demo):
    mid = mido.MidiFile()
    track = mido.MidiTrack([mido.Message("note_on", note=60, velocity=80), mido.Message("note_off", note=60, time=480)])
    mid.tracks.append(track)
    mid.save(demo.takes / "take1.mid")
    (demo.takes.parent / "secret.mid").write_bytes(b"MThd secret")
    base = f"http://127.0.0.1:{demo.port}"
    listing = json.loads(get(base + "/takes")[1])
    assert [t["name"] for t in listing] == ["take1"]
    status, body, headers = get(base + listing[0]["mid"])
    assert status == 200 and headers["Content-Type"] == "audio/midi"
    path = demo.takes.parent / "down.mid"
    path.write_bytes(body)
    assert mido.MidiFile(path).tracks[0][0].note == 60
    status, body, _ = get(base + listing[0]["svg"])
    assert status == 200 and body.lstrip().startswith(b"<")
    for bad in ("/takes/../secret.mid", "/takes/..%2Fsecret.mid", "/takes/%2e%2e/secret.mid",
                "/takes/x/../../secret.mid", "/takes/take1.py", "/takes/.hidden.mid"):
        assert raw_get(demo.port, bad, f"127.0.0.1:{demo.port}") in (403, 404), bad


def test_foreign_origin_and_host_are_refused(demo):
    with pytest.raises(websockets.exceptions.InvalidStatus) as e:
        with connect(f"ws://127.0.0.1:{demo.port}/", origin="http://evil.example"):
            pass
    assert e.value.response.status_code == 403
    with connect(f"ws://127.0.0.1:{demo.port}/", origin=f"http://127.0.0.1:{demo.port}"):
        pass  # the page's own origin
    assert raw_get(demo.port, "/?HOST_INFO", f"evil.example:{demo.port}") == 403  # DNS rebinding
    assert raw_get(demo.port, "/?HOST_INFO", f"localhost:{demo.port}") == 200


def test_off_loopback_without_a_token_is_refused():
    from liveai.control.web import WebServer
    ctl = SimpleNamespace(recordings="/nonexistent", watchers=[], oscquery=None)  # check() needs no engine
    web = WebServer(ctl, "127.0.0.1", 0)
    web.port = 9003
    req = SimpleNamespace(path="/", headers={"Host": "127.0.0.1:9003"})
    assert web.check(req, "127.0.0.1") is None
    assert web.check(req, "192.0.2.7")[0] == 403
    assert WebServer(ctl, "0.0.0.0", 0).token  # any other host: a token


def non_loopback_address() -> str | None:
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("192.0.2.1", 9))  # no packet is sent: this picks the outgoing interface
        addr = s.getsockname()[0]
        s.close()
        return None if addr.startswith("127.") else addr
    except OSError:
        return None


def test_served_to_the_network_every_request_needs_the_token(tmp_path):
    d = start_demo(tmp_path, "--web-host", "0.0.0.0")
    try:
        assert d.token and len(d.token) >= 16 and "0.0.0.0" not in d.url
        hosts = ["127.0.0.1"] + ([non_loopback_address()] if non_loopback_address() else [])
        for h in hosts:
            base = f"http://{h}:{d.port}"
            assert get(base + "/?HOST_INFO")[0] == 403
            assert get(base + "/takes")[0] == 403
            assert get(base + "/?HOST_INFO&token=wrong")[0] == 403
            assert get(base + f"/?token={d.token}", {"Accept": "text/html"})[0] == 200
            assert json.loads(get(base + f"/?HOST_INFO&token={d.token}")[1])["EXTENSIONS"]["LISTEN"]
            with pytest.raises(websockets.exceptions.InvalidStatus):
                with connect(f"ws://{h}:{d.port}/"):
                    pass
            with connect(f"ws://{h}:{d.port}/?token={d.token}") as ws:
                ws.send(json.dumps({"COMMAND": "LISTEN", "DATA": "/liveai/tempo"}))
                assert receive(ws, 1.0)[0] == ("/liveai/tempo", [pytest.approx(100.0)])
    finally:
        stop(d)


def test_without_the_extra_web_is_a_clear_one_line_error(tmp_path):
    code = ("import sys; sys.modules['websockets'] = None; from liveai.cli import main; "
            "sys.exit(main(['run', '--no-midi', '--web', '--osc-port', '0', '--oscquery-port', '-1', '--no-show']))")
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_DATA_HOME=str(tmp_path))
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode != 0
    errors = [line for line in r.stderr.splitlines() if "liveai" in line and "error" in line]
    assert errors and "pip install 'liveai[web]'" in errors[-1] and "Traceback" not in r.stderr, r.stderr


def _box_lines(tmp_path, *extra: str) -> str:
    """The first lines of `liveai run --box` (OSC only) until it is ready."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_DATA_HOME=str(tmp_path))
    env.pop("STATE_DIRECTORY", None)
    proc = subprocess.Popen([sys.executable, "-m", "liveai", "run", "--box", "--no-midi", "--no-realtime", "--web-port", "0",
                             "--osc-port", "0", "--oscquery-port", "0", "--config", str(tmp_path / "liveai.toml"), *extra],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "liveai: ready" in line:
                break
    finally:
        proc.terminate()
        proc.wait(10)
    return "".join(lines)


def test_the_box_serves_the_page_by_default_and_no_web_turns_it_off(tmp_path):
    assert "liveai: web page http://127.0.0.1:" in _box_lines(tmp_path)
    out = _box_lines(tmp_path, "--no-web")
    assert "liveai: ready" in out and "web page" not in out
