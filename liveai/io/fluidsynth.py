"""FluidSynth as the laptop's band: started for `--synth`, and `liveai render` for takes.

We run Debian's `fluidsynth` program rather than pyfluidsynth: nothing to pip-install (the binding
would load the same libfluidsynth and needs the system package anyway), the synth's audio thread
lives in a process of its own where neither our GIL nor our garbage collector can delay it, a crash
there cannot take the engine down, and the very same program renders a take to WAV (`-F`), so what
`liveai render` writes is what `--synth` played. It is found at run time: nothing here is a Python
dependency.

Live, fluidsynth runs its shell on a pipe we hold: closing it (or our process dying, even by
SIGKILL) makes it quit, so no synth is left behind.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

from liveai.io.jackwatch import bury, jack_watch, release
from liveai.io.midi import MidiOutput, PortSpec, list_ports
from liveai.io.output import WireState

log = logging.getLogger(__name__)

APT_FLUIDSYNTH = "sudo apt-get install fluidsynth"
APT_SOUNDFONT = "sudo apt-get install fluid-soundfont-gm   (or the smaller timgm6mb-soundfont)"
SOUNDFONTS = (  # Debian/Ubuntu packages' paths, the fuller sound first
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",      # fluid-soundfont-gm
    "/usr/share/sounds/sf2/default-GM.sf2",      # the alternatives link
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",        # timgm6mb-soundfont
)
SYNTH_CLIENT = "liveai-fluidsynth"  # FluidSynth's MIDI and audio client name (JACK) / sequencer client (ALSA)
GAIN = 0.6  # FluidSynth's default 0.2 is quiet next to other programs; 0.6 leaves headroom for 4 parts
RENDER_RATE = 44100
START_TIMEOUT_S = 15.0


class SynthMissing(RuntimeError):
    """FluidSynth or a soundfont is not installed; the message says what to install."""


def find_fluidsynth() -> str:
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise SynthMissing(f"FluidSynth is not installed; install it with: {APT_FLUIDSYNTH}")
    return exe


def check_soundfont(path: Path) -> None:
    """A SoundFont (.sf2, .sf3) is a RIFF file of form 'sfbk': anything else FluidSynth would skip
    and play its own default instead, named as if it were the one given."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError as e:
        raise SynthMissing(f"soundfont {path} cannot be read: {e.strerror or e}") from None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise SynthMissing(f"soundfont {path} is not a SoundFont (.sf2 or .sf3)")


def find_soundfont(explicit: str | None = None) -> str:
    """The soundfont to play: the one given, else $LIVEAI_SOUNDFONT, else a GM soundfont from the
    system's packages. One the user names (either way) that is missing or not a SoundFont is an
    error, never quietly replaced by the system's."""
    if explicit:
        return _users_soundfont(explicit)
    env = os.environ.get("LIVEAI_SOUNDFONT")
    if env:
        try:
            return _users_soundfont(env)
        except SynthMissing as e:
            raise SynthMissing(f"$LIVEAI_SOUNDFONT: {e}") from None
    for cand in SOUNDFONTS:
        if Path(cand).is_file():
            return str(Path(cand).resolve())
    raise SynthMissing(f"no General MIDI soundfont found (looked at {', '.join(SOUNDFONTS)}); "
                       f"install one with: {APT_SOUNDFONT}, or give --soundfont FILE.sf2")


def _users_soundfont(given: str) -> str:
    """A soundfont the user named: it exists, is a file and is a SoundFont."""
    p = Path(given).expanduser()
    if not p.exists():
        raise SynthMissing(f"soundfont {given} does not exist")
    if not p.is_file():
        raise SynthMissing(f"soundfont {given} is not a file")
    check_soundfont(p)
    return str(p)


