"""Fixtures for the box tests: a JACK server (the shared `jack_server` fixture when the suite has
one, else a private server on the dummy driver started here)."""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest


@pytest.fixture(scope="session")
def box_jack(request):
    try:
        yield request.getfixturevalue("jack_server")
        return
    except pytest.FixtureLookupError:
        pass
    if shutil.which("jackd") is None or shutil.which("jack_lsp") is None:
        pytest.skip("jackd is not installed (apt-get install jackd2)")
    name = f"lvbox{os.getpid()}"
    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1", "JACK_NO_START_SERVER": "1", "JACK_DEFAULT_SERVER": name}
    proc = subprocess.Popen(["jackd", "-n", name, "-S", "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "64"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env, start_new_session=True)
    saved = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    try:
        deadline = time.monotonic() + 15
        while subprocess.run(["jack_lsp"], env=env, capture_output=True).returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("jackd did not start")
            time.sleep(0.1)
        os.environ.update(JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
        yield name
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "integration: real JACK MIDI and engine subprocesses (slower)")
