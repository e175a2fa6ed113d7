"""The `liveai` command: run (live), demo (no hardware), ports, train, evaluate."""
from __future__ import annotations

import argparse
import logging
import sys
import time

from liveai.control.config import ConfigError, make_config, web_flags
from liveai.vocab import GENERATORS, MODES

log = logging.getLogger("liveai")


def _common(p: argparse.ArgumentParser) -> None:
    """Flags shared by run and demo. Defaults are None so a TOML file's values survive."""
    p.add_argument("--config", help="TOML configuration file; flags override it")
    p.add_argument("--tempo", type=float, help="tempo in BPM (default 120; demo: the input's tempo)")
    p.add_argument("--meter", help="beats per bar, e.g. 3/4 (default 4/4; demo: the input's time signature)")
    p.add_argument("--mode", help=f"what the engine does: {', '.join(MODES)} (default accompany)")
    p.add_argument("--generator", help=f"{', '.join(GENERATORS)} (default model; rules if the built-in model is missing)")
    p.add_argument("--model", help="your own model by name (made by `liveai learn FILES --name NAME`; `liveai models` "
                   "lists them), or the path of an ONNX accompanist to use instead of the built-in one")
    p.add_argument("--seed", type=int, help="random seed for the generator (default 0)")
    p.add_argument("--temperature", type=float, help="sampling temperature of the model (default 0.7)")
    p.add_argument("--top-p", dest="top_p", type=float, help="nucleus sampling share of the model (default 0.9)")
    p.add_argument("--osc-port", dest="osc_port", type=int, help="UDP port for OSC control (default 9000)")
    p.add_argument("--osc-host", dest="osc_host", help="address OSC control binds to (default 127.0.0.1; 0.0.0.0 opens it to the network)")
    p.add_argument("--osc-allow", dest="osc_allow", action="append", metavar="ADDR",
                   help="accept OSC control only from this sender IP address; repeatable (default: any sender "
                        "that can reach --osc-host; list 127.0.0.1 too to keep local control)")
    p.add_argument("--osc-out", dest="osc_out", action="append", metavar="HOST:PORT",
                   help="where notes and feedback go over OSC; repeatable (default 127.0.0.1:9001)")
    p.add_argument("--oscquery-port", dest="oscquery_port", type=int,
                   help="HTTP port of the OSCQuery JSON tree of the OSC address space (default 9002; 0 any free port; -1 off)")
    p.add_argument("--osc-bundle-latency", dest="osc_bundle_latency", type=float, metavar="MS",
                   help="send OSC notes MS early as bundles timetagged with the time each is due, for synths that "
                        "honour timetags (default 0: plain messages, sent as due)")
    p.add_argument("--channel", action="append", metavar="PART=N", help="MIDI channel (1-16) of an engine part, e.g. bass=2; repeatable")
    p.add_argument("--density", type=float, help="how busy the accompaniment is, 0..1 (default 1)")
    p.add_argument("--start-now", dest="start_now", action="store_const", const=True,
                   help="start the transport at once instead of at the player's first note")
    p.add_argument("--idle-bars", dest="idle_bars", type=float, help="stop after this many bars of player silence (default 2; 0 never)")
    p.add_argument("--lookahead", dest="lookahead_steps", type=int, help="planning lookahead in 16th steps (default 1)")
    p.add_argument("--key", help="lock the key (e.g. D, Bb, F#m); also the key of --input-map (default: listen)")
    p.add_argument("--chord-model", dest="chord_model", metavar="PATH|none",
                   help="the chord model the band plans with (default: the built-in models/chords.onnx; "
                        "none: the hand-written planner alone)")
    p.add_argument("--chord-model-weight", dest="chord_model_weight", type=float, metavar="W",
                   help="how much the planner trusts the chord model (default: its card's; 1 for the built-in one)")
    p.add_argument("--harmonic-rhythm", dest="harmonic_rhythm", choices=["auto", "beat", "half", "bar"],
                   help="how often the band's planned chord may change (default auto: half bars in 4/4, bars "
                        "in 3/4 and 6/8; a melody that clearly needs a new chord corrects it at once)")
    p.add_argument("--commit-beats", dest="commit_beats", type=float, metavar="BEATS",
                   help="the next chord is committed, shown and then played this many beats ahead "
                        "(default: 1 with a set --harmonic-rhythm, 0 with auto, which corrects at once)")
    p.add_argument("--split", metavar="NOTE", help="split point (e.g. 54 or F#2): your notes below it are chords "
                   "the band plays (one note: the key's chord on it); default off: two or more notes struck "
                   "together are a chord")
    p.add_argument("--input-map", dest="input_map", help="accessible play: degrees (white keys = scale degrees), "
                   "pads (8 pads from note 36 steer a melody), chord (one finger, a full chord)")
    p.add_argument("--follow-tempo", dest="follow_tempo", action="store_const", const=True,
                   help="the grid follows the player's tempo (onset tracking)")
    p.add_argument("--humanize", dest="humanize_ms", type=float, metavar="MS", help="timing variation in ms (default 0: off)")
    p.add_argument("--humanize-velocity", dest="humanize_velocity", type=float, help="velocity variation (default 0: off)")
    p.add_argument("--swing", type=float, help="swing of off-beat 8ths, 0..1 (default 0)")
    p.add_argument("--style", help="a style profile made by `liveai learn`")
    p.add_argument("--band", help="band style: chorale (default: the generator's voices), pop, rock, ballad, waltz, "
                   "swing, bossa, duo (`liveai bands`), or a .toml style file of your own")
    p.add_argument("--style-blend", dest="style_blend", type=float, help="how much answers follow the style memory, 0..1 (default 0.3)")
    p.add_argument("--call-gap", dest="call_gap_beats", type=float, help="beats of silence that end a call (default 1)")
    p.add_argument("--answer-max-bars", dest="answer_max_bars", type=int, help="longest answer in bars (default 4)")
    p.add_argument("--program", action="append", metavar="PART=N",
                   help="General MIDI program (0-127, or BANK:PROGRAM) of a part, e.g. bass=33; repeatable "
                        "(defaults: liveai/io/programs.py)")
    p.add_argument("--no-program", dest="program_change", action="store_const", const=False,
                   help="send no bank select or program change (the synth keeps its own sounds)")
    p.add_argument("--synth", action="store_const", const=True,
                   help="start FluidSynth (apt-get install fluidsynth fluid-soundfont-gm) and play into it")
    p.add_argument("--soundfont", metavar="SF2", help="the soundfont --synth plays (default: the system's GM soundfont)")
    p.add_argument("--synth-audio", dest="synth_audio", choices=["jack", "pulseaudio", "pipewire", "alsa"],
                   help="FluidSynth's audio output (default: jack with --midi-api jack, else PulseAudio/PipeWire "
                        "where it runs, else ALSA)")
    p.add_argument("--show", dest="show", action="store_const", const=True,
                   help="a live status view in the terminal: bar, tempo, key, chord now and next, parts, counters "
                        "(on by default for the real-time demo; only when stdout is a terminal)")
    p.add_argument("--no-show", dest="show", action="store_const", const=False, help="no live view")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def _midi(p: argparse.ArgumentParser) -> None:
    p.add_argument("--midi-api", dest="midi_api", choices=["alsa", "jack"], help="MIDI system (default alsa)")


