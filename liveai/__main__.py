import sys

from liveai.cli import main

sys.exit(main())
