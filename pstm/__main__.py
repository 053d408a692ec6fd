"""``python -m pstm``: the ``pstm`` command (see :func:`pstm.cli.main`)."""

from pstm.cli import main

raise SystemExit(main())
