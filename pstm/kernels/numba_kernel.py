"""The ``numba`` kernel: the fast path where it applies, the general path otherwise.

The fast path (:mod:`pstm.kernels.numba_cpu`) covers linear interpolation with
the dip aperture, isotropic; every other option of the reference kernel goes
to the general path (:mod:`pstm.kernels.numba_general`).  Both are tested
against the reference.
"""

from __future__ import annotations

import numpy as np

from pstm.kernels import numba_cpu, numba_general
from pstm.kernels.common import KernelParams, PillarSet, TraceGather

KERNEL_VERSION = f"{numba_cpu.KERNEL_VERSION}+{numba_general.KERNEL_VERSION}"


def uses_fast_path(params: KernelParams, pillars: PillarSet | None = None) -> bool:
    """Whether the fast path computes this migration."""
    return not params.extended_features(pillars)


def migrate(traces: TraceGather, pillars: PillarSet, params: KernelParams, image: np.ndarray, fold: np.ndarray) -> int:
    """Add the Kirchhoff sum of ``traces`` into ``image`` (see :mod:`pstm.kernels.reference`)."""
    if uses_fast_path(params, pillars):
        return numba_cpu.migrate(traces, pillars, params, image, fold)
    return numba_general.migrate(traces, pillars, params, image, fold)
