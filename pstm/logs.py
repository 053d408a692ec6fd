"""Logging set-up for workflow jobs: everything, tracebacks included, into the job's log file."""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback


@contextlib.contextmanager
def log_to(path: str):
    """Send pstm's log records and stderr to ``path``; log an exception before re-raising it."""
    with open(path, "w") as fh:
        handler = logging.StreamHandler(fh)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger = logging.getLogger("pstm")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        old_stderr, sys.stderr = sys.stderr, fh
        try:
            yield logger
        except BaseException as exc:
            fh.write(traceback.format_exc())
            old_stderr.write(f"pstm error: {exc}\n")
            raise
        finally:
            sys.stderr = old_stderr
            logger.removeHandler(handler)
