"""Migration kernels: arrays in, preallocated output, no I/O.

Kernels are chosen by name through :mod:`pstm.kernels.registry`.
"""

from pstm.kernels.common import KernelParams, PillarSet, TraceGather

__all__ = ["KernelParams", "PillarSet", "TraceGather"]
