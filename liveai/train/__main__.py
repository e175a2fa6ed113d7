"""python -m liveai.train ... (same as `liveai train ...`)."""
import sys

from liveai.train.traincli import main

raise SystemExit(main(sys.argv[1:]))
