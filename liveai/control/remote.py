"""OSC control: binds every "in" address of the table (liveai.control.addresses) to an engine action, answers
get/ping/status, pushes feedback to listeners, records takes (recording.py) and serves OSCQuery; what
the OSC thread may hand to the engine loop is bounded in queue.py.

Threads: handlers are called in the OSC server's thread; everything that touches the engine is
posted to the engine's own loop (session.control), so the musical logic stays lock-free. Replies
and pushes are small UDP sends from that loop. Notes to listeners go out from the sender, with the
notes themselves (OscOutput.listeners).
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Callable

import mido

from liveai.engine.settings import PartMix
from liveai.control.queue import ControlQueue, Dest
from liveai.control.recording import TakeRecording
from liveai.control.addresses import ADDRESSES, BAND_PARTS, OSC_TABLE, PARAMS, PARTS, TABLE, TOPICS
from liveai.io.osc import OscOutput, OscServer
from liveai.io.recorder import Recorder
from liveai.io.takes import Journal, default_recordings_dir
from liveai.music.meter import TICKS_PER_BEAT, Meter

log = logging.getLogger(__name__)

MAX_LISTENERS = 32  # per topic


class Control(ControlQueue, TakeRecording):
    """The remote control of one session: parameters, bindings, feedback, life (flood control in
    queue.py, takes in recording.py)."""

    def __init__(self, session: Any, server: OscServer, recordings: str | Path | None = None) -> None:
        self.session, self.server = session, server
        self.engine, self.clock = session.engine, session.control
        cfg = session.cfg
        self.recordings = Path(recordings or cfg.record or default_recordings_dir()).expanduser()
        self.energy = float(self.engine.settings.density)
        self.listeners: dict[str, set[Dest]] = {t: set() for t in TOPICS}
        self.last: dict[str, tuple] = {}
        self.take: Recorder | None = None
        self.take_path: Path | None = None
        self.journal: Journal | None = None
        self.oscquery = None
        self._timer = None
        self._closed = False
        outs = [d for d in session.scheduler.outputs if isinstance(d, OscOutput)]
        if outs:
            self.osc_out = outs[0]
        else:  # no --osc-out: an output for notes listeners only
            self.osc_out = OscOutput([])
            session.scheduler.outputs.insert(0, self.osc_out)
            session.closers.append(self.osc_out.close)
        self.getters: dict[str, Callable[[], tuple]] = {}
        self.watchers: list[Callable[[], None]] = []  # called on every poll (the web page's LISTEN)
        self.setters: dict[str, Callable[..., None]] = {}
        self._init_queue()
        self._params()
        self._bind()

    # ------------------------------------------------------------------ parameters
    def _params(self) -> None:
        eng = self.engine
        g, s = self.getters, self.setters
        g["transport"] = lambda: (int(eng.transport.running),)
        s["transport"] = self._set_transport
        g["tempo"] = lambda: (float(eng.transport.bpm),)
        s["tempo"] = lambda bpm: eng.set_tempo(bpm)
        g["meter"] = lambda: (eng.transport.meter.beats, eng.transport.meter.unit)
        s["meter"] = lambda beats, unit: eng.set_meter(Meter.parse(f"{beats}/{unit}"))
        g["mode"] = lambda: (eng.settings.mode,)
        s["mode"] = lambda mode: eng.set_mode(mode)
        g["generator"] = lambda: ((eng._plain or eng.modes["accompany"])[0].name,)  # the band plays over it
        s["generator"] = None  # asynchronous: see _set_generator
        g["model"] = lambda: (eng.chord_model_name,)
        s["model"] = None  # asynchronous: see _set_model
        g["temperature"] = lambda: (float(eng.settings.temperature),)
        s["temperature"] = self._set_temperature
        g["density"] = lambda: (float(eng.settings.density),)
        s["density"] = lambda x: setattr(eng.settings, "density", x)
        g["energy"] = lambda: (self.energy,)
        s["energy"] = self._set_energy
        g["style"] = lambda: (float(eng.settings.style_blend),)
        s["style"] = self._set_style
        g["keylock"] = lambda: (-1 if eng.settings.key_lock is None else int(eng.settings.key_lock),)
        s["keylock"] = lambda pc: setattr(eng.settings, "key_lock", None if pc < 0 else pc)
        for part in PARTS:
            mix = lambda p=part: eng.settings.mix.get(p) or PartMix()
            g[f"{part}/mute"] = lambda m=mix: (int(m().mute),)
            s[f"{part}/mute"] = lambda x, p=part: eng.set_part(p, mute=bool(x))
            g[f"{part}/volume"] = lambda m=mix: (float(m().volume),)
            s[f"{part}/volume"] = lambda x, p=part: eng.set_part(p, volume=x)
            g[f"{part}/octave"] = lambda m=mix: (int(m().octave),)
            s[f"{part}/octave"] = lambda x, p=part: eng.set_part(p, octave=x)
            g[f"{part}/program"] = lambda p=part: (int(self._programs().get(p).program),)
            s[f"{part}/program"] = lambda x, p=part: self._set_program(p, x)
            g[f"{part}/channel"] = lambda p=part: (int(eng.settings.channels.get(p, 1)),)
            s[f"{part}/channel"] = lambda x, p=part: eng.set_part(p, channel=x)
        for part in BAND_PARTS:
            mix = lambda p=part: eng.settings.mix.get(p) or PartMix()
            g[f"{part}/mute"] = lambda m=mix: (int(m().mute),)
            s[f"{part}/mute"] = lambda x, p=part: eng.set_part(p, mute=bool(x))
            g[f"{part}/volume"] = lambda m=mix: (float(m().volume),)
            s[f"{part}/volume"] = lambda x, p=part: eng.set_part(p, volume=x)
            if part != "drums":
                g[f"{part}/octave"] = lambda m=mix: (int(m().octave),)
                s[f"{part}/octave"] = lambda x, p=part: eng.set_part(p, octave=x)
            g[f"{part}/channel"] = lambda p=part: (int(eng.settings.channels.get(p, 1)),)
            s[f"{part}/channel"] = lambda x, p=part: eng.set_part(p, channel=x)
            g[f"{part}/program"] = lambda p=part: (int(self._programs().get(p).program),)
            s[f"{part}/program"] = lambda x, p=part: self._set_program(p, x)
        g["band/style"] = lambda: (eng.band.style.name if eng.band is not None else "chorale",)
        s["band/style"] = self._set_band
        g["band/section"] = lambda: (eng.band.section_name if eng.band is not None else "",)
        g["band/variation"] = lambda: (int(eng.band.variation) if eng.band is not None else 0,)
        s["band/variation"] = lambda i: self._band().set_variation(i)
        g["position"] = self._position
        g["key"] = lambda: (str(eng.status().get("key", "")),)
        g["chord"] = lambda: (str(eng.status().get("chord", "")),)
        g["chord/next"] = lambda: (str(eng.status().get("next_chord", "")),)
        g["chord/in"] = lambda: (round(float(eng.status().get("next_in", 0.0)), 2),)
        g["chord/source"] = lambda: (str(eng.status().get("chord_source", "")),)
        g["chord/corrections"] = lambda: (int(eng.status().get("corrections", 0)),)
        g["recording"] = lambda: (int(self.take is not None),)
        missing = [p.name for p in PARAMS if p.name not in g or (p.writable and p.name not in s)]
        if missing:
            raise RuntimeError(f"OSC parameters without a binding: {missing}")

    def _programs(self):
        if self.engine.programs is None:
            from liveai.io.programs import PartPrograms
            self.engine.programs = PartPrograms()
        return self.engine.programs

    def _set_program(self, part: str, program: int) -> None:
        """A part's GM program (its bank kept), sent at once on the part's channel."""
        from liveai.io.programs import Program
        table = self._programs()
        table.set(part, Program(int(program), table.get(part).bank))
        self.engine.send_programs((part,))

    def _position(self) -> tuple[int, int]:
        return self.engine.transport.bar_beat(self.clock.now())

    def _set_transport(self, running: int) -> None:
        if running and not self.engine.running:
            self.engine.start()
        elif not running and self.engine.running:
            self.engine.stop_transport()

    def _set_temperature(self, t: float) -> None:
        self.engine.settings.temperature = t
        for gen in {g for pair in self.engine.modes.values() for g in pair}:
            if hasattr(gen, "temperature"):
                gen.temperature = t

    def _set_energy(self, x: float) -> None:
        self.engine.set_energy(x)
        self.energy = x

    def _set_style(self, x: float) -> None:
        self.engine.settings.style_blend = x
        for gen in {g for pair in self.engine.modes.values() for g in pair}:
            for attr in ("blend", "style_blend"):
                if hasattr(gen, attr):
                    setattr(gen, attr, x)

    def _band(self):
        if self.engine.band is None:
            raise ValueError("no band is playing (the chorale style); choose one with /liveai/band/style")
        return self.engine.band

    def _set_band(self, name: str) -> None:
        """Switch the band style: a running band keeps its place in the song and changes at the
        next bar; from or to chorale the accompaniment changes at the next step."""
        from liveai.band import BandGenerator, load_style
        style = load_style(name)
        eng = self.engine
        if style.chorale:
            eng.set_band(None)
        elif eng.band is not None:
            eng.band.set_style(style)
        else:
            band = BandGenerator(style, seed=self.session.cfg.seed)
            if hasattr(eng, "_energy_velocity"):  # /liveai/energy was set: the band follows it too
                band.set_energy(eng.settings.density)
            eng.set_band(band)

    def _band_intro(self) -> None:
        self._band().request_intro()
        if not self.engine.running:
            self.engine.start()

    def _set_generator(self, name: str, dest: Dest) -> None:
        """Build the generator off the engine loop (a model loads for a while), then swap it in."""
        cfg = self.session.cfg

        def load() -> None:
            from liveai.generators import make_generator
            try:
                gen = make_generator(name, cfg.model, cfg.seed, self.engine.settings.temperature, cfg.top_p)
            except Exception as e:
                self.server.error(dest, f"/liveai/generator: {e}")
                return
            if name == "model" and gen.name != "model":
                self.server.error(dest, "/liveai/generator: the model is unavailable; playing rules")

            def swap() -> None:
                try:
                    self.engine.set_generator(gen)
                except ValueError as e:
                    self.server.error(dest, f"/liveai/generator: {e}")
                self.push("generator", always=True)
            self.clock.call_soon(swap)
        threading.Thread(target=load, name="generator-load", daemon=True).start()

    def _set_model(self, name: str, dest: Dest) -> None:
        """Load a chord model off the engine loop; it plans from the next song on (Engine.set_chord_model)."""
        def load() -> None:
            from liveai.control.engineconfig import chord_model_named
            try:
                model, harmony = chord_model_named(name, self.engine.settings.harmony, self.session.cfg)
            except Exception as e:
                self.server.error(dest, f"/liveai/model: {e}")
                return

            def swap() -> None:
                self.engine.set_chord_model(model, harmony, name)
                self.push("model", always=True)
            self.clock.call_soon(swap)
        threading.Thread(target=load, name="model-load", daemon=True).start()

    # ------------------------------------------------------------------ binding
    def _bind(self) -> None:
        srv, eng = self.server, self.engine
        on = srv.on
        for p in PARAMS:
            name = p.name
            if p.writable:
                if name == "generator":
                    on(p.path, lambda a, d: self._set_generator(a[0], d))
                elif name == "model":
                    on(p.path, lambda a, d: self._set_model(a[0], d))
                else:
                    on(p.path, lambda a, d, n=name: self.post(d, f"/liveai/{n}", self._set, n, a, coalesce=("set", n)))
            on(f"/liveai/get/{name}", lambda a, d, n=name: self.post(d, "get", self.send_value, d, n,
                                                                     coalesce=("get", n, d), query=True))
            on(f"/liveai/listen/{name}", lambda a, d, n=name: self.post(d, "listen", self.listen, d, (n,),
                                                                        coalesce=("listen", n, d), query=True))
            on(f"/liveai/unlisten/{name}", lambda a, d, n=name: self.post(d, "unlisten", self.unlisten, d, (n,),
                                                                          coalesce=("unlisten", n, d)))
        on("/liveai/listen/notes", lambda a, d: self.post(d, "listen", self.listen, d, ("notes",),
                                                          coalesce=("listen", "notes", d), query=True))
        on("/liveai/unlisten/notes", lambda a, d: self.post(d, "unlisten", self.unlisten, d, ("notes",),
                                                            coalesce=("unlisten", "notes", d)))
        on("/liveai/listen", lambda a, d: self.post(d, "listen", self.listen, d, TOPICS, coalesce=("listen", "*", d), query=True))
        on("/liveai/unlisten", lambda a, d: self.post(d, "unlisten", self.unlisten, d, TOPICS, coalesce=("unlisten", "*", d)))
        on("/liveai/ping", lambda a, d: srv.reply(d, "/liveai/pong"))
        on("/liveai/status", lambda a, d: self.post(d, "/liveai/status", self._status, d,
                                                    coalesce=("status", d), query=True))
        on("/liveai/start", lambda a, d: self.post(d, "/liveai/start", self._set, "transport", (1,)))
        on("/liveai/stop", lambda a, d: self.post(d, "/liveai/stop", self._set, "transport", (0,)))
        on("/liveai/panic", lambda a, d: self.post(d, "/liveai/panic", eng.panic))
        on("/liveai/band/fill", lambda a, d: self.post(d, "/liveai/band/fill", lambda: self._band().request_fill()))
        on("/liveai/band/intro", lambda a, d: self.post(d, "/liveai/band/intro", self._band_intro))
        on("/liveai/band/ending", lambda a, d: self.post(d, "/liveai/band/ending", lambda: self._band().request_ending()))
        on("/liveai/tap", lambda a, d, now=self.clock.now: self.post(d, "/liveai/tap", eng.tap, now()))
        on("/liveai/record/start", lambda a, d: self.post(d, "/liveai/record/start", self.record_start, a[0] if a else ""))
        on("/liveai/record/stop", lambda a, d: self.post(d, "/liveai/record/stop", self.record_stop, d))
        on("/liveai/player/note", lambda a, d: eng.post_input(
            mido.Message("note_on", note=a[0], velocity=a[1]), self.clock.now()))
        unbound = [a.path for a in TABLE if a.incoming and a.owner == "control" and a.path not in srv.handlers]
        if unbound:
            raise RuntimeError(f"OSC addresses without a handler: {unbound}")

    def _set(self, name: str, args: tuple) -> None:
        self.setters[name](*args)
        self.push(name, always=True)

    def _status(self, dest: Dest) -> None:
        s = self.engine.status()
        self.server.reply(dest, "/liveai/status/reply", int(s["running"]), int(s["bar"]), int(s["beat"]),
                          float(s["tempo"]), str(s["mode"]), str(s["key"]), str(s["chord"]))

    # ------------------------------------------------------------------ feedback
    def value(self, name: str) -> tuple:
        return tuple(self.getters[name]())

    def send_value(self, dest: Dest, name: str) -> None:
        self.server.reply(dest, f"/liveai/{name}", *self.value(name))

    def listen(self, dest: Dest, topics: tuple[str, ...]) -> None:
        for t in topics:
            if dest not in self.listeners[t] and len(self.listeners[t]) >= MAX_LISTENERS:
                raise ValueError(f"too many listeners for {t}")
        for t in topics:
            self.listeners[t].add(dest)
            if t != "notes":
                v = self.value(t)
                self.last[t] = v
                self.server.reply(dest, f"/liveai/{t}", *v)
        if "notes" in topics:
            self.osc_out.set_listeners(self.listeners["notes"])

    def unlisten(self, dest: Dest, topics: tuple[str, ...]) -> None:
        for t in topics:
            self.listeners[t].discard(dest)
        if "notes" in topics:
            self.osc_out.set_listeners(self.listeners["notes"])

    def push(self, name: str, always: bool = False) -> None:
        """Send a parameter's value to its listeners (if it changed, or always)."""
        if not self.listeners[name] and not always:
            return
        v = self.value(name)
        if always or self.last.get(name) != v:
            self.last[name] = v
            for dest in list(self.listeners[name]):
                self.server.reply(dest, f"/liveai/{name}", *v)

    def poll(self) -> None:
        """On the engine loop at every beat (every 0.25 s while stopped): push what changed,
        whatever changed it (OSC, MIDI clock, the player, the engine)."""
        if self._closed:
            return
        try:
            for t in TOPICS:
                if t != "notes" and self.listeners[t]:
                    self.push(t)
            self.push_dropped()
            for watch in self.watchers:
                watch()
        except Exception:
            log.exception("OSC feedback failed")
        tr = self.engine.transport
        now = self.clock.now()
        if tr.running:
            beat_ticks = TICKS_PER_BEAT * 4 / tr.meter.unit
            nxt = (tr.tick_at(now) // beat_ticks + 1) * beat_ticks
            when = min(tr.time_of_tick(nxt) + 0.001, now + 0.5)
        else:
            when = now + 0.25
        self._timer = self.clock.call_at(max(when, now + 0.005), self.poll)

    # ------------------------------------------------------------------ recording


    # ------------------------------------------------------------------ life
    def start(self, oscquery_port: int | None = None, host: str = "127.0.0.1") -> None:
        self._timer = self.clock.call_soon(self.poll)
        if oscquery_port is not None and oscquery_port >= 0:
            from liveai.control.oscquery import OscQueryServer
            try:
                self.oscquery = OscQueryServer(host, oscquery_port, self.server.port, self.snapshot)
                self.oscquery.start()
            except OSError as e:
                log.warning("OSCQuery not served on port %s: %s", oscquery_port, e)
                self.oscquery = None

    def snapshot(self) -> dict[str, tuple]:
        """Every parameter's value, for OSCQuery (read from the HTTP thread; plain reads)."""
        out = {}
        for p in PARAMS:
            try:
                out[p.path] = self.value(p.name)
            except Exception:
                pass
        return out

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        if self.oscquery is not None:
            self.oscquery.stop()
        self._save_take_on_close()


def attach_osc(session: Any, server: OscServer, oscquery: bool = True) -> Control:
    """Bind the whole address table to the session's engine and start feedback (and OSCQuery on
    cfg.oscquery_port, unless oscquery is False). Handlers run on the engine's loop."""
    if server.table is None:
        server.table = OSC_TABLE  # the server checks every message against liveai's table
    ctl = Control(session, server)
    session.osc = ctl
    from liveai.io.takes import recover
    for p in recover(ctl.recordings):  # takes a crash left unfinished
        log.warning("recovered an unfinished take: %s", p)
    cfg = session.cfg
    port = getattr(cfg, "oscquery_port", -1) if oscquery else -1
    ctl.start(port, cfg.osc_host)
    return ctl


__all__ = ["Control", "attach_osc", "ADDRESSES"]