def check_synth(cfg: object) -> None:
    """With --synth, what is the user's to fix (FluidSynth installed, the soundfont) is checked
    before any port opens: one error at start, never a fallback to OSC or a failure later."""
    if getattr(cfg, "synth", False):
        find_fluidsynth()  # what to install comes first
        find_soundfont(getattr(cfg, "soundfont", None))


def audio_driver(midi_api: str, wanted: str | None = None) -> str:
    """FluidSynth's audio driver: the one asked for; JACK when the MIDI goes over JACK; the
    PulseAudio protocol where a PulseAudio or PipeWire server listens (a desktop); else ALSA."""
    if wanted:
        return wanted
    if midi_api == "jack":
        return "jack"
    runtime = os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
    if os.environ.get("PULSE_SERVER") or Path(runtime, "pulse", "native").exists():
        return "pulseaudio"
    return "alsa"


def synth_command(exe: str, soundfont: str, midi_api: str, audio: str, client: str = SYNTH_CLIENT) -> list[str]:
    midi = "jack" if midi_api == "jack" else "alsa_seq"
    cmd = [exe, "-a", audio, "-m", midi, "-g", str(GAIN),
           "-o", f"midi.{'jack' if midi == 'jack' else 'alsa_seq'}.id={client}"]
    if audio == "jack":  # our own client name, and its outputs on the system's playback ports
        cmd += ["-o", f"audio.jack.id={client}", "-o", "audio.jack.autoconnect=1"]
    return cmd + [soundfont]


class SynthOutput(MidiOutput):
    """Our MIDI output, opened straight onto FluidSynth's input; closing it stops FluidSynth.

    A watchdog sees FluidSynth die (a crash, a kill) within WATCH_S, says so once (the log, and
    on_fault: OSC /liveai/error), starts it again with the same soundfont and audio, reopens our
    output onto it and restores what the band had set up: each channel's bank and program, and the
    notes sounding (so a held chord sounds again rather than vanishing). The take is not this
    output's: it goes on throughout. Under JACK it is also a member of the server's watch
    (liveai.io.jackwatch): a dead server stops its sends at once, and its port is buried, never
    closed; FluidSynth dies with the server, and this watchdog brings both back."""

    WATCH_S = 0.2
    RETRY_S = 2.0

    def __init__(self, spec: PortSpec, proc: subprocess.Popen, audio: str, soundfont: str,
                 midi_api: str = "alsa") -> None:
        super().__init__(spec, watch=False)  # its own watchdog restores the port and its state
        self.proc, self.audio, self.soundfont, self.midi_api = proc, audio, soundfont, midi_api
        self.name = f"{self.name} (FluidSynth on {audio}, {Path(soundfont).name})"
        self.on_fault: Callable[[str], None] | None = None
        self.restarts = 0
        self._lock = threading.Lock()  # the port is swapped under it
        self.state = WireState()
        self._rejoin = False  # the JACK server died under us: restart FluidSynth when it is back
        self._closing = threading.Event()
        if midi_api == "jack":
            jack_watch().add(self)
            self.generation = jack_watch().generation
        self._watch = threading.Thread(target=self._watchdog, name="synth-watch", daemon=True)
        self._watch.start()

    def send(self, ev) -> None:
        self.send_raw(ev.midi)

    def send_raw(self, data) -> None:
        m = list(data)
        self.state.note(m)
        with self._lock:
            try:
                self._send(m)
            except Exception:  # the port went with FluidSynth: the watchdog brings it back
                pass

    def _watchdog(self) -> None:
        while not self._closing.wait(self.WATCH_S):
            rc = self.proc.poll()
            if self._rejoin:  # the JACK server went (the watch said so): a new FluidSynth on its return
                if not jack_watch().up:
                    continue
                log.warning("JACK is back: starting FluidSynth again on it")
                stop_process(self.proc)  # one that outlived its server plays nowhere
            elif rc is None:
                continue
            else:
                why = f"FluidSynth stopped (exit {rc}): starting it again"
                log.error(why)
                if self.on_fault:
                    try:
                        self.on_fault(why)
                    except Exception:
                        log.exception("reporting the synth's fault")
            while not self._closing.is_set():
                try:
                    self._restart()
                    self._rejoin = False
                    break
                except Exception as e:
                    log.error("FluidSynth would not start again (%s); trying again in %g s", e, self.RETRY_S)
                    self._closing.wait(self.RETRY_S)

    def _restart(self) -> None:
        from liveai.io.midi import open_port
        proc, port, _, _ = start_synth(self.midi_api, self.soundfont, self.audio)
        try:
            out, _ = open_port("output", self.midi_api, "synth", port)
        except BaseException:
            stop_process(proc)
            raise
        with self._lock:
            old = self._out
            self._out, self._send, self.proc = out, out.send_message, proc
            for m in self.state.replay():  # bank before program, then the notes sounding
                self._send(m)
            self.generation = jack_watch().generation if self.midi_api == "jack" else 0
        if old is not None:
            if self.midi_api == "jack":
                # never closed: its peer (the killed FluidSynth's port) vanished under it, and closing
                # an rtmidi JACK client in that state crashed liveai once in about six CI runs
                # (exit -11 between "starting FluidSynth" and "is back"); one idle client per restart
                bury(old)
            else:
                try:
                    old.close_port()
                    old.delete()
                except Exception:
                    pass
        self.restarts += 1
        log.warning("FluidSynth is back (%d restart%s): programs and %d sounding notes restored",
                    self.restarts, "" if self.restarts == 1 else "s", len(self.state.held))

    # -- the JACK server's watch: FluidSynth dies with the server; the watchdog above restarts both
    def jack_ports(self) -> list[tuple[str, bool]]:
        return []

    def server_lost(self) -> None:
        with self._lock:
            old, self._out, self._send = self._out, None, _nowhere
            self._rejoin = True
        bury(old)

    def server_back(self) -> None:
        pass

    def reconnected(self, port: str) -> None:
        pass

    def close(self) -> None:
        self._closing.set()
        try:
            with self._lock:
                if self.midi_api == "jack":
                    jack_watch().remove(self)
                    if self._out is not None:
                        release(self._out, self.generation)
                    self._out, self._send = None, _nowhere
                else:
                    super().close()
        finally:
            stop_process(self.proc)


