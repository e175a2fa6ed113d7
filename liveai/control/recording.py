"""Takes over OSC: /liveai/record/start and /liveai/record/stop, a take that never overwrites an
earlier one, is journaled while it records (a crash loses nothing) and is written off both loops.
A mixin of liveai.control.remote.Control (which owns session, engine, server, listeners, push).
"""
from __future__ import annotations

import logging
import threading

from liveai.io.recorder import Recorder, session_filename
from liveai.io.takes import check_folder, save_take, start_journal

log = logging.getLogger(__name__)

Dest = tuple[str, int]


class TakeRecording:
    """Recording takes on command (see the module docstring)."""

    def record_start(self, name: str = "") -> None:
        if self.take is not None:
            raise ValueError(f"already recording {self.take_path}")
        check_folder(self.recordings)  # an unusable folder is an error now, not a lost take at stop
        path = session_filename(self.recordings, name=name)
        n = 2
        while path.exists():  # never overwrite an earlier take
            path = path.with_name(f"{path.stem.rsplit('~', 1)[0]}~{n}.mid")
            n += 1
        eng, m = self.engine, self.engine.transport.meter
        rec = Recorder(self.session.sender, eng.transport.bpm, (m.beats, m.unit),
                       tuple(dict.fromkeys(v.split(".", 1)[0] for v in self.engine.voices)))
        self.take, self.take_path = rec, path
        self.journal = start_journal(rec, path)
        eng.on_player.append(rec.player)
        progs = eng.programs.events(eng.settings.channels) if eng.programs is not None else []

        def attach() -> None:  # on the sender's loop; the take opens with each part's program
            self.session.scheduler.outputs.append(rec)
            for ev in progs:
                rec.send(ev)
        self.session.sender.call_soon(attach)
        log.info("recording %s", path)
        self.push("recording", always=True)

    def record_stop(self, dest: Dest | None = None) -> None:
        rec, path = self.take, self.take_path
        if rec is None:
            raise ValueError("not recording")
        journal, self.journal = self.journal, None
        self.take = self.take_path = None
        if rec.player in self.engine.on_player:
            self.engine.on_player.remove(rec.player)
        outputs = self.session.scheduler.outputs

        def detach_and_save() -> None:  # on the sender's loop: nothing is mid-iteration over outputs
            if rec in outputs:
                outputs.remove(rec)
            threading.Thread(target=save, name="record-save", daemon=True).start()

        def save() -> None:  # the disk write is off both loops
            try:
                saved = save_take(rec, path)
            except OSError as e:
                if journal:
                    journal.close(keep=True)
                if dest:
                    self.server.error(dest, f"/liveai/record/stop: could not write {path.name}: {e.strerror or e}"
                                            "; its journal is kept for the next start")
                return
            if journal:
                journal.close()
            log.info("recorded %s", saved)
            for d in {*(self.listeners["recording"]), *([dest] if dest else [])}:
                self.server.reply(d, "/liveai/record/saved", str(saved))
        self.session.sender.call_soon(detach_and_save)
        self.push("recording", always=True)

    def _save_take_on_close(self) -> None:
        """A take still recording at shutdown is written at once (no loop is left to do it)."""
        if self.take is not None and self.take_path is not None:
            try:
                log.info("recorded %s", save_take(self.take, self.take_path))
                if self.journal:
                    self.journal.close()
            except OSError as e:
                log.error("could not write %s: %s (its journal is kept for the next start)", self.take_path, e)
                if self.journal:
                    self.journal.close(keep=True)
