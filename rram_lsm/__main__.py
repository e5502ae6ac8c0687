import sys

from rram_lsm.cli import main

sys.exit(main())