def _nowhere(data) -> None:
    """Where the synth's sends go while the JACK server is away."""


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        if proc.stdin:
            proc.stdin.write(b"quit\n")
            proc.stdin.close()
        proc.wait(3)
    except (OSError, subprocess.TimeoutExpired):
        proc.terminate()
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(3)


def start_synth(midi_api: str = "alsa", soundfont: str | None = None, audio: str | None = None,
                client: str = SYNTH_CLIENT) -> tuple[subprocess.Popen, str, str, str]:
    """Start FluidSynth and wait for its MIDI input port. Returns (process, port name, audio
    driver, soundfont). Raises SynthMissing (with the apt command) or RuntimeError (it would not
    start: its own words)."""
    exe = find_fluidsynth()
    sf = find_soundfont(soundfont)
    drv = audio_driver(midi_api, audio)
    cmd = synth_command(exe, sf, midi_api, drv, client)
    log.info("starting FluidSynth: %s", " ".join(cmd))
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            _, outs = list_ports(midi_api)
            port = next((n for n in outs if client in n), None)
            if port is not None:
                return proc, port, drv, sf
            if proc.poll() is not None or time.monotonic() > deadline:
                err.seek(0)
                words = err.read().decode(errors="replace").strip().splitlines()[-5:]
                why = "exited" if proc.poll() is not None else f"opened no MIDI port in {START_TIMEOUT_S:g} s"
                raise RuntimeError(f"FluidSynth {why} (audio driver {drv}; --synth-audio chooses another): "
                                   + " | ".join(words))
            time.sleep(0.1)
    except BaseException:
        stop_process(proc)
        raise
    finally:
        err.close()


