"""`liveai service install [--user] [--print]`: a systemd unit for the headless box.

The unit runs `liveai run --box` (hot-plug, `--midi-in auto --midi-out auto`, the saved config, a
bad config file logged and the defaults used), restarts it whatever happens, orders it after the
sound devices, and leaves logging to the journal (liveai logs to stderr, unbuffered).

Real time: a system unit raises LimitRTPRIO and LimitMEMLOCK; liveai then puts only its note
sender's thread on SCHED_FIFO and locks its memory (liveai/timing/rtlimits.py), and carries on at normal
priority if the system says no. A user unit cannot raise limits (the unit would fail to start with
205/LIMITS), so there the limits come from PAM: /etc/security/limits.d/audio.conf, user in `audio`.
"""
from __future__ import annotations

import argparse
import getpass
import os
import pwd
import shlex
import sys
from pathlib import Path

UNIT_NAME = "liveai.service"
RESTART_SEC = 2


def _home_of(user: str) -> Path:
    try:
        return Path(pwd.getpwnam(user).pw_dir)
    except KeyError:
        return Path.home()


def exec_start(config: str | None, run_args: list[str] = (), python: str | None = None) -> str:
    argv = [python or sys.executable, "-m", "liveai", "run", "--box"]
    if config:
        argv += ["--config", config]
    argv += list(run_args)
    return " ".join(_quote(a) for a in argv)


def _quote(arg: str) -> str:
    """systemd's ExecStart= quoting (close to the shell's for plain words); % must be doubled."""
    q = shlex.quote(arg)
    if q.startswith("'"):
        q = '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return q.replace("%", "%%")


def render_unit(user_unit: bool = False, run_user: str | None = None, config: str | None = None,
                run_args: list[str] = (), python: str | None = None) -> str:
    """The unit file's text. run_user: the account a system unit runs as (default: the one
    installing it, or $SUDO_USER under sudo)."""
    run_user = run_user or os.environ.get("SUDO_USER") or getpass.getuser()
    if config is None:
        home = Path.home() if user_unit else _home_of(run_user)
        config = str(home / ".config" / "liveai" / "liveai.toml")
    lines = [
        "[Unit]",
        "Description=liveai real-time improvisation engine (headless box)",
        "After=sound.target",
        "Wants=sound.target",
        "StartLimitIntervalSec=0",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={exec_start(config, run_args, python)}",
        "Restart=always",
        f"RestartSec={RESTART_SEC}",
        "TimeoutStopSec=5",
        "Environment=PYTHONUNBUFFERED=1",
        "StandardOutput=journal",
        "StandardError=journal",
        "SyslogIdentifier=liveai",
        "StateDirectory=liveai",  # $STATE_DIRECTORY: takes recorded over OSC go to its recordings/
    ]
    if user_unit:
        lines += [
            "# Limits cannot be raised from a user unit; give the user real-time rights with PAM:",
            "#   /etc/security/limits.d/audio.conf: @audio - rtprio 95 / @audio - memlock unlimited",
            "#   and: sudo usermod -aG audio $USER",
            "",
            "[Install]",
            "WantedBy=default.target",
        ]
    else:
        lines += [
            f"User={run_user}",
            "SupplementaryGroups=audio",
            "LimitRTPRIO=95",
            "LimitMEMLOCK=infinity",
            "# liveai raises only its note sender's thread to SCHED_FIFO (priority 70) under these",
            "# limits. For the whole process instead: CPUSchedulingPolicy=fifo, CPUSchedulingPriority=50.",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
        ]
    return "\n".join(lines) + "\n"


def unit_path(user_unit: bool) -> Path:
    if user_unit:
        base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
        return Path(base) / "systemd" / "user" / UNIT_NAME
    return Path("/etc/systemd/system") / UNIT_NAME


def add_parser(sub) -> None:
    svc = sub.add_parser("service", help="the systemd service for a headless box",
                         description="Install liveai as a systemd service (liveai run --box).")
    ssub = svc.add_subparsers(dest="service_cmd", required=True)
    ins = ssub.add_parser("install", help="write (or print) the systemd unit",
                          description="Write liveai.service to /etc/systemd/system (or, with --user, "
                                      "~/.config/systemd/user). Flags after -- are passed to `liveai run`.")
    ins.add_argument("--user", dest="user_unit", action="store_true", help="a user unit instead of a system one")
    ins.add_argument("--print", dest="print_only", action="store_true", help="print the unit; write nothing")
    ins.add_argument("--as-user", dest="run_user", help="account the system unit runs as (default: you, or $SUDO_USER)")
    ins.add_argument("--config", help="the config file the box loads and saves (default ~/.config/liveai/liveai.toml)")
    ins.add_argument("--path", help="write the unit here instead of the standard place")
    ins.add_argument("run_args", nargs=argparse.REMAINDER, help="more `liveai run` flags, after --")


def main(args: argparse.Namespace) -> int:
    run_args = [a for a in (args.run_args or []) if a != "--"] if args.run_args else []
    text = render_unit(args.user_unit, args.run_user, args.config, run_args)
    if args.print_only:
        sys.stdout.write(text)
        return 0
    path = Path(args.path) if args.path else unit_path(args.user_unit)
    try:
        from liveai.io.safefile import write_file
        write_file(path, text.encode())
    except PermissionError:
        print(f"liveai: cannot write {path}: run with sudo, or use --user, or --print and copy it", file=sys.stderr)
        return 1
    ctl = "systemctl --user" if args.user_unit else "sudo systemctl"
    print(f"wrote {path}\nnow run:\n  {ctl} daemon-reload\n  {ctl} enable --now {UNIT_NAME}\n"
          f"logs: journalctl {'--user ' if args.user_unit else ''}-u liveai -f")
    if args.user_unit:
        print("  (and `sudo loginctl enable-linger $USER` so it starts at boot without a login)")
    return 0
