"""Training of the neural accompanist (optional `train` extra: torch, music21, onnx).

Entry point: liveai.train.cli:main(argv) (`liveai train`, `python -m liveai.train`).
"""
