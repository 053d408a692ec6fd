"""The ``numba`` kernel: the reference math, compiled and parallel over pillars.

Same contributions as :mod:`pstm.kernels.reference`, computed in float32 with
float32 accumulation per pillar.  What makes it fast (each a measured step, see
``docs/performance.md``):

* **Aperture prefilter.**  Traces whose midpoint is farther from every pillar
  of the tile than the largest aperture are dropped before anything else.
* **Per-pair sample windows** (``sample_window``).  Each (pillar, trace) pair
  visits only output samples from the first one whose time-variant aperture
  can admit the trace to the last one whose traveltime can still land inside
  the trace.  Both ends come from per-pillar lookup tables on a distance grid,
  built so that the window is conservative (it never drops a contribution):
  the start from the running maximum of the aperture, the end from a lower
  bound of the double-square-root time (the DSR time is convex in each leg
  length, so ``t >= 2 * sqrt(t0^2/4 + ((ds + dr)/2)^2 / vrms^2)``).  The window
  is walked in chunks of 16 samples, the AVX-512 vector width, and every
  sample still passes the exact aperture and trace-bounds test, so the window
  only saves work and never changes the image.
* **Per-pair set-up in one vector pass.**  For each (pillar, block of traces)
  a first loop computes every trace's distance, leg lengths and window ends
  (three table gathers) for the whole block, vectorized; the second loop
  walks only the pairs whose window is not empty.  Short windows (short
  records, early times) pay less for the scalar set-up this replaces.
* **A branch-free inner loop** that LLVM vectorizes: ``error_model="numpy"``,
  selects instead of ``if``, a polynomial for the cosine taper, no views and
  no tuple-returning helpers inside ``prange``.
* **Amplitude pairs in one 64-bit gather.**  Each trace is stored as
  ``(a[k], a[k+1] - a[k])`` float32 pairs read as one uint64 and split by bit
  casts, so linear interpolation costs one gather.
* **Tile-local trace sorting** (``trace_sort``): traces in Morton order of
  their midpoints, so a block of consecutive traces is spatially compact and
  a block whose bounding box lies outside a pillar's aperture is skipped.
* **Cache blocking** (``cache_block_traces``): each thread walks its chunk of
  pillars over one block of traces at a time, so the block's samples stay in
  L2 while every pillar of the chunk reads them (0: one block of all traces).
* **Taper split**: the window is walked in two parts; past the sample from
  which the untapered inner aperture covers the trace (a third table), the
  taper polynomial and the aperture test are skipped.
* ``fast_sqrt``: an approximate square root (bit-trick inverse square root and
  two Newton steps, relative error about 5e-6).

Deterministic: each pillar belongs to one thread and sums its traces in one
fixed order whatever the thread count; no atomics, no cross-thread reductions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange
from numba.core import types
from numba.extending import intrinsic

from pstm.kernels.common import (
    KernelParams,
    PillarSet,
    TraceGather,
    aperture_radius,
    padded_trace_limits,
    pillar_ranges,
    taper_and_weight_coefficients,
)
from pstm.kernels.numba_kernel import linear_avx2 as avx2
from pstm.kernels.numba_kernel.target import compile_target

#: Bumped whenever the numerical behaviour of this kernel changes (reruns tiles).
KERNEL_VERSION = "numba-4"

_JIT = dict(fastmath=True, error_model="numpy", cache=True, nogil=True)

#: Samples per inner chunk (the AVX-512 float32 vector width).
CHUNK = 16
#: Pillar chunks per thread (each chunk walks every block of traces over its pillars).
CHUNKS_PER_THREAD = 4
#: Spacing (m) of the distance grid of the window tables.
TABLE_STEP_M = 4.0


# --------------------------------------------------------------------------- bit casts

@intrinsic
def _lo_f32(typingctx, v):
    """Low 32 bits of a uint64 as float32."""
    if not isinstance(v, types.Integer) or v.bitwidth != 64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(builder.trunc(args[0], ir.IntType(32)), ir.FloatType())

    return types.float32(v), codegen


@intrinsic
def _hi_f32(typingctx, v):
    """High 32 bits of a uint64 as float32."""
    if not isinstance(v, types.Integer) or v.bitwidth != 64:
        return None

    def codegen(context, builder, sig, args):
        hi = builder.lshr(args[0], ir.Constant(ir.IntType(64), 32))
        return builder.bitcast(builder.trunc(hi, ir.IntType(32)), ir.FloatType())

    return types.float32(v), codegen


@intrinsic
def _f32_bits(typingctx, x):
    """float32 -> its bits as int32."""
    if x != types.float32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(x), codegen


@intrinsic
def _bits_f32(typingctx, i):
    """Low 32 bits of an integer -> float32."""
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        v = args[0]
        if i.bitwidth != 32:
            v = builder.trunc(v, ir.IntType(32)) if i.bitwidth > 32 else builder.zext(v, ir.IntType(32))
        return builder.bitcast(v, ir.FloatType())

    return types.float32(i), codegen


@njit(**_JIT)
def _approx_sqrt(x):
    """sqrt(x) for x >= 0 from the bit-trick inverse square root and two Newton steps (rel. error ~5e-6)."""
    y = _bits_f32(np.int32(0x5F375A86) - (_f32_bits(x) >> np.int32(1)))
    hx = np.float32(0.5) * x
    y = y * (np.float32(1.5) - hx * y * y)
    y = y * (np.float32(1.5) - hx * y * y)
    return x * y


@njit(**_JIT)
def _dsr(h2, s2, ds2, dr2, fast_sqrt):
    """Double-square-root time sqrt(h2 + ds2 * s2) + sqrt(h2 + dr2 * s2)."""
    if fast_sqrt:
        return _approx_sqrt(h2 + ds2 * s2) + _approx_sqrt(h2 + dr2 * s2)
    return math.sqrt(h2 + ds2 * s2) + math.sqrt(h2 + dr2 * s2)


@njit(**_JIT)
def _taper_poly(x):
    """0.5 * (1 + cos(pi * x)) for x in [0, 1], error < 1e-7 (odd Taylor series of sin)."""
    z = np.float32(math.pi) * (x - np.float32(0.5))
    z2 = z * z
    s = z * (np.float32(1.0) + z2 * (np.float32(-1.0 / 6.0) + z2 * (np.float32(1.0 / 120.0) + z2 * (
        np.float32(-1.0 / 5040.0) + z2 * (np.float32(1.0 / 362880.0) + z2 * np.float32(-1.0 / 39916800.0))))))
    return np.float32(0.5) - np.float32(0.5) * s


# --------------------------------------------------------------------------- preparation

@njit(parallel=True, **_JIT)
def _build_pairs(amplitudes, index, pairs):
    """Row j: (a_pad[k], a_pad[k+1] - a_pad[k]) of zero-padded trace index[j], interleaved float32."""
    n_samples = amplitudes.shape[1]
    for j in prange(index.shape[0]):
        src = amplitudes[index[j]]
        row = pairs[j]
        prev = np.float32(0.0)
        for k in range(n_samples):
            nxt = src[k]
            row[2 * k] = prev
            row[2 * k + 1] = nxt - prev
            prev = nxt
        row[2 * n_samples] = prev
        row[2 * n_samples + 1] = -prev
        row[2 * n_samples + 2] = np.float32(0.0)
        row[2 * n_samples + 3] = np.float32(0.0)


@njit(parallel=True, **_JIT)
def _window_tables(h2, s2, cummax, inner_sufmin, t_hi, step, start_tab, end_tab, taper_tab):
    """Conservative per-pillar window tables on the distance grid d_q = q * step.

    start_tab[p, q]: first sample whose running-maximum aperture reaches d_q (a trace at
    distance >= d_q contributes nothing before it).
    end_tab[p, q]: one past the last sample where ``2 * sqrt(h2 + d_q^2 * s2) < t_hi``; a
    pair whose mean leg length is >= d_q has DSR time >= that bound, so it lands past the
    trace at every sample from there on.
    taper_tab[p, q]: first sample from which the inner (untapered) aperture radius stays
    >= d_q, so a trace at distance <= d_q has taper 1 and passes the aperture test there.
    """
    n_pillars, n_times = cummax.shape
    n_q = start_tab.shape[1]
    limit = t_hi * (1.0 + 1e-5)
    for p in prange(n_pillars):
        i = 0
        for q in range(n_q):
            d = q * step - 1e-3
            while i < n_times and cummax[p, i] < d:
                i += 1
            start_tab[p, q] = i
        last = n_times - 1  # last sample with bound < limit, scanned downward as d grows
        for q in range(n_q):
            d2 = (q * step) ** 2
            while last >= 0 and 2.0 * math.sqrt(h2[p, last] + d2 * s2[p, last]) >= limit:
                last -= 1
            end_tab[p, q] = last + 1
        i = 0
        for q in range(n_q):
            d = q * step + 1e-3
            while i < n_times and inner_sufmin[p, i] < d:
                i += 1
            taper_tab[p, q] = i


@njit(**_JIT)
def _pair_setup(tb0, tb1, x0, y0, amax, pu, mx, my, sx, sy, rx, ry, start_tab, end_tab, taper_tab, inv_step,
                use_window, n_times, w_i0, w_i1, w_ite, w_dist, w_ds2, w_dr2):
    """Per-pair set-up of pillar ``pu`` (at ``x0``, ``y0``; largest aperture ``amax``) with traces ``[tb0, tb1)``.

    One vector pass over the traces writes, for trace ``tb0 + k``: ``w_dist[k]`` midpoint distance (m),
    ``w_ds2[k]``, ``w_dr2[k]`` squared source and receiver leg lengths (m^2), and the window of output
    samples from the tables: ``[w_i0[k], w_i1[k])`` (empty outside the aperture), ``w_ite[k]`` the first
    sample with taper 1.  ``n_times`` (int32) closes the window when ``use_window`` is off.  A function
    of its own so that LLVM vectorizes it whatever the kernel around it.
    """
    n_q1 = np.int64(start_tab.shape[1] - 1)
    for k in range(np.uint64(tb1 - tb0)):
        tr = np.uint64(tb0) + k
        mdx = mx[tr] - x0
        mdy = my[tr] - y0
        dist = math.sqrt(mdx * mdx + mdy * mdy)
        ds2 = (sx[tr] - x0) ** 2 + (sy[tr] - y0) ** 2
        dr2 = (rx[tr] - x0) ** 2 + (ry[tr] - y0) ** 2
        qd = np.int64(dist * inv_step)
        dm = np.float32(0.5) * (math.sqrt(ds2) + math.sqrt(dr2))
        q0 = min(qd, n_q1)
        q1 = min(np.int64(dm * inv_step), n_q1)
        q2 = min(qd + 1, n_q1)
        i0 = start_tab[pu, q0] if use_window else np.int32(0)
        i1 = end_tab[pu, q1] if use_window else n_times
        ite = taper_tab[pu, q2] if use_window and qd + 1 <= n_q1 else n_times
        w_i0[k] = i0
        w_i1[k] = i1 if dist <= amax else i0  # outside the aperture: an empty window
        w_ite[k] = ite
        w_dist[k] = dist
        w_ds2[k] = ds2
        w_dr2[k] = dr2


@njit(**_JIT)
def _largest_block(blocks):
    """Traces in the largest cache block (``blocks``: block starts, then the end)."""
    largest = 0
    for b in range(blocks.shape[0] - 1):
        largest = max(largest, blocks[b + 1] - blocks[b])
    return largest


@njit(**_JIT)
def _block_outside_aperture(bbox, b, x0, y0, amax):
    """Whether the midpoint bounding box of block ``b`` lies wholly outside the aperture ``amax`` of (x0, y0)."""
    zero = np.float32(0.0)
    ddx = max(bbox[b, 0] - x0, x0 - bbox[b, 1], zero)
    ddy = max(bbox[b, 2] - y0, y0 - bbox[b, 3], zero)
    return ddx * ddx + ddy * ddy > amax * amax


def _make_kernel(permute: bool):
    """The parallel sample loop, with the reads compiled for one target.

    ``permute``: the AVX2 register-permute reads of :mod:`~pstm.kernels.numba_kernel.linear_avx2`, eight
    output samples a call, from plain zero-padded trace rows (``samples`` float32, one row per trace);
    else the portable loop, one 64-bit gather of an amplitude pair per sample (``samples`` uint64), which
    LLVM vectorizes for whatever the target has.  ``permute`` is a closure constant: the branch not taken
    is not compiled, so no other target's kernel holds the intrinsic.
    """
    PERMUTE = bool(permute)

    def _migrate(samples, mx, my, sx, sy, rx, ry, blocks, bbox,
                 px, py, a_max, h2, s2, ap, tq, taper_c, wc, wpow, start_tab, end_tab, taper_tab, inv_step,
                 t_lo, inv_dt, t_hi, use_window, fast_sqrt, n_chunks, acc, cnt):
        n_pillars = px.shape[0]
        n_times = acc.shape[1] - CHUNK
        n_blocks = blocks.shape[0] - 1
        # The last pair of a trace (the portable loop) or its sample in the padded row (``PERMUTE``).
        f_max = np.float32(samples.shape[1] - 1 - (avx2.ROW_SLACK if PERMUTE else 0))
        f_lo = t_lo * inv_dt
        t_min = max(t_lo, np.float32(0.0))
        zero = np.float32(0.0)
        one = np.float32(1.0)
        # Weight factors r = 1/t raised to wpow (0, 1 or 2) without branches: (1 + g * (r - 1)) is r or 1.
        g1 = np.float32(1.0) if wpow >= 1 else np.float32(0.0)
        g2 = np.float32(1.0) if wpow >= 2 else np.float32(0.0)
        n_times32 = np.int32(n_times)
        max_block = _largest_block(blocks)
        if PERMUTE:  # flat views and the scalars of the AVX2 leaf
            rows = samples.reshape(-1)
            row_len = np.int64(samples.shape[1])
            n_cols = np.int64(acc.shape[1])
            h2f, s2f, wcf, tqf, apf = h2.reshape(-1), s2.reshape(-1), wc.reshape(-1), tq.reshape(-1), ap.reshape(-1)
            accf, cntf = acc.reshape(-1), cnt.reshape(-1)
            scal = np.empty(8, np.float32)
            scal[0], scal[1], scal[2], scal[3] = inv_dt, f_lo, f_max, t_min
            scal[4], scal[5], scal[6], scal[7] = t_hi, g1, g2, taper_c
        # One parallel region: chunk c owns pillars [p_begin, p_end) and walks every block of
        # traces over all of them, so a block stays in its L2 while its pillars read it.
        for c in prange(n_chunks):
            p_begin = c * n_pillars // n_chunks
            p_end = (c + 1) * n_pillars // n_chunks
            # Per-pair set-up of one (pillar, block), computed for all traces of the block in one vector pass.
            w_i0 = np.empty(max_block, np.int32)
            w_i1 = np.empty(max_block, np.int32)
            w_ite = np.empty(max_block, np.int32)
            w_dist = np.empty(max_block, np.float32)
            w_ds2 = np.empty(max_block, np.float32)
            w_dr2 = np.empty(max_block, np.float32)
            for b in range(n_blocks):
                tb0 = blocks[b]
                tb1 = blocks[b + 1]
                for p in range(p_begin, p_end):
                    x0 = px[p]
                    y0 = py[p]
                    amax = a_max[p]
                    if _block_outside_aperture(bbox, b, x0, y0, amax):
                        continue
                    pu = np.uint64(p)
                    # Pass 1 (vectorized over the block's traces): distance, leg lengths and the window.
                    _pair_setup(tb0, tb1, x0, y0, amax, pu, mx, my, sx, sy, rx, ry, start_tab, end_tab, taper_tab,
                                inv_step, use_window, n_times32, w_i0, w_i1, w_ite, w_dist, w_ds2, w_dr2)
                    # Pass 2: the sample loops of the pairs with a window.
                    for k in range(tb1 - tb0):
                        i0 = np.int64(w_i0[k])
                        i1 = np.int64(w_i1[k])
                        if i1 <= i0:
                            continue
                        i_taper_end = np.int64(w_ite[k])
                        dist = w_dist[k]
                        ds2 = w_ds2[k]
                        dr2 = w_dr2[k]
                        tr = tb0 + k
                        tu = np.uint64(tr)
                        # Part A, [i0, a_end): samples whose taper or aperture test can bite; whole chunks.
                        # Part B, [a_end, i1): taper 1 and aperture passed for every sample; whole chunks.
                        a_end = i0 + (min(i_taper_end, i1) - i0 + CHUNK - 1) // CHUNK * CHUNK
                        if PERMUTE:
                            roff = np.int64(tr) * row_len
                            g0 = np.int64(p) * n_cols
                            for j in range((a_end - i0) // avx2.LANES):
                                avx2.sample_chunk(rows, roff, h2f, s2f, wcf, tqf, apf, accf, cntf,
                                                  g0 + i0 + j * avx2.LANES, ds2, dr2, dist, scal, fast_sqrt, True)
                            n_b = (i1 - a_end + CHUNK - 1) // CHUNK * CHUNK if i1 > a_end else 0
                            for j in range(n_b // avx2.LANES):
                                avx2.sample_chunk(rows, roff, h2f, s2f, wcf, tqf, apf, accf, cntf,
                                                  g0 + a_end + j * avx2.LANES, ds2, dr2, dist, scal, fast_sqrt,
                                                  False)
                        else:
                            i0u = np.uint64(i0)
                            for ii in range(np.uint64(a_end - i0)):
                                i = i0u + ii
                                hh = h2[pu, i]
                                ss = s2[pu, i]
                                t = _dsr(hh, ss, ds2, dr2, fast_sqrt)
                                f = min(max(t * inv_dt - f_lo, zero), f_max)
                                k = np.uint32(f)
                                w = f - np.float32(k)
                                v = samples[tu, k]
                                amp = _lo_f32(v) + w * _hi_f32(v)
                                x = min(max(dist * tq[pu, i] - taper_c, zero), one)
                                r = one / t
                                wt = wc[pu, i] * _taper_poly(x) * (one + g1 * (r - one)) * (one + g2 * (r - one))
                                ok = (dist <= ap[pu, i]) & (t > t_min) & (t < t_hi)
                                acc[pu, i] += amp * wt if ok else zero
                                cnt[pu, i] += one if ok else zero
                            if i1 > a_end:
                                b0u = np.uint64(a_end)
                                n_b = np.uint64((i1 - a_end + CHUNK - 1) // CHUNK * CHUNK)
                                for ii in range(n_b):
                                    i = b0u + ii
                                    t = _dsr(h2[pu, i], s2[pu, i], ds2, dr2, fast_sqrt)
                                    f = min(max(t * inv_dt - f_lo, zero), f_max)
                                    k = np.uint32(f)
                                    w = f - np.float32(k)
                                    v = samples[tu, k]
                                    amp = _lo_f32(v) + w * _hi_f32(v)
                                    r = one / t
                                    wt = wc[pu, i] * (one + g1 * (r - one)) * (one + g2 * (r - one))
                                    ok = (t > t_min) & (t < t_hi)
                                    acc[pu, i] += amp * wt if ok else zero
                                    cnt[pu, i] += one if ok else zero

    return njit(parallel=True, **_JIT)(_migrate)


_KERNELS = {}


def _kernel(permute: bool):
    """The compiled sample loop for ``permute`` (built once per process)."""
    if permute not in _KERNELS:
        _KERNELS[permute] = _make_kernel(permute)
    return _KERNELS[permute]


# --------------------------------------------------------------------------- driver

def _morton_order(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices sorting points along a Morton (Z-order) curve of their bounding box."""
    def spread(v):
        v = v.astype(np.uint64)
        v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF)
        v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F)
        v = (v | (v << np.uint64(2))) & np.uint64(0x33333333)
        v = (v | (v << np.uint64(1))) & np.uint64(0x55555555)
        return v

    def quantize(v):
        lo, hi = float(v.min()), float(v.max())
        return np.clip((v - lo) / max(hi - lo, 1e-9) * 65535.0, 0, 65535).astype(np.uint64)

    code = spread(quantize(x)) | (spread(quantize(y)) << np.uint64(1))
    return np.argsort(code, kind="stable")


