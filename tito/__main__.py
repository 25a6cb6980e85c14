import sys

from tito.cli import main

sys.exit(main())
