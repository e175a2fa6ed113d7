"""Shared fixtures: a private JACK server on the dummy driver, free UDP ports, the integration marker."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "integration: real JACK MIDI, real UDP, liblo and engine subprocesses (slower; "
        "deselect with -m 'not integration')")


def _jack_lsp_ok(env: dict[str, str]) -> bool:
    try:
        r = subprocess.run(["jack_lsp"], env=env, capture_output=True, text=True, timeout=5)
    except subprocess.TimeoutExpired:
        return False
    return r.returncode == 0 and "system:" in r.stdout


def _rt_allowed() -> bool:
    import resource
    try:
        return os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_RTPRIO)[0] >= 80
    except (OSError, AttributeError, ValueError):
        return False


@pytest.fixture(scope="session")
def jack_server(tmp_path_factory: pytest.TempPathFactory):
    """A private JACK server (dummy driver, 48 kHz, 32-frame periods = 0.67 ms), named uniquely.

    Sets JACK_DEFAULT_SERVER (and JACK_NO_START_SERVER) in os.environ, so rtmidi clients in this
    process and in engine subprocesses use it and nothing starts a server by accident. Yields the
    server name; stops the server at the end of the session.

    Sync mode (-S): with the default asynchronous mode, MIDI events were occasionally lost on this
    busy 2-core machine (a few in 200 while a process spins a core); in sync mode none were.
    """
    for tool in ("jackd", "jack_lsp", "jack_connect"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install jackd2)")
    name = f"lvtest{os.getpid()}"
    log_path = tmp_path_factory.mktemp("jack") / "jackd.log"
    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1", "JACK_NO_START_SERVER": "1",
           "JACK_DEFAULT_SERVER": name}
    log = open(log_path, "wb")
    # Real-time JACK where allowed (root or RLIMIT_RTPRIO), as on a stage box: liveai runs its threads
    # on SCHED_FIFO by default, and a normal-priority JACK would then be the thing the load delays.
    rt = ["-R", "-P", "80"] if _rt_allowed() else ["--no-realtime"]
    proc = subprocess.Popen(["jackd", "-n", name, "-S", *rt, "-d", "dummy", "-r", "48000", "-p", "32"],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    saved = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    try:
        deadline = time.monotonic() + 15
        while not _jack_lsp_ok(env):
            if proc.poll() is not None:
                pytest.fail(f"jackd exited with {proc.returncode}:\n{log_path.read_text(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"jackd did not come up in 15 s:\n{log_path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        os.environ["JACK_DEFAULT_SERVER"] = name
        os.environ["JACK_NO_START_SERVER"] = "1"
        yield name
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log.close()
        # jackd leaves its named semaphores behind when clients were killed; tidy ours only.
        for p in Path("/dev/shm").glob(f"jack_sem.*_{name}_*"):
            try:
                p.unlink()
            except OSError:
                pass


@pytest.fixture
def free_udp_port():
    """A function returning a UDP port on 127.0.0.1 that was free a moment ago (a new one each call)."""
    issued: set[int] = set()

    def get() -> int:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in issued:
                issued.add(port)
                return port
    return get
