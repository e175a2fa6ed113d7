"""latency_bench's options (--band, --show) and how it reads an engine on a pseudo-terminal, without
running the bench itself."""
import os
import pty
import subprocess
import sys
import threading

from latency_bench.__main__ import engine_command, parser
from latency_bench.common import VIEW_MARK, read_pty_lines, strip_ansi


def _cmd(**kw):
    return engine_command("/tmp/dump.json", "bench", 9000, 9001, **kw)


def test_default_command_is_unchanged():
    args = parser().parse_args([])
    assert args.band is None and args.show is False
    cmd = _cmd(generator=args.generator, sender=args.sender, rt=args.rt, band=args.band, show=args.show)
    assert cmd[1:5] == ["-m", "latency_bench.engine_proc", "/tmp/dump.json", "run"]
    assert "--band" not in cmd and "--show" not in cmd
    for flag, value in (("--midi-api", "jack"), ("--midi-in", "bench"), ("--midi-out", "bench"), ("--tempo", "120"),
                        ("--generator", "model"), ("--sender", "process"), ("--osc-port", "9000"),
                        ("--osc-out", "127.0.0.1:9001")):
        assert cmd[cmd.index(flag) + 1] == value
    assert "--thru" in cmd and "--realtime" in cmd


def test_band_and_show_reach_the_engine():
    args = parser().parse_args(["--quick", "--no-peer", "--band", "rock", "--show"])
    assert (args.band, args.show, args.quick, args.peer) == ("rock", True, True, False)
    cmd = _cmd(band=args.band, show=args.show, rt=False)
    run_at = cmd.index("run")
    assert cmd[cmd.index("--band") + 1] == "rock" and cmd.index("--band") > run_at
    assert "--show" in cmd[run_at:] and "--realtime" not in cmd


def test_the_engine_accepts_the_options():
    from liveai.cli import build_parser
    cmd = _cmd(band="rock", show=True)
    ns = build_parser().parse_args(cmd[cmd.index("run"):])
    assert ns.band == "rock" and ns.show is True


def test_web_reaches_the_engine_and_the_load_is_split_by_window():
    args = parser().parse_args(["--quick", "--web"])
    assert args.web is True and parser().parse_args([]).web is False
    cmd = _cmd(web_port=9555)
    from liveai.cli import build_parser
    ns = build_parser().parse_args(cmd[cmd.index("run"):])
    assert ns.web is True and ns.web_port == 9555
    assert "--web" not in _cmd()  # the default command is unchanged (no --box: no page)
    from latency_bench.webload import EVERYTHING, WebLoad
    assert "/liveai/chord" in EVERYTHING and "/liveai/drums/note" in EVERYTHING
    load = WebLoad(9555, 2.0)
    load.windows = [(0.0, 2.0, True), (2.0, 4.0, False)]
    assert load.split([(0.2, 1.0), (1.0, 2.0), (2.7, 3.0), (5.0, 9.0)]) == ([2.0], [3.0])


def test_rock_is_drums_and_three_pitched_parts():
    from liveai.band.style import load_style
    assert set(load_style("rock").parts) == {"bass", "comp", "pad", "drums"}


def test_strip_ansi_leaves_the_text_of_a_view_redraw():
    raw = "\x1b[5F\x1b[2Kliveai  bar 3  beat 2/4   120.0 BPM\r"
    assert raw.count(VIEW_MARK) == 1
    assert strip_ansi(raw) == "liveai  bar 3  beat 2/4   120.0 BPM"
    assert strip_ansi("\x1b[J\x1b[1;32mliveai: ready in 0.50 s\x1b[0m\r") == "liveai: ready in 0.50 s"


def test_a_child_on_a_pty_is_read_line_by_line_and_drained():
    """A child that redraws a status area a thousand times (far more than a pty's buffer holds)
    and prints its ready line in between: every line arrives, escapes stripped, and it exits."""
    child = ("import sys\n"
             "for i in range(1000):\n"
             "    sys.stdout.write('\\x1b[2F' if i else '')\n"
             "    sys.stdout.write(f'\\x1b[2Kliveai  bar {i}  ' + 'x' * 200 + '\\n\\x1b[2Kchord C\\n')\n"
             "    if i == 500: print('liveai: ready in 0.10 s (generator rules, osc port 1)')\n"
             "sys.stdout.write('tail without newline')\n")
    master, slave = pty.openpty()
    p = subprocess.Popen([sys.executable, "-c", child], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    lines, raw = [], []
    t = threading.Thread(target=read_pty_lines, args=(master, lines.append, raw.append), daemon=True)
    t.start()
    assert p.wait(30) == 0
    t.join(10)
    assert not t.is_alive()
    assert sum(x.count(VIEW_MARK) for x in raw) == 1000
    assert [x for x in lines if x.startswith("liveai: ready")] == ["liveai: ready in 0.10 s (generator rules, osc port 1)"]
    assert lines[-1] == "tail without newline"
    assert not any("\x1b" in x or "\r" in x for x in lines)