def _padded(a: np.ndarray, fill: float, dtype=np.float32) -> np.ndarray:
    """(n_pillars, n_times) -> (n_pillars, n_times + CHUNK) of ``dtype``, the tail filled with ``fill``."""
    out = np.full((a.shape[0], a.shape[1] + CHUNK), fill, dtype)
    out[:, : a.shape[1]] = a
    return out


@dataclass
class TilePrep:
    """What both float32 fast paths (this module and :mod:`pstm.kernels.numba_kernel.taps`) derive per call.

    Traces are in a local frame centred on the pillars (``xc``, ``yc``), reduced to those within the
    largest aperture of the tile (``keep``, Morton-sorted with ``trace_sort``), cut into cache blocks
    (``blocks``, with their midpoint bounding boxes ``bbox``); per pillar: aperture, window tables on
    a distance grid, taper and weight coefficients, padded past ``n_times`` so padding lanes never
    contribute (aperture -1, weight 0, times past the trace).
    """

    keep: np.ndarray
    blocks: np.ndarray
    bbox: np.ndarray
    mx: np.ndarray
    my: np.ndarray
    sx: np.ndarray
    sy: np.ndarray
    rx: np.ndarray
    ry: np.ndarray
    px: np.ndarray
    py: np.ndarray
    a_max: np.ndarray
    vrms: np.ndarray
    h2_pad: np.ndarray
    s2_pad: np.ndarray
    aperture_pad: np.ndarray
    taper_q_pad: np.ndarray
    taper_c: np.float32
    wcoef_pad: np.ndarray
    power: int
    start_tab: np.ndarray
    end_tab: np.ndarray
    taper_tab: np.ndarray
    step: float
    t_lo: float
    t_hi: float

    def geometry_args(self, p: slice = slice(None)) -> tuple:
        """The arguments every fast kernel takes first after its trace samples, in order, for the pillars ``p``."""
        return (self.mx, self.my, self.sx, self.sy, self.rx, self.ry, self.blocks, self.bbox, self.px[p], self.py[p],
                self.a_max[p], self.h2_pad[p], self.s2_pad[p], self.aperture_pad[p], self.taper_q_pad[p],
                self.taper_c)


