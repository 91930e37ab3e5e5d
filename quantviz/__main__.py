"""``python -m quantviz``: the command line (see :mod:`quantviz.cli`)."""

from quantviz.cli import main

raise SystemExit(main())
