"""`python -m videogen ...` (and `torchrun -m videogen ...`): the `videogen` command."""

import sys

from .cli.command import main

sys.exit(main())
