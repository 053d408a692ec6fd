"""The ``numba`` kernel: one entry point, one place where the path is chosen.

:func:`migrate` computes every migration the reference can (all tested against
:mod:`pstm.kernels.reference`) by one of three paths, chosen by
:func:`choose_path` from the imaging options:

* ``linear`` (:mod:`~pstm.kernels.numba_kernel.linear`): float32, linear
  interpolation with the dip aperture, isotropic, no extended option; its
  reads are the portable loop on every target, or the AVX2 register permutes
  of the leaf :mod:`~pstm.kernels.numba_kernel.linear_avx2` where the compile
  target has AVX2 (:mod:`~pstm.kernels.numba_kernel.target`);
* ``taps`` (:mod:`~pstm.kernels.numba_kernel.taps`): float32, every other
  interpolation method and triangle anti-aliasing when no other extended
  option is on; its reads are the portable ones on every target, or the
  register permutes of the leaf :mod:`~pstm.kernels.numba_kernel.taps_permute`
  where the compile target has AVX2 (AVX-512 included);
* ``general`` (:mod:`~pstm.kernels.numba_kernel.general`): float64, every
  option of the reference kernel.

:mod:`~pstm.kernels.numba_kernel.components` holds the ablation kernels the
profile stage times (not a migration path).  The path of the latest call in
this thread, with the instruction set its reads were compiled for, is
:func:`last_path` (each tile records it as ``kernel_path``).
"""

from __future__ import annotations

import threading

import numpy as np

from pstm.kernels.common import KernelParams, PillarSet, TraceGather
from pstm.kernels.numba_kernel import general, linear, taps
from pstm.kernels.numba_kernel.target import compile_target

KERNEL_VERSION = f"{linear.KERNEL_VERSION}+{taps.KERNEL_VERSION}+{general.KERNEL_VERSION}"

#: The paths, by name.
PATHS = ("linear", "taps", "general")

_last = threading.local()


def choose_path(params: KernelParams, pillars: PillarSet | None = None) -> str:
    """Which path computes this migration: ``linear``, ``taps`` or ``general``."""
    if not params.extended_features(pillars):
        return "linear"
    if taps.handles(params, pillars):
        return "taps"
    return "general"


def uses_fast_path(params: KernelParams, pillars: PillarSet | None = None) -> bool:
    """Whether the linear fast path computes this migration."""
    return choose_path(params, pillars) == "linear"


def uses_taps_path(params: KernelParams, pillars: PillarSet | None = None) -> bool:
    """Whether the multi-tap float32 path (interpolation methods, triangle anti-aliasing) computes it."""
    return choose_path(params, pillars) == "taps"


def path_label(path: str, params: KernelParams | None = None) -> str:
    """``path`` with the instruction set its code was compiled for and, where the register permutes read the
    traces, ``+permute``: e.g. ``taps/avx512+permute``, ``linear/avx2+permute``, ``taps/sse2``."""
    if path == "linear":
        permuting = linear.uses_permute_reads()
    elif path == "taps":
        permuting = params is not None and taps.uses_permute_reads(params)
    else:
        permuting = False
    return f"{path}/{compile_target().instruction_set}{'+permute' if permuting else ''}"


def last_path() -> str | None:
    """The labelled path (:func:`path_label`) of the latest call in this thread, or None."""
    return getattr(_last, "path", None)


def migrate(traces: TraceGather, pillars: PillarSet, params: KernelParams, image: np.ndarray, fold: np.ndarray,
            progress=None, **angle_gathers) -> int:
    """Add the Kirchhoff sum of ``traces`` into ``image`` (see :mod:`pstm.kernels.reference`).

    Parameters
    ----------
    traces : TraceGather
        The traces (amplitudes (n_traces, n_samples), source and receiver coordinates in m).
    pillars : PillarSet
        The output pillars (n_pillars) with their output times (n_times, s) and vrms (m/s).
    params : KernelParams
        Imaging options; the path is chosen from them by :func:`choose_path`.
    image, fold : numpy.ndarray
        (n_pillars, n_times) arrays, float32 or float64, added to in place.
    progress : pstm.progress.PillarProgress, optional
        Told between ranges of pillars how far the call has come (every path reports).
    **angle_gathers
        ``angle_image`` and ``angle_fold``, (n_angle_classes, n_pillars, n_times), with
        ``params.angle_classes_deg`` (the general path takes them: the option is an extended feature).

    Returns
    -------
    int
        Contributions summed.
    """
    path = choose_path(params, pillars)
    _last.path = path_label(path, params)
    module = {"linear": linear, "taps": taps, "general": general}[path]
    return module.migrate(traces, pillars, params, image, fold, progress=progress, **angle_gathers)
