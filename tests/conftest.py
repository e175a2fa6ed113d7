"""Shared fixtures: a private JACK server on the dummy driver, free UDP ports, the integration marker."""
from __future__ import annotations

import shutil
import sys

import pytest

from latency_bench.common import JackServer, free_udp_port as free_port


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "integration: real JACK MIDI, real UDP, liblo and engine subprocesses (slower; "
        "deselect with -m 'not integration')")


@pytest.fixture(scope="session")
def jack_server(tmp_path_factory: pytest.TempPathFactory):
    """A private JACK server (dummy driver, 48 kHz, 32-frame periods = 0.67 ms), named uniquely
    (latency_bench.common.JackServer, the bench's own). JACK_DEFAULT_SERVER is set in os.environ
    while the session runs. Yields the server name."""
    for tool in ("jackd", "jack_lsp", "jack_connect"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install jackd2)")
    server = JackServer(period=32, prefix="lvtest", log_path=tmp_path_factory.mktemp("jack") / "jackd.log")
    try:
        server.__enter__()
    except RuntimeError:
        pytest.fail(f"jackd did not come up:\n{server.log_tail()}")
    try:
        yield server.name
    finally:
        _terminate_portaudio()  # before its JACK server goes (see _terminate_portaudio)
        server.__exit__(None, None, None)


def _terminate_portaudio() -> None:
    """PortAudio (sounddevice), once initialised in this process, holds a client on the JACK
    server that was running then, and aborts the whole process at exit (pa_jack.c, exit 134) if
    that server is gone: terminate it while the server still runs."""
    sd = sys.modules.get("sounddevice")
    try:
        while sd is not None and getattr(sd, "_initialized", 0):
            sd._terminate()
    except Exception:
        pass


@pytest.fixture(autouse=True)
def _no_portaudio_left_behind():
    """After each test: a test's own JACK server may stop next (see _terminate_portaudio)."""
    yield
    if "sounddevice" in sys.modules:
        _terminate_portaudio()


@pytest.fixture
def free_udp_port():
    """A function returning a UDP port on 127.0.0.1 that was free a moment ago (a new one each call)."""
    issued: set[int] = set()

    def get() -> int:
        while True:
            port = free_port()
            if port not in issued:
                issued.add(port)
                return port
    return get
