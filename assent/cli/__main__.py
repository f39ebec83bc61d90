import sys

from assent.cli import main

sys.exit(main())
