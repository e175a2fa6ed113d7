"""The corpora read for training and for measuring: music21's chorales and folk tunes, POP909, lead
sheets in MusicXML and the derived real-songs set (data/realsongs.npz). Below both train/ and
evaluation/, so measuring never imports training."""
