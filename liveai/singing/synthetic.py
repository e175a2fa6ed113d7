"""Sung-like test material with the true notes known (tests, latency_bench, README figures).

Why synthesize: a fixed recording cannot be regenerated, varied or scored exactly. This generator
models what makes voices hard for a pitch-to-note converter: a harmonic source with spectral tilt
shaped by vowel formants, vibrato (5-7 Hz, up to +-50 cents, fading in as singers do), scoops into
notes and glides between legato notes, jitter (cycle-to-cycle pitch wander) and shimmer (amplitude
wander), unvoiced consonants between notes, breath noise at a chosen SNR, level changes across the
phrase and quiet, decaying note endings. Pure numpy; deterministic for a seed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# (F1, F2, F3) Hz and bandwidths for a few vowels (textbook averages of adult voices)
VOWELS = {
    "a": ((730, 1090, 2440), (90, 110, 170)),
    "e": ((530, 1840, 2480), (70, 100, 160)),
    "i": ((270, 2290, 3010), (60, 90, 150)),
    "o": ((570, 840, 2410), (80, 90, 160)),
    "u": ((300, 870, 2240), (60, 90, 150)),
}
MAJOR = (0, 2, 4, 5, 7, 9, 11)


@dataclass(frozen=True)
class TrueNote:
    """A sung note as the listener would transcribe it: onset, end (s) and MIDI pitch."""
    pitch: int
    onset: float
    end: float
    kind: str = "plain"  # plain (a clean start), scoop (rises into the pitch), legato (glides from the last)


@dataclass
class SungTake:
    audio: np.ndarray  # float32, mono
    sr: int
    notes: list[TrueNote]
    f0: np.ndarray | None = None  # the true fundamental per sample (0 where unvoiced)


def midi_hz(m: np.ndarray | float) -> np.ndarray | float:
    return 440.0 * 2.0 ** ((np.asarray(m) - 69.0) / 12.0)


def random_melody(rng: np.random.Generator, n: int, low: int, high: int) -> list[int]:
    """A singable line: mostly steps in a major key, some leaps, within [low, high]."""
    tonic = int(rng.integers(0, 12))
    scale = [p for p in range(low, high + 1) if (p - tonic) % 12 in MAJOR]
    i = int(rng.integers(len(scale) // 4, 3 * len(scale) // 4))
    out = []
    for _ in range(n):
        out.append(scale[i])
        step = int(rng.choice([-4, -2, -1, -1, 1, 1, 2, 3, 0], p=[.05, .1, .2, .15, .2, .15, .1, .03, .02]))
        i = int(np.clip(i + step, 0, len(scale) - 1))
    return out


def _formant_gain(freq: np.ndarray, vowel: str) -> np.ndarray:
    """Spectral envelope of a vowel at the given frequencies: a sum of resonance peaks."""
    fs, bws = VOWELS[vowel]
    g = np.full(freq.shape, 0.03)
    for f, bw, a in zip(fs, bws, (1.0, 0.6, 0.3)):
        g += a / (1.0 + ((freq - f) / (bw / 2)) ** 2)
    return g


def _smooth_noise(rng: np.random.Generator, n: int, sr: int, rate_hz: float) -> np.ndarray:
    """Band-limited random wander (unit std), interpolated from rate_hz random points."""
    k = max(2, int(n / sr * rate_hz) + 2)
    pts = rng.standard_normal(k)
    return np.interp(np.linspace(0, k - 1, n), np.arange(k), pts)


def colored_noise(rng: np.random.Generator, n: int, tilt: float = 0.5) -> np.ndarray:
    """Noise with a 1/f^tilt spectrum (breath is pinkish, hiss is whiter)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=float)
    f[0] = 1.0
    x = np.fft.irfft(spec / f ** (tilt / 2), n)
    return x / (np.std(x) + 1e-12)