def open_synth(cfg) -> SynthOutput:
    """`--synth`: FluidSynth started and our MIDI output opened onto it."""
    from liveai.io.midi import midi_available
    find_fluidsynth()  # what to install comes first
    find_soundfont(getattr(cfg, "soundfont", None))
    why = midi_available(cfg.midi_api)
    if why:  # our MIDI reaches FluidSynth through ALSA's sequencer or JACK
        raise SynthMissing(f"--synth needs MIDI to reach FluidSynth, but {why}; with a JACK server "
                           "running, add --midi-api jack")
    proc, port, drv, sf = start_synth(cfg.midi_api, getattr(cfg, "soundfont", None), getattr(cfg, "synth_audio", None))
    try:
        out = SynthOutput(PortSpec(cfg.midi_api, port, False, "synth"), proc, drv, sf, cfg.midi_api)
    except BaseException:
        stop_process(proc)
        raise
    log.info("FluidSynth plays %s on %s", Path(sf).name, drv)
    return out


def render(midi_path: str | os.PathLike, wav_path: str | os.PathLike, soundfont: str | None = None,
           rate: int = RENDER_RATE) -> Path:
    """Render a take to a WAV file with FluidSynth's fast renderer (-F), as `--synth` plays it.
    Written to a temporary file next to the target and renamed: an existing file is replaced
    whole or not at all."""
    exe = find_fluidsynth()
    sf = find_soundfont(soundfont)
    src, dst = Path(midi_path), Path(wav_path)
    if not src.is_file():
        raise ValueError(f"no such MIDI file: {src}")
    if dst.is_dir():
        raise ValueError(f"--out {dst} is a folder: give the WAV file's name, e.g. {dst / 'take.wav'}")
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".render-", suffix=".wav", dir=dst.parent)
    except OSError as e:
        raise ValueError(f"cannot write {dst}: {e.strerror or e}") from None
    os.close(fd)
    try:
        cmd = [exe, "-n", "-i", "-q", "-g", str(GAIN), "-r", str(rate), "-T", "wav", "-F", tmp, sf, str(src)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if r.returncode != 0 or Path(tmp).stat().st_size <= 44:
            raise RuntimeError(f"FluidSynth could not render {src}: {(r.stderr or r.stdout).strip()[-500:]}")
        trim_tail(tmp, _midi_seconds(src))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as an ordinary new file, not mkstemp's 0600
        os.replace(tmp, dst)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return dst


SILENCE = 8  # of 32767 (-72 dBFS): below it the reverb's last whisper is cut
TAIL_MARGIN_S = 0.1


def _midi_seconds(path: Path) -> float:
    import mido
    try:
        return float(mido.MidiFile(path).length)
    except Exception:  # a file FluidSynth could play but mido cannot time: keep every sample
        return float("inf")


def trim_tail(wav_path: str | os.PathLike, keep_s: float) -> None:
    """FluidSynth's renderer runs on until the last reverb voice is done, seconds of near-zero
    samples: cut the file where the sound after the take's end falls below SILENCE (a short
    margin kept), so the WAV is the take's length plus its audible release."""
    import wave

    import numpy as np
    with wave.open(str(wav_path), "rb") as w:
        params = w.getparams()
        if params.sampwidth != 2:
            return
        data = np.frombuffer(w.readframes(params.nframes), dtype="<i2").reshape(-1, params.nchannels)
    loud = np.flatnonzero(np.abs(data).max(axis=1) > SILENCE)
    last = int(loud[-1]) + 1 if loud.size else 0
    end = max(last + int(TAIL_MARGIN_S * params.framerate), int(min(keep_s, 1e7) * params.framerate))
    if end >= len(data):
        return
    with wave.open(str(wav_path), "wb") as w:
        w.setparams(params)
        w.writeframes(data[:end].tobytes())
