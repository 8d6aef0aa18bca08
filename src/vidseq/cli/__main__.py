"""`python -m vidseq.cli`: the vidseq command."""

import sys

from vidseq.cli import main

sys.exit(main())
