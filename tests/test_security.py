"""Security (issue 8, part 5): who may talk to liveai over OSC, and what a message can touch.

- OSC control binds 127.0.0.1 by default; `--osc-host 0.0.0.0` is the one switch that opens it to
  the stage network, and `--osc-allow ADDR` (repeatable) limits it to chosen senders.
- Senders outside the allowlist are dropped before parsing (and before the flood budget), with no
  reply: shown with another loopback address and with a real second host (a network namespace
  joined by a veth pair, when this machine lets root create one).
- No OSC message reads or writes outside the configured directories: recording names are sanitised
  into the recordings directory (path traversal attempts end up inside it), and no address takes a
  file path (the string arguments are listed here, so a new one needs a look).
- No eval, exec or pickle anywhere in the package; model files are checked before onnxruntime sees them.
"""
from __future__ import annotations

import ast
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from liveai.app.run import build_session
from liveai.timing.clock import SimClock
from liveai.control.config import ConfigError, make_config
from liveai.control.addresses import TABLE
from liveai.io.osc import OscServer, build
from liveai.io.recorder import session_filename

REPO = Path(__file__).resolve().parents[1]


def _recv(sock: socket.socket, timeout: float) -> list[bytes]:
    sock.settimeout(0.05)
    out, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            out.append(sock.recvfrom(65536)[0])
        except socket.timeout:
            pass
    return out


def _ping_server(host: str = "127.0.0.1", allow=None) -> OscServer:
    srv = OscServer(0, host, allow=allow)
    srv.on("/liveai/ping", lambda a, addr: srv.reply(addr, "/liveai/pong"))
    srv.start()
    return srv


# ---------------------------------------------------------------------------- binding
def test_osc_control_binds_loopback_by_default_and_one_switch_opens_it():
    from liveai.cli import build_parser
    assert make_config().osc_host == "127.0.0.1"
    srv = OscServer(0)
    try:
        assert srv.sock.getsockname()[0] == "127.0.0.1"
    finally:
        srv.stop()
    args = build_parser().parse_args(["run"])
    assert args.osc_host is None and args.osc_allow is None  # nothing opens it unless asked
    text = build_parser()._subparsers._group_actions[0].choices["run"].format_help()
    assert "--osc-host" in text and "--osc-allow" in text
    assert "0.0.0.0" in (REPO / "README.md").read_text()  # the switch is documented


def test_osc_allow_flag_reaches_the_config_and_rejects_names():
    from liveai.cli import _overrides, build_parser
    args = build_parser().parse_args(["run", "--osc-host", "0.0.0.0", "--osc-allow", "192.168.1.20",
                                      "--osc-allow", "127.0.0.1"])
    cfg = make_config(None, _overrides(args))
    assert cfg.osc_host == "0.0.0.0" and cfg.osc_allow == ["192.168.1.20", "127.0.0.1"]
    with pytest.raises(ConfigError, match="not an IP address"):
        make_config(None, {"osc_allow": ["mixer.local"]})


# ---------------------------------------------------------------------------- allowlist
def test_allowlist_drops_another_loopback_sender_without_a_reply():
    srv = _ping_server(allow=["127.0.0.1"])
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    friend = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        stranger.bind(("127.0.0.2", 0))
        friend.bind(("127.0.0.1", 0))
        for _ in range(20):
            stranger.sendto(build("/liveai/ping"), ("127.0.0.1", srv.port))
        assert _recv(stranger, 0.5) == []
        friend.sendto(build("/liveai/ping"), ("127.0.0.1", srv.port))
        got = _recv(friend, 1.0)
        assert got and got[0].startswith(b"/liveai/pong")
        assert srv.rejected == 20
    finally:
        stranger.close()
        friend.close()
        srv.stop()


def test_without_an_allowlist_any_sender_that_reaches_the_port_is_served():
    srv = _ping_server()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.2", 0))
        s.sendto(build("/liveai/ping"), ("127.0.0.1", srv.port))
        assert _recv(s, 1.0)
    finally:
        s.close()
        srv.stop()


