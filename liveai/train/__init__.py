"""Training of the neural accompanist (optional `train` extra: torch, music21, onnx).

Entry point: liveai.train.traincli:main(argv) (`liveai train`, `python -m liveai.train`).
`liveai learn` (a player's own model) lives here too but needs no torch: playerfiles, finetune
and learn are numpy, with onnx (the learn extra) to read and write the model.
"""
