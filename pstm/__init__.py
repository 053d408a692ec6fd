"""pstm: Kirchhoff pre-stack time migration.

The package holds all the science and all the speed; the Snakemake workflow in
``workflow/`` is a thin layer that calls into it.  pstm never imports snakemake.
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("pstm")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