@pytest.fixture
def other_host():
    """A second host: a network namespace joined to this one by a veth pair. Yields
    (namespace, our address, its address); skips where root cannot make one."""
    tag = f"lvs{os.getpid() % 100000}"
    ns, a, b = tag, f"{tag}a", f"{tag}b"
    octet = 16 + os.getpid() % 200
    ours, theirs = f"10.213.{octet}.1", f"10.213.{octet}.2"
    cmds = [["ip", "netns", "add", ns], ["ip", "link", "add", a, "type", "veth", "peer", "name", b],
            ["ip", "link", "set", b, "netns", ns], ["ip", "addr", "add", f"{ours}/24", "dev", a],
            ["ip", "link", "set", a, "up"], ["ip", "netns", "exec", ns, "ip", "addr", "add", f"{theirs}/24", "dev", b],
            ["ip", "netns", "exec", ns, "ip", "link", "set", b, "up"],
            ["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"]]
    try:
        for c in cmds:
            r = subprocess.run(c, capture_output=True, text=True, timeout=10)
            if r.returncode != 0:
                pytest.skip(f"cannot make a network namespace here: {' '.join(c)}: {r.stderr.strip()}")
        yield ns, ours, theirs
    finally:
        subprocess.run(["ip", "link", "del", a], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


PEER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
for _ in range(3):
    s.sendto(bytes.fromhex(sys.argv[1]), (sys.argv[2], int(sys.argv[3])))
    try:
        data, addr = s.recvfrom(65536)
        print("REPLY", data[:12].decode(errors="replace"), addr[0])
        break
    except socket.timeout:
        pass
else:
    print("NOREPLY")
"""


def _ping_from(ns: str, host: str, port: int) -> str:
    r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", PEER, build("/liveai/ping").hex(), host, str(port)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_allowlist_rejects_a_sender_on_another_host(other_host):
    ns, ours, theirs = other_host
    srv = _ping_server("0.0.0.0", allow=["127.0.0.1"])  # opened to the network, allowing only local
    try:
        assert _ping_from(ns, ours, srv.port) == "NOREPLY"
        assert srv.rejected >= 3
    finally:
        srv.stop()
    srv = _ping_server("0.0.0.0", allow=["127.0.0.1", theirs])  # the same host, now allowed
    try:
        assert _ping_from(ns, ours, srv.port).startswith("REPLY /liveai/pong")
    finally:
        srv.stop()
    srv = _ping_server()  # the default: loopback only, the other host cannot even reach it
    try:
        assert _ping_from(ns, ours, srv.port) == "NOREPLY"
        assert srv.received == 0
    finally:
        srv.stop()


def test_the_running_app_applies_the_allowlist(free_udp_port):
    """run_realtime wires --osc-allow into its server: 127.0.0.2 is ignored, 127.0.0.1 answered."""
    from liveai.app.run import run_realtime
    from liveai.music.tunes import ODE_TO_JOY, tune_events
    port = free_udp_port()
    cfg = make_config(None, {"generator": "rules", "osc_port": port, "osc_out": [], "tempo": 240.0,
                             "osc_allow": ["127.0.0.1"], "oscquery_port": -1})
    ready = threading.Event()
    t = threading.Thread(target=run_realtime, args=(cfg, None, None),
                         kwargs={"events": tune_events(ODE_TO_JOY.notes()[:16], 240.0),
                                 "on_ready": lambda s: ready.set()}, daemon=True)
    t.start()
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    friend = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        assert ready.wait(20)
        stranger.bind(("127.0.0.2", 0))
        friend.bind(("127.0.0.1", 0))
        stranger.sendto(build("/liveai/ping"), ("127.0.0.1", port))
        friend.sendto(build("/liveai/ping"), ("127.0.0.1", port))
        assert _recv(friend, 1.0)
        assert _recv(stranger, 0.3) == []
    finally:
        stranger.close()
        friend.close()
        t.join(30)
    assert not t.is_alive()


# ---------------------------------------------------------------------------- files
TRAVERSAL = ["../../../../tmp/evil", "/etc/passwd", "..", "../", "a/../../b", "~root/.bashrc", "..\\..\\win",
             "%2e%2e%2fetc", "....//....//x", "\u2025/\u2025/x", "x" * 1000, " ", "./.hidden", "con", "a\x01b"]


@pytest.mark.parametrize("name", TRAVERSAL)
def test_recording_names_stay_inside_the_recordings_directory(tmp_path, name):
    d = tmp_path / "takes"
    d.mkdir()
    try:
        p = session_filename(d, name=name)
    except ValueError:
        return  # refused outright is fine too
    assert p.parent == d.resolve() and p.suffix == ".mid" and len(p.name) < 300


DONE = ("/liveai/record/saved", "/liveai/error")


def test_osc_record_start_cannot_write_outside_the_recordings_directory(tmp_path):
    """/liveai/record/start NAME through the real OSC server and control, on the simulated clock:
    every take lands inside the recordings directory, whatever the name says."""
    attach = pytest.importorskip("liveai.control.remote").attach_osc
    rec = tmp_path / "box" / "takes"
    outside = tmp_path / "box"
    cfg = make_config(None, {"generator": "rules", "osc_out": [], "record": str(rec), "oscquery_port": -1})
    clock = SimClock()
    session = build_session(cfg, clock, clock, [])
    srv = OscServer(0)
    replies = []
    srv.reply = lambda addr, path, *args: replies.append((path, args))  # type: ignore[method-assign]
    ctl = attach(session, srv, False)
    sender = ("127.0.0.1", 50000)
    n = 0
    try:
        for name in ["../escape", "../../../../tmp/liveai-escape", "/tmp/liveai-abs", "a/../../b", ".."]:
            srv.handle_datagram(build("/liveai/record/start", name), sender)
            clock.run(until=clock.now() + 0.05)
            srv.handle_datagram(build("/liveai/record/stop"), sender)
            clock.run(until=clock.now() + 0.05)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not [r for r in replies if r[0] in DONE][n:]:
                time.sleep(0.02)  # the file is written off the loops
                clock.run(until=clock.now() + 0.01)
            n = len([r for r in replies if r[0] in DONE])
    finally:
        getattr(ctl, "close", lambda: None)()
        srv.stop()
    saved = [Path(a[0]) for p, a in replies if p == "/liveai/record/saved"]
    assert len(saved) == 5, [r for r in replies if r[0] in DONE]
    for p in saved:
        assert p.resolve().parent == rec.resolve(), p
    strays = [p for p in outside.rglob("*") if p.is_file() and p.parent != rec]
    assert strays == []
    assert not Path("/tmp/liveai-escape.mid").exists() and not Path("/tmp/liveai-abs.mid").exists()


def test_no_osc_address_takes_a_file_path():
    """Every free-text string an incoming OSC message can carry, listed: none is a path. A new one
    fails this test until someone checks where it goes."""
    free = set()
    for a in TABLE:
        if a.direction == "out":
            continue
        for arg in a.args:
            if arg.type == "s" and not arg.choices and not arg.pattern:
                free.add((a.path, arg.name))
    assert free <= {("/liveai/record/start", "name")}, sorted(free)


def test_a_chord_model_over_osc_is_a_name_not_a_path():
    """/liveai/model takes a player's model by name (liveai.neural.personal.NAME_RE): a path, a
    parent folder or a shell word is refused before anything is looked up."""
    from liveai.control.addresses import parse_args
    assert parse_args("/liveai/model", ("my-songs_2",)) == ("my-songs_2",)
    for bad in ("/etc/passwd", "../models/x", "me/../../x", "x y", "", "a" * 65, ".hidden"):
        with pytest.raises(ValueError, match="is not a name"):
            parse_args("/liveai/model", (bad,))


def test_model_choice_over_osc_is_a_name_not_a_path():
    from liveai.control.addresses import ADDRESSES, parse_args
    if "/liveai/generator" not in ADDRESSES:
        pytest.skip("no /liveai/generator address")
    for bad in ("/etc/passwd", "../models/x.onnx", "model; rm -rf /"):
        with pytest.raises(ValueError):
            parse_args("/liveai/generator", (bad,))


# ---------------------------------------------------------------------------- model files
@pytest.mark.parametrize("content", [b"", b"hello, I am text\n" * 10, b"\x80\x04\x95" + b"\0" * 200,  # a pickle
                                     b"PK\x03\x04" + b"\0" * 200, b"\x7fELF" + b"\0" * 200])
def test_a_file_that_is_not_onnx_is_refused_before_loading(tmp_path, content):
    model = pytest.importorskip("liveai.neural.runtime")
    if not hasattr(model, "check_model_file"):
        pytest.skip("liveai.neural.runtime has no check_model_file")
    p = tmp_path / "x.onnx"
    p.write_bytes(content)
    with pytest.raises(model.ModelError):
        model.check_model_file(p)
    with pytest.raises(model.ModelError):
        model.check_model_file(tmp_path)  # a directory


def test_an_explicit_bad_model_stops_with_a_clear_error(tmp_path):
    from liveai.generators import make_generator
    p = tmp_path / "fake.onnx"
    p.write_bytes(b"\x80\x04\x95" + b"\0" * 500)
    with pytest.raises(Exception, match="fake.onnx"):
        make_generator("model", str(p))


# ---------------------------------------------------------------------------- no eval, no pickle
BANNED_CALLS = {"eval", "exec", "compile", "__import__", "input"}
BANNED_MODULES = {"pickle", "cPickle", "dill", "shelve", "marshal", "cloudpickle", "joblib"}


def _weights_only(call: ast.Call) -> bool:
    """torch.load(..., weights_only=True) (a literal True) restores tensors and plain containers
    only, never arbitrary objects: the one torch.load form the package may use."""
    return any(kw.arg == "weights_only" and isinstance(kw.value, ast.Constant) and kw.value.value is True
               for kw in call.keywords)


def test_weights_only_is_the_one_torch_load_allowed():
    call = lambda src: ast.parse(src).body[0].value
    assert _weights_only(call("torch.load(p, map_location='cpu', weights_only=True)"))
    for src in ("torch.load(p)", "torch.load(p, weights_only=False)", "torch.load(p, weights_only=flag)",
                "torch.load(p, weights_only=1)", "torch.load(p, **kw)"):
        assert not _weights_only(call(src)), src


def test_no_eval_exec_or_pickle_in_the_package():
    problems = []
    for path in sorted((REPO / "liveai").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        rel = path.relative_to(REPO)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else None
                if name in BANNED_CALLS:
                    problems.append(f"{rel}:{node.lineno} {name}()")
                if isinstance(f, ast.Attribute):
                    if f.attr in ("load", "loads") and isinstance(f.value, ast.Name) and f.value.id in ("pickle", "yaml", "marshal", "torch"):
                        if not (f.value.id == "torch" and f.attr == "load" and _weights_only(node)):
                            problems.append(f"{rel}:{node.lineno} {f.value.id}.{f.attr}()")
                    if f.attr == "system" and isinstance(f.value, ast.Name) and f.value.id == "os":
                        problems.append(f"{rel}:{node.lineno} os.system()")
                for kw in node.keywords:
                    if kw.arg == "allow_pickle" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                        problems.append(f"{rel}:{node.lineno} allow_pickle")
                    if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                        problems.append(f"{rel}:{node.lineno} shell=True")
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for n in names:
                    if n.split(".")[0] in BANNED_MODULES:
                        problems.append(f"{rel}:{node.lineno} import {n}")
    assert problems == []


# ---------------------------------------------------------------------------- floods
def test_a_flood_from_one_sender_is_capped_and_leaves_others_answered():
    """The token bucket: one sender gets at most half of max_rate, the rest is dropped unparsed, its
    /liveai/error replies are capped at ERRORS_PER_S, and another sender's pings still get answers."""
    from liveai.io.osc import ERRORS_PER_S
    srv = OscServer(0, max_rate=2000.0)
    handled = {"ping": 0}

    def ping(a, addr):
        handled["ping"] += 1
        srv.reply(addr, "/liveai/pong")

    srv.on("/liveai/ping", ping)
    srv.start()
    flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    friend = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    flood.bind(("127.0.0.1", 0))
    friend.bind(("127.0.0.1", 0))
    answered = asked = 0
    try:
        junk = build("/liveai/nowhere", 1.0)
        t0 = time.monotonic()
        sent = 0
        k = 0
        while time.monotonic() - t0 < 2.0:  # 20,000 a second, ten times the budget
            for _ in range(100):
                try:
                    flood.sendto(junk, ("127.0.0.1", srv.port))
                    sent += 1
                except OSError:
                    pass
            k += 1
            if k % 5 == 0:  # twenty pings a second from someone else meanwhile
                friend.sendto(build("/liveai/ping"), ("127.0.0.1", srv.port))
                asked += 1
            d = t0 + k * 0.005 - time.monotonic()
            if d > 0:
                time.sleep(d)
        elapsed = time.monotonic() - t0
        time.sleep(0.3)
        answered = len([d for d in _recv(friend, 0.5) if d.startswith(b"/liveai/pong")])
        errors = len(_recv(flood, 0.5))
    finally:
        flood.close()
        friend.close()
        srv.stop()
    pings = handled["ping"]
    assert sent > 10000, sent
    # UDP: under a flood the kernel itself may drop a datagram before the server reads it
    assert asked >= 20 and answered == pings >= 0.8 * asked, (asked, pings, answered)
    flood_handled = srv.received - pings  # datagrams that got past the budget
    assert flood_handled <= 1000 * (elapsed + 0.5) + 1000, (flood_handled, sent)  # half of 2000/s, plus the burst
    assert srv.dropped > 0.5 * sent, (srv.dropped, sent)
    assert errors <= ERRORS_PER_S * (elapsed + 1) + ERRORS_PER_S, errors
