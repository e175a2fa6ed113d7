"""The voice section of latency_bench: from the start of a sung note to its note-on reaching the
engine, and what the analysis costs.

    python -m latency_bench.voice [--takes 2]

A feeder thread plays synthesized sung takes (liveai.singing.synthetic, 20 dB SNR) into the voice
input's ring buffer in real time, 64 samples (4 ms) at 16 kHz per block, as a sound card's callback
would; the real analysis thread (liveai.singing.audio_in.VoiceInput) tracks and segments them and
hands note-ons to a real engine (liveai.app.build_session on the real-time clock), whose loop
stamps each on arrival (Engine.on_player, the recorder's hook). Latency = that stamp minus the
wall time at which the note's first sample was captured. Reported for every note (scoops and
glides included: the note is where the voice settles, so those wait for it) and for clean onsets.
The sound card's own buffering comes on top (JACK: one period, 0.67-5 ms; PipeWire: its quantum).
CPU: the analysis thread's CPU time over the wall time, in % of one core.
"""
from __future__ import annotations

import argparse
import threading
import time

import numpy as np

BLOCK = 64
SR = 16000


def measure(takes: int = 2, notes_per_take: int = 20, seed: int = 2) -> dict:
    from liveai.app.run import build_session
    from liveai.timing.clock import RealtimeClock
    from liveai.control.config import make_config
    from liveai.singing.audio_in import RingBuffer, VoiceInput
    from liveai.singing.synthetic import sung_set
    tks = sung_set(seed=seed, takes=takes, notes_per_take=notes_per_take, snr_db=20.0, sr=SR)
    gap = np.zeros(int(0.5 * SR), dtype=np.float32)
    audio = np.concatenate([x for tk in tks for x in (tk.audio, gap)])
    truth, off = [], 0.0
    for tk in tks:
        truth += [(n.pitch, off + n.onset, n.kind) for n in tk.notes]
        off += (len(tk.audio) + len(gap)) / SR

    cfg = make_config(None, {"generator": "rules", "osc_out": []})
    control, sender = RealtimeClock(spin=0.0, name="engine"), RealtimeClock(spin=0.0, name="sender")
    session = build_session(cfg, control, sender, [])
    arrived: list[tuple[float, int]] = []
    session.engine.on_player.append(
        lambda msg, t: arrived.append((time.perf_counter(), msg.note)) if msg.type == "note_on" and msg.velocity else None)
    sender.start_thread()
    control.start_thread()

    class Source:
        sr, name = SR, "bench feeder"
        ring = RingBuffer(2.0, SR)

        def close(self) -> None:
            pass

    src = Source()
    voice = VoiceInput(src, session.engine.post_input)
    t0 = time.perf_counter() + 0.2
    done = threading.Event()

    def feed() -> None:  # a sound card: a block is delivered when its last sample has been captured
        for i in range(0, len(audio), BLOCK):
            due = t0 + (i + BLOCK) / SR
            while (left := due - time.perf_counter()) > 0:
                time.sleep(min(left, 0.002))
            src.ring.write(audio[i:i + BLOCK])
        done.set()

    cpu0 = None
    th = threading.Thread(target=feed, name="feeder", daemon=True)
    th.start()
    done.wait(len(audio) / SR + 30)
    time.sleep(0.3)
    stats = voice.stats
    cpu_pct = 100.0 * stats.cpu_s / max(stats.wall_s, 1e-9)
    voice.close()
    control.stop()
    sender.stop()
    control.join(2.0)
    sender.join(2.0)
    session.engine.shutdown()
    del cpu0

    lat_all, lat_clean, matched = [], [], 0
    used: set[int] = set()
    for pitch, onset, kind in truth:
        t_on = t0 + onset
        best = None
        for j, (ta, n) in enumerate(arrived):
            if j not in used and n == pitch and -0.05 <= ta - t_on <= 0.25:
                best = j
                break
        if best is None:
            continue
        used.add(best)
        matched += 1
        lat = 1000 * (arrived[best][0] - t_on)
        lat_all.append(lat)
        if kind == "plain":
            lat_clean.append(lat)
    q = lambda v, p: float(np.percentile(v, p)) if v else float("nan")  # noqa: E731
    return {"voice_notes": len(truth), "voice_matched": matched,
            "voice_latency_p50_ms": q(lat_all, 50), "voice_latency_p99_ms": q(lat_all, 99),
            "voice_clean_latency_p50_ms": q(lat_clean, 50), "voice_clean_latency_p99_ms": q(lat_clean, 99),
            "voice_clean_notes": len(lat_clean), "voice_cpu_pct": cpu_pct, "voice_sr": SR,
            "voice_frames": stats.frames, "voice_lost_samples": stats.lost_samples}


def section(r: dict) -> str:
    ok = lambda b: "ok" if b else "MISSED"  # noqa: E731
    lines = ["voice (sing to play; liveai/singing, YIN tracker, 16 kHz, synthetic sung takes at 20 dB SNR):",
             f"  notes sung {r['voice_notes']}, reached the engine as the right note {r['voice_matched']}",
             f"  sung-note start -> note-on at the engine, clean onsets ({r['voice_clean_notes']}): "
             f"p50 {r['voice_clean_latency_p50_ms']:.1f} ms [{ok(r['voice_clean_latency_p50_ms'] <= 40)} <= 40], "
             f"p99 {r['voice_clean_latency_p99_ms']:.1f} ms [{ok(r['voice_clean_latency_p99_ms'] <= 70)} <= 70]",
             f"  all notes, scoops and glides included (they wait for the pitch to settle): "
             f"p50 {r['voice_latency_p50_ms']:.1f} ms, p99 {r['voice_latency_p99_ms']:.1f} ms",
             f"  analysis CPU {r['voice_cpu_pct']:.1f}% of one core [{ok(r['voice_cpu_pct'] <= 15)} <= 15%], "
             f"{r['voice_frames']} frames, {r['voice_lost_samples']} samples lost"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m latency_bench.voice", description=__doc__.split("\n\n")[0])
    ap.add_argument("--takes", type=int, default=2)
    args = ap.parse_args(argv)
    print(section(measure(args.takes)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
