"""Band styles: a rhythm section (bass, comp, pad, arpeggio, drums) that plays the chord plan.

A band style is data, a TOML file (the built-in ones are in liveai/band/styles/; `--band
path/to/mine.toml` loads your own). Not to be confused with `--style`, the player's learned profile.

Format (every key optional unless said otherwise):

    name = "mypop"                  # defaults to the file name
    description = "one line for `liveai bands`"
    meters = ["4/4", "3/4"]         # the meters it has patterns for
    fallback = "waltz"              # style played in a meter this one lacks (a 4/4-only style names one):
                                    # a built-in name or a .toml file (a relative path is read beside this one)
    swing = 1.0                     # long:short ratio of each pair of 8ths: 1 straight, 2 triplet (1..3)
    phrase_bars = 4                 # phrase length; fills fall in the last bar of a phrase
    fill_every = 4                  # bars between automatic fills (a multiple of phrase_bars; 0: none)

    [parts.bass]                    # one table per pitched part it plays: bass, comp, pad, arp
    range = [28, 52]                # lowest and highest MIDI note (at least an octave)
    velocity = 90                   # base velocity; accent = added on X and the downbeat; ghost = g velocity
    walk = "chromatic"              # bass: approach notes (A) a half step (chromatic), whole step (scale) or mixed
    [parts.comp]
    voicing = "close"               # comp, pad: close | open | drop2 | shell
    legato = true                   # comp, pad, arp: each hit rings until the next (`.` holds too)
    [parts.arp]
    order = "up"                    # arp: up | down | updown, over `span` chord tones
    [parts.drums]
    map = { kick = 36, snare = 38 } # instrument -> note, for a drum machine (default General MIDI)

    [variations.sparse]             # at least two, chosen by energy (0..1): each plays from `energy` up
    energy = 0.0
    bars = 1                        # a pattern may span several bars (a two-bar clave)
    bass = { "4/4" = "R.......", "3/4" = "R....." }
    comp = { "4/4" = "x-------" }
    drums.kick = { "4/4" = "x...x..." }
    [variations.full]
    energy = 0.7
    ...
    [fill]                          # the last bar of a phrase; parts it does not name play on
    break = false                   # (true: they rest, a break)
    drums.tom_high = { "4/4" = "........x.x....." }
    [intro]                         # played when asked (/liveai/band/intro), then the variations
    bars = 2
    [ending]                        # played when asked (/liveai/band/ending), then the band stops

Patterns: one character a cell, the cell being a 16th, an 8th or a quarter, whichever makes the
string fill the section's bars; spaces and | are ignored. `.` silence, `-` hold the note (pitched
parts), `x` play, `X` play accented, `g` ghost note. The bass also takes `R` root (the played bass
of an inversion), `3` `5` `7` chord tones, `8` the root an octave up, `W` a walking chord tone toward
the next chord, `A` an approach note a step from the next chord's root. Pitches always come from
the chord (the harmony plan): a held note whose chord changes is restruck in the new chord, and
the bass sounds the new chord's root on its first beat (approach notes belong before it).
Drum instruments: kick stick snare clap hat pedal open ride bell crash tom_low tom_mid tom_high
floor tamb cowbell shaker clave (General MIDI notes, channel 10).
"""
from liveai.band.generator import BAND_PARTS, VOICES, BandGenerator, RulesChords, make_band
from liveai.vocab import part_of
from liveai.band.style import Style, StyleError, builtin_names, load_style, parse_style

__all__ = ["BandGenerator", "RulesChords", "Style", "StyleError", "VOICES", "BAND_PARTS", "builtin_names",
           "load_style", "make_band", "parse_style", "part_of"]