def prepare_tile(traces: TraceGather, pillars: PillarSet, params: KernelParams, table_dtype=np.int32):
    """Per-call preparation shared by the float32 fast paths; None when nothing can contribute."""
    if traces.n_traces == 0 or pillars.n_pillars == 0 or pillars.n_times == 0:
        return None
    if params.threads:
        numba.set_num_threads(min(int(params.threads), numba.config.NUMBA_NUM_THREADS))
    twt = np.asarray(pillars.twt_s, np.float64)
    vrms = np.asarray(pillars.vrms, np.float64)
    aperture = aperture_radius(vrms, twt, params)
    cummax = np.maximum.accumulate(aperture, axis=1)
    a_max = cummax[:, -1]

    # Local frame centred on the tile, and the aperture prefilter.
    px64 = np.asarray(pillars.x, np.float64)
    py64 = np.asarray(pillars.y, np.float64)
    xc = 0.5 * (px64.min() + px64.max())
    yc = 0.5 * (py64.min() + py64.max())
    mx64 = traces.midpoint_x - xc
    my64 = traces.midpoint_y - yc
    half_x = 0.5 * (px64.max() - px64.min())
    half_y = 0.5 * (py64.max() - py64.min())
    gap_x = np.maximum(np.abs(mx64) - half_x, 0.0)
    gap_y = np.maximum(np.abs(my64) - half_y, 0.0)
    keep = np.flatnonzero(gap_x**2 + gap_y**2 <= (float(a_max.max()) + 1e-3) ** 2)
    if keep.size == 0:
        return None
    if params.trace_sort and keep.size > 1:
        keep = keep[_morton_order(mx64[keep], my64[keep])]
    n_sel = keep.size
    block = int(params.cache_block_traces) if params.cache_block_traces and params.cache_block_traces > 0 else n_sel
    blocks = np.unique(np.minimum(np.arange(0, n_sel + block, block, dtype=np.int64), n_sel))

    f32 = lambda a: np.ascontiguousarray(a, np.float32)  # noqa: E731
    mx = f32(mx64[keep])
    my = f32(my64[keep])
    bbox = np.empty((blocks.size - 1, 4), np.float32)
    for b in range(blocks.size - 1):
        s = slice(blocks[b], blocks[b + 1])
        bbox[b] = (mx[s].min(), mx[s].max(), my[s].min(), my[s].max())

    t_lo, t_hi = padded_trace_limits(traces)
    h2 = (twt / 2.0) ** 2 * np.ones_like(vrms)
    s2 = 1.0 / vrms**2
    # Window tables on a distance grid.
    step = TABLE_STEP_M
    d_top = float(a_max.max()) + float(np.max(np.hypot(traces.source_x - traces.receiver_x,
                                                        traces.source_y - traces.receiver_y))) * 0.5 + step
    n_q = int(math.ceil(d_top / step)) + 2
    start_tab = np.empty((pillars.n_pillars, n_q), table_dtype)
    end_tab = np.empty((pillars.n_pillars, n_q), table_dtype)
    taper_tab = np.empty((pillars.n_pillars, n_q), table_dtype)
    inner = (1.0 - max(params.taper_fraction, 0.0)) * aperture
    inner_sufmin = np.minimum.accumulate(inner[:, ::-1], axis=1)[:, ::-1]
    _window_tables(h2, s2, cummax, np.ascontiguousarray(inner_sufmin), float(t_hi), step, start_tab, end_tab, taper_tab)

    taper_q, taper_c, wcoef, power = taper_and_weight_coefficients(vrms, twt, aperture, params)
    taper_c = np.float32(taper_c)
    return TilePrep(
        keep=keep, blocks=blocks, bbox=bbox, mx=mx, my=my,
        sx=f32(traces.source_x[keep] - xc), sy=f32(traces.source_y[keep] - yc),
        rx=f32(traces.receiver_x[keep] - xc), ry=f32(traces.receiver_y[keep] - yc),
        px=f32(px64 - xc), py=f32(py64 - yc), a_max=f32(a_max), vrms=vrms,
        h2_pad=_padded(h2, float(t_hi) ** 2), s2_pad=_padded(s2, 0.0), aperture_pad=_padded(aperture, -1.0),
        taper_q_pad=_padded(taper_q, 0.0), taper_c=taper_c, wcoef_pad=_padded(wcoef, 0.0), power=power,
        start_tab=start_tab, end_tab=end_tab, taper_tab=taper_tab, step=step, t_lo=float(t_lo), t_hi=float(t_hi),
    )