def _voice_range(text: str) -> tuple[int, int]:
    """'48-72' or 'C3-G5' -> (low, high) MIDI notes."""
    from liveai.singing.segment import parse_range
    return parse_range(text)


def _voice(p: argparse.ArgumentParser) -> None:
    """Sing or hum to play (liveai/singing; needs the audio extra)."""
    p.add_argument("--audio-in", dest="audio_in", metavar="NAME",
                   help="sing or hum to play: the audio input whose name contains NAME (a JACK port or a "
                        "sound card); auto: the first capture input (needs liveai[audio])")
    p.add_argument("--audio-api", dest="audio_api", choices=["auto", "jack", "sounddevice"],
                   help="audio system: jack, sounddevice (ALSA/PulseAudio/PipeWire), auto (default: JACK if a server runs)")
    p.add_argument("--voice-tracker", dest="voice_tracker", choices=["yin", "crepe"],
                   help="pitch tracker (default yin; crepe needs models/crepe_tiny.onnx from `liveai train crepe`)")
    p.add_argument("--voice-snap", dest="voice_snap", choices=["chromatic", "key"],
                   help="sung pitches to the nearest semitone (default) or the nearest note of the key")
    p.add_argument("--voice-range", dest="voice_range", type=_voice_range, metavar="LOW-HIGH",
                   help="the singer's range, e.g. C3-G5 or 48-79 (default C2-C6); sounds outside it are ignored")
    p.add_argument("--voice-min-note", dest="voice_min_note_ms", type=float, metavar="MS",
                   help="a sung note must be steady this long before it plays (default 12)")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="liveai", description="A real-time improvisation engine that plays along with you.")
    from liveai import __version__
    ap.add_argument("--version", action="version", version=f"liveai {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True)

    run = sub.add_parser("run", help="play live with a MIDI keyboard", description="Play live: listen on a MIDI input, play on a MIDI output and over OSC.")
    _common(run)
    _midi(run)
    run.add_argument("--midi-in", dest="midi_in", metavar="NAME", help="connect to the input port whose name contains NAME; "
                     "auto: the first hardware-like input (or config auto_in), followed when unplugged and replugged")
    run.add_argument("--midi-out", dest="midi_out", metavar="NAME", help="connect to the output port whose name contains NAME; auto: as --midi-in")
    run.add_argument("--box", action="store_true", help="headless box (the service): --midi-in/--midi-out auto unless given, "
                     "hot-plug, config from --config or ~/.config/liveai/liveai.toml (a broken file: logged, defaults used), "
                     "real-time sender where allowed")
    run.add_argument("--virtual", action="store_const", const=True, help="open virtual ports named liveai:in and liveai:out instead")
    run.add_argument("--no-midi", dest="no_midi", action="store_true",
                     help="no MIDI ports at all: play over OSC only (player notes from /liveai/player/note)")
    _voice(run)
    web_flags(run)
    run.add_argument("--thru", action="store_const", const=True, help="echo the player's notes to the output")
    run.add_argument("--record", metavar="DIR", help="record the session to a new .mid file in DIR")
    run.add_argument("--clock", choices=["internal", "midi", "link"],
                     help="clock source: internal (default), midi (follow MIDI clock in), link (Ableton Link; needs liveai[link])")
    run.add_argument("--clock-in", dest="clock_in", metavar="NAME", help="with --clock midi: the port the clock comes from (default: --midi-in)")
    run.add_argument("--clock-out", dest="clock_out", metavar="PORT",
                     help="send MIDI clock, start and stop to the port whose name contains PORT ('virtual': open liveai:clock)")
    run.add_argument("--latency", action="append", metavar="OUT=MS",
                     help="latency compensation: send to OUT (midi, osc, clock) MS milliseconds early; repeatable")
    run.add_argument("--link-start-stop", dest="link_start_stop", action="store_const", const=True,
                     help="with --clock link: start and stop with the Link session")
    run.add_argument("--sender", choices=["thread", "process"],
                     help="where the MIDI sender runs: process (default: a process of its own, on SCHED_FIFO "
                          "where allowed, so no Python thread of the engine can delay a note; each step is handed "
                          "to it 30 ms early and stays rewritable until due) or thread (in the engine's process)")
    run.add_argument("--realtime", action="store_const", const=True,
                     help="every engine thread on SCHED_FIFO 50 and the sender on 70, where allowed "
                          "(root or LimitRTPRIO): on a busy machine this keeps notes on time (latency_bench/README.md); "
                          "the default, falling back to normal priority with a warning where it is not allowed")
    run.add_argument("--no-realtime", dest="realtime", action="store_const", const=False,
                     help="stay at normal scheduling priority")

    demo = sub.add_parser("demo", help="play a built-in tune (or --input) with no hardware", description="Play a tune as the player, through the same path as live input.")
    _common(demo)
    _midi(demo)
    web_flags(demo)
    demo.add_argument("--input", help="a MIDI file to play as the player (default: the built-in tune)")
    demo.add_argument("--out", help="write the session to this .mid file")
    demo.add_argument("--fast", action="store_true", help="run on the simulated clock, as fast as possible (no sound)")
    demo.add_argument("--no-midi", action="store_true", help="real-time demo without the virtual MIDI port")

    ports = sub.add_parser("ports", help="list MIDI ports (--audio: audio inputs)")
    _midi(ports)
    ports.add_argument("--audio", action="store_true", help="list audio inputs for --audio-in instead")

    render = sub.add_parser("render", help="render a take to a WAV file with FluidSynth",
                            description="Render a MIDI file with FluidSynth, as --synth plays it.")
    render.add_argument("midi", help="the take (.mid)")
    render.add_argument("--out", required=True, help="the WAV file to write")
    render.add_argument("--soundfont", metavar="SF2", help="default: the system's GM soundfont")

    show = sub.add_parser("show", help="draw a take as an SVG piano roll",
                          description="Draw a take as an SVG piano roll: one colour per part, the player on top, "
                                      "bar lines, the chords the band played and, when known, the true chords.")
    show.add_argument("midi", help="the take (.mid)")
    show.add_argument("--out", required=True, help="the SVG file to write")
    show.add_argument("--chords", metavar="FILE", help="the true chords: a chord chart, bars separated by | and the chords of a bar "
                      "sharing it (D | A7 | D A), or one chord a word; '-' or '%%' repeats a bar (default: "
                      "chord names in the take's marker events)")
    show.add_argument("--title", help="a title (default: the file's name)")

    sub.add_parser("train", help="train the model (needs the train extra)", add_help=False)
    sub.add_parser("evaluate", help="measure the accompaniment on annotated tunes (python -m liveai.evaluation)",
                   add_help=False)
    from liveai.box.service import add_parser as add_service_parser
    add_service_parser(sub)

    sub.add_parser("bands", help="list the built-in band styles", description="List the built-in band styles (--band NAME).")

    from liveai.train.learncli import add_parsers as add_learn_parsers
    add_learn_parsers(sub)
    return ap


def _overrides(args: argparse.Namespace) -> dict:
    o = {k: v for k, v in vars(args).items() if v is not None}
    if getattr(args, "channel", None):
        ch = {}
        for item in args.channel:
            part, sep, n = item.partition("=")
            if not sep or not n.isdigit():
                raise ConfigError(f"--channel expects PART=N, not {item!r}")
            ch[part] = int(n)
        o["channels"] = ch
    if getattr(args, "latency", None):
        lat = {}
        for item in args.latency:
            out, sep, ms = item.partition("=")
            try:
                lat[out] = float(ms)
            except ValueError:
                raise ConfigError(f"--latency expects OUT=MS, not {item!r}") from None
            if not sep:
                raise ConfigError(f"--latency expects OUT=MS, not {item!r}")
        o["latency"] = lat
    if isinstance(o.get("split"), str) and o["split"].isdigit():
        o["split"] = int(o["split"])
    if getattr(args, "program", None):
        from liveai.io.programs import parse_assignments
        o["programs"] = {k: str(v) for k, v in parse_assignments(args.program).items()}
    o.pop("program", None)
    if getattr(args, "voice_range", None):
        o["voice_low"], o["voice_high"] = o.pop("voice_range")
    return o


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["train"]:
        try:
            import music21, onnx, torch  # noqa: F401,E401  (the train extra)
            from liveai.train.traincli import main as train_main
        except ImportError as e:
            print(f"liveai: error: training needs the train extra (pip install 'liveai[train]'): {e}", file=sys.stderr)
            return 2
        return train_main(argv[1:]) or 0
    if argv[:1] == ["evaluate"]:  # the measuring stick (python -m liveai.evaluation)
        from liveai.evaluation.__main__ import main as evaluate_main
        return evaluate_main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        if args.cmd == "service":
            from liveai.box.service import main as service_main
            return service_main(args)
        return COMMANDS.get(args.cmd, cmd_run)(args)
    except (ConfigError, ValueError, LookupError, RuntimeError) as e:
        print(f"liveai: error: {e}", file=sys.stderr)
        return 2


def cmd_bands(args: argparse.Namespace) -> int:
    from liveai.band.style import builtin_names, load_style
    for name in builtin_names():
        s = load_style(name)
        print(f"{name:8s} {', '.join(s.meters):9s} {s.description}")
    print("(--band NAME, or --band path/to/style.toml for your own; see the README's \"Band styles\")")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from liveai.io.fluidsynth import render  # its errors (ValueError, SynthMissing) are main's one line
    print(f"wrote {render(args.midi, args.out, args.soundfont)}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from liveai.view.pianoroll import render_file
    try:
        path = render_file(args.midi, args.out, chords=args.chords, title=args.title)
    except (OSError, EOFError) as e:
        print(f"liveai: error: cannot draw {args.midi}: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


def cmd_ports(args: argparse.Namespace) -> int:
    if getattr(args, "audio", False):
        from liveai.singing.audio_in import list_audio_inputs
        ins = list_audio_inputs()
        print("audio inputs (for --audio-in):")
        for api, n in ins:
            print(f"  [{api}] {n}")
        if not ins:
            print("  (none: is the audio extra installed, pip install 'liveai[audio]', and is there a sound card or a JACK server?)")
        return 0
    from liveai.io.midi import list_ports, midi_available
    api = args.midi_api or "alsa"
    why = midi_available(api)
    if why:
        other = "--midi-api jack (with a JACK server running)" if api == "alsa" else "--midi-api alsa"
        print(f"liveai ports: {why}: no {api.upper()} MIDI here, so no ports to list.\n"
              f"Try {other}, or play over OSC only with `liveai run --no-midi`.", file=sys.stderr)
        return 1
    ins, outs = list_ports(api)
    print(f"MIDI inputs ({api}):")
    for n in ins or ["(none)"]:
        print(f"  {n}")
    print(f"MIDI outputs ({api}):")
    for n in outs or ["(none)"]:
        print(f"  {n}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from liveai.app.run import run_realtime
    from liveai.io.midi import PortSpec
    if args.box:  # never a dead box: a broken config file is logged and the defaults used
        from liveai.box.persist import default_config_path, load_or_defaults
        cfg, _ = load_or_defaults(args.config or default_config_path(), _overrides(args))
        if not cfg.virtual:
            cfg.midi_in, cfg.midi_out = cfg.midi_in or "auto", cfg.midi_out or "auto"
    else:
        cfg = make_config(args.config, _overrides(args))
    from liveai.io.fluidsynth import check_synth
    check_synth(cfg)  # a bad soundfont or no FluidSynth: one error now, before any port opens
    def hot(name: str | None) -> bool:  # follow the device (liveai/box/hotplug.py)
        return not cfg.virtual and name is not None and (args.box or name.lower() == "auto")
    midi_in = PortSpec(cfg.midi_api, cfg.midi_in, bool(cfg.virtual) or cfg.midi_in is None, "in", hot(cfg.midi_in))
    midi_out = PortSpec(cfg.midi_api, cfg.midi_out, bool(cfg.virtual) or cfg.midi_out is None, "out", hot(cfg.midi_out))
    if args.no_midi:
        midi_in = midi_out = None
    if cfg.realtime:
        from liveai.app.sources import realtime_engine
        realtime_engine(cfg.midi_api)  # before any engine thread starts: they inherit it
    run_realtime(cfg, midi_in, midi_out, box=args.box)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from liveai.app.run import run_realtime, run_simulated, summary
    from liveai.io.fluidsynth import SynthMissing, check_synth
    from liveai.music.tunes import BUILTIN, read_midi, tune_events
    o = _overrides(args)
    part = None
    if args.input:
        part = read_midi(args.input)
        events = part.events
        o.setdefault("tempo", part.tempo)
        if part.meter and "meter" not in o:
            o["meter"] = str(part.meter)
        name = args.input
    else:
        o.setdefault("tempo", BUILTIN.tempo)
        o.setdefault("meter", str(BUILTIN.meter))
        bpm = o["tempo"]
        events = tune_events(BUILTIN.notes(), bpm)
        name = BUILTIN.name.removesuffix(f", {BUILTIN.meter}")  # the banner says the meter itself
    if args.input and o.get("tempo") is None:
        o.pop("tempo")
    o.setdefault("start_now", False)
    o.setdefault("show", True)  # the real-time demo shows where it is (only on a terminal)
    cfg = make_config(args.config, o)
    if not args.fast:  # --synth's FluidSynth and soundfont: one error before playing, never "OSC only"
        check_synth(cfg)
    if part is not None:  # the input follows the band's tempo (--tempo, a clamped file tempo)
        events = part.events_at(cfg.tempo)
    if args.out:  # refused before playing, not lost at the end
        from liveai.io.takes import check_take
        check_take(args.out)
    t0 = time.perf_counter()
    print(f"liveai demo: {name} at {cfg.tempo:g} BPM in {cfg.meter}, mode {cfg.mode}", flush=True)
    if args.fast:
        if cfg.synth:
            print("liveai demo: --fast makes no sound (it runs on the simulated clock); "
                  f"hear the take with `liveai render {args.out or 'TAKE.mid'} --out take.wav`", file=sys.stderr)
        session = run_simulated(cfg, events, args.out)
    else:
        from liveai.io.midi import PortSpec
        midi_out = None if args.no_midi else PortSpec(cfg.midi_api, None, True, "out")
        try:
            session = run_realtime(cfg, None, midi_out, events=events, out=args.out)
        except Exception as e:
            if midi_out is None or isinstance(e, SynthMissing):  # --synth's own fault: OSC would not mend it
                raise
            print(f"liveai demo: no MIDI output ({e}); playing over OSC only", file=sys.stderr)
            session = run_realtime(cfg, None, None, events=events, out=args.out)
    print(summary(session, time.perf_counter() - t0))
    if args.out:
        print(f"wrote {args.out}")
    return 0


# each subcommand's handler (run is the default; service lives with the box)
from liveai.train.learncli import cmd_learn, cmd_models  # noqa: E402  (light: its work is imported when run)

COMMANDS = {"ports": cmd_ports, "demo": cmd_demo, "learn": cmd_learn, "bands": cmd_bands, "models": cmd_models,
            "render": cmd_render, "show": cmd_show}