def sing(pitches: list[int], rng: np.random.Generator, sr: int = 16000, tempo: float = 100.0,
         snr_db: float | None = 20.0, vibrato_cents: float = 50.0, legato: float = 0.35,
         consonants: float = 0.3, level_range_db: float = 12.0, start: float = 0.3) -> SungTake:
    """Render a melody as a sung take. Durations are drawn from eighths to half notes at tempo;
    a share `legato` of notes is joined to the previous one by a glide (no silence), the others
    start after a short gap (some with an unvoiced consonant) with a scoop from below."""
    beat = 60.0 / tempo
    durs = rng.choice([0.5, 1.0, 1.0, 1.5, 2.0], size=len(pitches)) * beat
    t = start
    plan = []  # (pitch, onset, end, legato, scoop_s, scoop_cents, vowel, gain_db, vib_rate)
    level = 0.0
    for i, (p, d) in enumerate(zip(pitches, durs)):
        leg = i > 0 and rng.random() < legato and plan[-1][0] != p
        gap = 0.0 if leg else float(rng.uniform(0.06, 0.2))
        if i > 0:
            t += gap
        level = float(np.clip(level + rng.normal(0, 4.0), -level_range_db / 2, level_range_db / 2))
        scoop = 0.0 if leg else float(rng.choice([0.0, rng.uniform(0.03, 0.08)]))
        plan.append((p, t, t + d - (0.0 if leg else gap), leg, scoop, float(rng.uniform(80, 200)),
                     str(rng.choice(list(VOWELS))), level, float(rng.uniform(5.0, 7.0))))
        t += d - (0.0 if i + 1 < len(pitches) else 0.0)
    total = plan[-1][2] + 0.5
    n = int(total * sr)
    f0 = np.zeros(n)
    amp = np.zeros(n)
    vowel_at = np.empty(n, dtype="<U1")
    vowel_at[:] = "a"
    notes: list[TrueNote] = []
    glide_s = 0.05
    for i, (p, on, end, leg, scoop, scoop_c, vowel, gain_db, vib) in enumerate(plan):
        a, b = int(on * sr), int(end * sr)
        tt = np.arange(b - a) / sr
        cents = np.zeros(b - a)
        if scoop > 0:
            k = tt < scoop
            cents[k] = -scoop_c * (1 - tt[k] / scoop) ** 2
        if leg:  # glide from the previous pitch, truth onset at the glide's midpoint
            prev = plan[i - 1][0]
            k = tt < glide_s
            cents[k] = (prev - p) * 100 * (1 - tt[k] / glide_s) ** 1.5
        depth = vibrato_cents * np.clip((tt - 0.15) / 0.2, 0, 1)  # vibrato fades in after 150 ms
        cents += depth * np.sin(2 * np.pi * vib * tt + rng.uniform(0, 2 * np.pi)) * (tt > 0.15)
        cents += 8.0 * _smooth_noise(rng, b - a, sr, 30.0)  # jitter: slow wander, ~8 cents
        cents += float(rng.normal(0, 10))  # intonation: a little sharp or flat
        f0[a:b] = midi_hz(p) * 2.0 ** (cents / 1200.0)
        env = np.ones(b - a)
        att = int(0.02 * sr) if not leg else 1
        env[:att] = np.linspace(0, 1, att)
        rel = min(len(env) // 3, int(rng.uniform(0.06, 0.15) * sr))
        env[len(env) - rel:] *= np.linspace(1, 0, rel) ** 2  # quiet ending, decaying
        shimmer = 10 ** (0.05 * _smooth_noise(rng, b - a, sr, 40.0) * 1.0 / 20)  # ~0.5 dB
        amp[a:b] = 10 ** (gain_db / 20) * env * shimmer
        vowel_at[a:b] = vowel
        notes.append(TrueNote(p, on + (glide_s / 2 if leg else 0.0), end,
                              "legato" if leg else ("scoop" if scoop > 0 else "plain")))
    # harmonic source with spectral tilt, each harmonic weighted by the vowel envelope
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voice = np.zeros(n)
    voiced = f0 > 0
    for vowel in VOWELS:
        sel = voiced & (vowel_at == vowel)
        if not sel.any():
            continue
        ph, fz = phase[sel], f0[sel]
        acc = np.zeros(sel.sum())
        for h in range(1, 60):
            fh = h * fz
            ok = fh < min(5000.0, 0.45 * sr)
            if not ok.any():
                break
            acc += np.where(ok, _formant_gain(fh, vowel) / h ** 0.7 * np.sin(h * ph), 0.0)
        voice[sel] = acc
    voice *= amp
    voice /= np.max(np.abs(voice)) + 1e-12
    out = 0.5 * voice
    # unvoiced consonants in some gaps: a burst of high-passed noise just before a note
    for i, (p, on, *_rest) in enumerate(plan):
        if i and not plan[i][3] and rng.random() < consonants:
            a = max(0, int((on - 0.07) * sr))
            b = int(on * sr)
            burst = colored_noise(rng, b - a, tilt=-1.0) * np.hanning(b - a)
            out[a:b] += 0.1 * burst
    if snr_db is not None:
        p_voice = np.mean(out[voiced] ** 2)
        breath = colored_noise(rng, n, tilt=1.0)
        breath *= 1.0 + 0.5 * _smooth_noise(rng, n, sr, 1.0).clip(-1, 1)  # breathing swells
        out += breath * np.sqrt(p_voice / 10 ** (snr_db / 10) / np.mean(breath ** 2))
    out /= max(1.0, float(np.max(np.abs(out))) / 0.9)
    return SungTake(out.astype(np.float32), sr, notes, f0)


def sung_set(seed: int = 0, takes: int = 6, notes_per_take: int = 24, snr_db: float | None = 20.0,
             sr: int = 16000) -> list[SungTake]:
    """The synthetic test set: alternating low (male) and high (female) ranges, tempos 80-130."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(takes):
        low, high = (45, 64) if i % 2 == 0 else (57, 76)
        pitches = random_melody(rng, notes_per_take, low, high)
        out.append(sing(pitches, rng, sr=sr, tempo=float(rng.uniform(80, 130)), snr_db=snr_db))
    return out


def breath_noise(seconds: float, sr: int = 16000, seed: int = 0, level_db: float = -20.0) -> np.ndarray:
    """Breathing alone: pink-ish noise in swelling in-and-out breaths, no voice."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    x = colored_noise(rng, n, tilt=1.0)
    t = np.arange(n) / sr
    env = 0.5 + 0.5 * np.sin(2 * np.pi * t / 3.0) ** 2 + 0.3 * _smooth_noise(rng, n, sr, 2.0).clip(-1, 1)
    x *= env
    return (x / np.sqrt(np.mean(x ** 2)) * 10 ** (level_db / 20)).astype(np.float32)
