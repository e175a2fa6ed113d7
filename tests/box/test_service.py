"""`liveai service install`: the unit, checked by systemd itself where it is installed."""
import os
import shutil
import subprocess

import pytest

from liveai.box.service import render_unit
from liveai.cli import main


def _sections(text):
    out, cur = {}, None
    for line in text.splitlines():
        if line.startswith("["):
            cur = out.setdefault(line.strip("[]"), {})
        elif "=" in line and not line.startswith("#") and cur is not None:
            k, _, v = line.partition("=")
            cur[k] = v
    return out


def test_print_shows_a_complete_unit(capsys):
    assert main(["service", "install", "--print", "--", "--record", "/home/pi/takes"]) == 0
    s = _sections(capsys.readouterr().out)
    svc = s["Service"]
    assert "liveai run --box" in svc["ExecStart"] and svc["ExecStart"].endswith("--record /home/pi/takes")
    assert svc["Restart"] == "always" and 1 <= int(svc["RestartSec"]) <= 5
    assert svc["LimitRTPRIO"] == "95" and svc["LimitMEMLOCK"] == "infinity"
    assert svc["StandardOutput"] == "journal" and "sound.target" in s["Unit"]["After"]
    assert s["Unit"]["StartLimitIntervalSec"] == "0"  # restarts never give up
    assert s["Install"]["WantedBy"] == "multi-user.target"


def test_user_unit_leaves_limits_to_pam():
    s = _sections(render_unit(user_unit=True))
    assert "LimitRTPRIO" not in s["Service"] and "User" not in s["Service"]  # a user unit cannot raise them
    assert s["Service"]["Restart"] == "always" and s["Install"]["WantedBy"] == "default.target"


def test_install_writes_the_file(tmp_path, capsys):
    dest = tmp_path / "liveai.service"
    assert main(["service", "install", "--path", str(dest), "--as-user", "pi"]) == 0
    assert "User=pi" in dest.read_text() and "daemon-reload" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("user_unit", [False, True])
def test_systemd_accepts_the_unit(tmp_path, user_unit):
    d = tmp_path / "units"
    d.mkdir()
    unit = d / "liveai.service"
    unit.write_text(render_unit(user_unit=user_unit, run_user="root"))
    env = dict(os.environ)
    cmd = ["systemd-analyze", "verify", str(unit)]
    if user_unit:
        rt = tmp_path / "xdg"
        rt.mkdir(mode=0o700)
        env["XDG_RUNTIME_DIR"] = str(rt)
        cmd.insert(1, "--user")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    if r.returncode != 0 and "Failed to initialize manager" in r.stderr:
        pytest.skip(f"systemd-analyze cannot run here: {r.stderr.strip()}")
    assert r.returncode == 0 and "liveai.service" not in r.stderr, r.stderr
