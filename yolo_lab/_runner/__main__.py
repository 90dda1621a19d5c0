"""``python -m yolo_lab._runner RUN_DIR``: one process of a training run."""

import sys

from .main import main

sys.exit(main(sys.argv))
