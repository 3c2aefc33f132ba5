"""`cli.py serve` with tests/slow.py's slow Query fields, for the shutdown tests
(test_lifecycle.py):

    python -m tests.slow_app serve --port 0
"""

from __future__ import annotations

import sys

import cli
from tests.slow import SlowQuery

if __name__ == "__main__":
    sys.exit(cli.run(query=SlowQuery))