def uses_permute_reads() -> bool:
    """Whether this path reads by the AVX2 register permutes: whenever the compile target has AVX2, AVX-512
    targets included (measured on Zen 4, the permutes beat the 16-lane gathers too; ``docs/performance.md``)."""
    return compile_target().avx2


def migrate(traces: TraceGather, pillars: PillarSet, params: KernelParams, image: np.ndarray, fold: np.ndarray,
            progress=None, permute: bool | None = None) -> int:
    """Add the Kirchhoff sum of ``traces`` into ``image`` (see :func:`pstm.kernels.reference.migrate`).

    ``image`` and ``fold`` are (n_pillars, n_times) arrays of float32 or float64;
    the kernel accumulates in float32.  With ``progress`` (a :class:`pstm.progress.PillarProgress`) the
    compiled loop runs on ranges of pillars after one preparation and reports after each; every
    pillar's sum is the same as in one call.  ``permute``: read by the AVX2 register permutes
    (:mod:`~pstm.kernels.numba_kernel.linear_avx2`); ``None`` (the default) decides by
    :func:`uses_permute_reads`, ``True`` on a target without AVX2 is a ``ValueError`` (nothing is
    compiled), ``False`` takes the portable loop on any target.
    """
    if params.interpolation != "linear":
        raise ValueError(f"numba kernel: interpolation {params.interpolation!r} is not implemented")
    if permute is None:
        permute = uses_permute_reads()
    elif permute and not compile_target().avx2:
        target = compile_target()
        raise ValueError(f"numba kernel: the register-permute reads of the linear path need AVX2; numba compiles "
                         f"for {target.cpu!r} ({target.instruction_set})")
    prep = prepare_tile(traces, pillars, params, np.int32)
    if prep is None:
        return 0
    n_times = pillars.n_times
    amplitudes = np.ascontiguousarray(traces.amplitudes, np.float32)
    if permute:
        samples = np.zeros((prep.keep.size, traces.n_samples + 2 + avx2.ROW_SLACK), np.float32)
        samples[:, 1:traces.n_samples + 1] = amplitudes[prep.keep]
    else:
        samples = np.empty((prep.keep.size, traces.n_samples + 2), np.uint64)
        _build_pairs(amplitudes, prep.keep.astype(np.int64), samples.view(np.float32))
    kernel = _kernel(permute)
    acc = np.zeros((pillars.n_pillars, n_times + CHUNK), np.float32)
    cnt = np.zeros_like(acc)
    for p in pillar_ranges(pillars.n_pillars, progress):
        # A few pillar chunks per thread, handed out dynamically: robust when other processes share the cores.
        n_chunks = max(1, min(CHUNKS_PER_THREAD * numba.get_num_threads(), p.stop - p.start))
        with numba.parallel_chunksize(1):
            kernel(
                samples, *prep.geometry_args(p), prep.wcoef_pad[p], prep.power, prep.start_tab[p], prep.end_tab[p],
                prep.taper_tab[p], np.float32(1.0 / prep.step), np.float32(prep.t_lo), np.float32(1.0 / traces.dt_s),
                np.float32(prep.t_hi), bool(params.sample_window), bool(params.fast_sqrt), n_chunks, acc[p], cnt[p],
            )
        if progress is not None:
            progress.advance(p.stop - p.start, float(cnt[p, :n_times].sum(dtype=np.float64)))
    image += acc[:, :n_times]
    fold += cnt[:, :n_times]
    return int(cnt[:, :n_times].sum(dtype=np.float64))
