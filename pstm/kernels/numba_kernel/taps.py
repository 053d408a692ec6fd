"""Float32 fast path of the ``numba`` kernel for multi-tap reads: every interpolation method and triangle anti-aliasing.

Same contributions as :mod:`pstm.kernels.reference` (aperture test, ``t > 0``,
``t_first - dt < t < t_first + n_samples * dt`` with zero-padded traces; cosine
taper, spreading and obliquity switchable; fold counts), computed in float32
with float32 accumulation per pillar, for

* ``interpolation`` = nearest, cubic, lanczos3, sinc8, sinc16 (linear without
  anti-aliasing belongs to :mod:`pstm.kernels.numba_kernel.linear`), and
* ``antialias = triangle`` (any interpolation setting: the reference reads the
  trace through the triangle filter then, whatever the interpolation).

Parallel over pillars in one parallel region, as the linear fast path: a few
chunks of pillars per thread, handed out dynamically, each walking every block
of traces (``cache_block_traces``) over its pillars; deterministic whatever the
thread count: each pillar sums its traces in one fixed order, no atomics.  (A
parallel loop per block of traces, as before ``numba-taps-2``, paid a barrier
per block: the triangle filter cost 1.45-1.6x linear then, 1.27-1.30x now.)

How it works.  For each (pillar, block of traces) one vector pass computes every
trace's distance, leg lengths and conservative window of output samples
(``sample_window``, the same tables as the linear fast path).  Then each pair's
window is walked in chunks of 16 samples (the AVX-512 float32 width):

1. *Phase 1*, for every chunk of the pair before any of its reads (so the
   reads never wait on their own square roots), 16 samples at once in generic
   LLVM vector IR (:func:`_chunk_setup`: vectorized on every target, whatever
   LLVM's cost model would make of a loop): double-square-root traveltime,
   padded fractional sample ``f`` split into ``k = floor(f)`` and ``u``,
   validity, and the weight (taper, spreading, obliquity; 0 when invalid);
   for triangle anti-aliasing also ``1/L``.
2. *Phase 2*, the reads.  Portable (every target): one contribution at a
   time, vectorized over its taps: a contiguous load of the amplitudes times
   a row of a weight table of :data:`TABLE_STEPS` + 1 rows read with linear
   interpolation between rows (error below 5e-7), or of hat weights, written
   as generic LLVM vector IR (:mod:`pstm.kernels.numba_kernel.vector_ir`), so
   LLVM cannot turn them into gathers.  On targets with AVX2 (AVX-512
   included: :func:`uses_permute_reads`), chunks whose valid lanes read within
   a 32-sample window take the register-permute reads of
   :mod:`pstm.kernels.numba_kernel.taps_permute` instead (16 lanes at once, no
   gathers).  Which of the two is compiled is a constant of each kernel
   (``permute`` in :func:`_make_kernel`), chosen from the compile target, never
   a run-time flag: no other target ever compiles an x86 intrinsic.
3. *Phase 3*, vectorized: ``image += sum * weight``, ``fold += valid``.

One kernel is compiled per mode, tap count, method and read (closure constants), so
every tap loop has a constant trip count.  Triangle reads pick 4, 6, 8, 16 or 32
taps per chunk, the fewest that cover the chunk's largest half-length.

Nearest interpolation: where ``u`` is within :data:`NEAREST_TIE_EPS` (or
:data:`NEAREST_TIE_REL` times the sample count) of one half, the traveltime is recomputed in float64 exactly as the reference does,
so the choice of sample agrees with it (a float32 rounding would otherwise
flip a whole amplitude).

Triangle anti-aliasing.  The reference reads three points of the causally and
anti-causally integrated trace ``I`` and forms ``-(I(f-L) - 2 I(f) + I(f+L)) / L^2``
with ``I`` linearly interpolated.  The second difference of ``I`` at sample
``n`` is ``-a[n]``, so that expression is exactly the triangle (hat) filter

    ``(1 / L) * sum_n a[n] * max(0, 1 - |n - f| / L)``

of the zero-padded trace (both zero-padded with the same edges).  This path
evaluates the hat sum directly in float32 with at most ``2 * ceil(cap)`` taps
(``cap`` = ``antialias_max_half_length``, at most :data:`MAX_TRIANGLE_CAP`
here), which keeps float32 accuracy: the double integral itself grows like
``n_samples^1.5`` and three float32 reads of it lose about 1e-3.  The
half-length ``L = clip(|grad_m t| * spacing / dt, 1, cap)`` comes from the
operator's time dip as in the reference, computed as
``1/L = vrms^2 dt / spacing * t_s t_r / |(S-P) t_r + (R-P) t_s|`` (one
reciprocal square root, no division).

Speed switches: ``sample_window``, ``trace_sort`` and ``cache_block_traces``
are honoured; ``fast_sqrt`` is refused with ``ValueError``.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange
from numba.core import types
from numba.extending import intrinsic

from pstm.kernels.common import KernelParams, PillarSet, TraceGather, pillar_ranges
from pstm.kernels.interpolation import PAD as REF_PAD
from pstm.kernels.interpolation import TAPS, tap_weights_fast
from pstm.kernels.numba_kernel import taps_permute as permute_reads
from pstm.kernels.numba_kernel.linear import (
    CHUNKS_PER_THREAD,
    _block_outside_aperture,
    _largest_block,
    _padded,
    _pair_setup,
    prepare_tile,
)
from pstm.kernels.numba_kernel.target import compile_target
from pstm.kernels.numba_kernel.vector_ir import VectorMath, is_f32_array, load_vec, reduce_add, splat, vec_intrinsic

#: Bumped whenever the numerical behaviour of this path changes (reruns tiles).
KERNEL_VERSION = "numba-taps-4"

_JIT = dict(fastmath=True, error_model="numpy", cache=True, nogil=True)

#: Samples per inner chunk (the AVX-512 float32 vector width).
CHUNK = 16
#: Rows of the tap-weight tables (minus one); linear interpolation between rows errs below 5e-7.
TABLE_STEPS = 1024
#: Nearest interpolation: |u - 0.5| below max(NEAREST_TIE_EPS, NEAREST_TIE_REL * n_samples) is settled in
#: float64 like the reference (the float32 fractional sample errs by about 3e-7 of itself).
NEAREST_TIE_EPS = 1e-3
NEAREST_TIE_REL = 2e-6
#: Largest triangle half-length cap this path takes (32 taps); larger caps go to the general path.
MAX_TRIANGLE_CAP = 16.0

#: Tap count of each table method in this path (lanczos3 padded to 8).
_TABLE_TAPS = {"cubic": 4, "lanczos3": 8, "sinc8": 8, "sinc16": 16}

_MODE_TABLE = 0
_MODE_NEAREST = 1
_MODE_HAT = 2


# --------------------------------------------------------------------------- helpers

@njit(parallel=True, **_JIT)
def _pad_rows(amplitudes, index, pad, out):
    """out[j] = amplitudes[index[j]] with ``pad`` zeros before (the rest of the row is zero)."""
    n_samples = amplitudes.shape[1]
    for j in prange(index.shape[0]):
        src = amplitudes[index[j]]
        row = out[j]
        for k in range(pad):
            row[k] = np.float32(0.0)
        for k in range(n_samples):
            row[pad + k] = src[k]
        for k in range(pad + n_samples, row.shape[0]):
            row[k] = np.float32(0.0)


# --------------------------------------------------------------------------- tap dot products (explicit vectors)
#
# Written as LLVM vector IR so that the tap loop is one contiguous vector load of the
# amplitudes, one (or two) of the weight row, and a reduction; left to itself, LLVM
# vectorizes the loop over contributions instead, with one gather per tap.  Generic
# LLVM vectors: lowered to AVX-512, AVX2 or SSE, whichever the CPU has.

@intrinsic(prefer_literal=True)
def _dot_table(typingctx, amp, off, table, toff, r, nt):
    """sum_m amp[off + m] * (table[toff + m] + r * table[toff + nt + m]), m < nt (nt a literal)."""
    if not (isinstance(nt, types.IntegerLiteral) and is_f32_array(amp) and is_f32_array(table)):
        return None
    n = nt.literal_value

    def codegen(context, builder, sig, args):
        a = load_vec(context, builder, sig.args[0], args[0], args[1], n)
        w0 = load_vec(context, builder, sig.args[2], args[2], args[3], n)
        toff2 = builder.add(args[3], ir.Constant(args[3].type, n))
        dw = load_vec(context, builder, sig.args[2], args[2], toff2, n)
        fma = vec_intrinsic(builder, "llvm.fmuladd", n, 3)
        w = builder.call(fma, [dw, splat(builder, args[4], n), w0])
        return reduce_add(builder, builder.fmul(a, w), n)

    return types.float32(amp, off, table, toff, types.float32, nt), codegen


@intrinsic(prefer_literal=True)
def _dot_hat(typingctx, amp, off, u, inv_l, nt):
    """sum_m amp[off + m] * max(0, 1 - |m - (nt/2 - 1) - u| * inv_l), m < nt (nt a literal)."""
    if not (isinstance(nt, types.IntegerLiteral) and is_f32_array(amp)):
        return None
    n = nt.literal_value

    def codegen(context, builder, sig, args):
        f32 = ir.FloatType()
        vt = ir.VectorType(f32, n)
        a = load_vec(context, builder, sig.args[0], args[0], args[1], n)
        c = ir.Constant(vt, [float(m - (n // 2 - 1)) for m in range(n)])
        d = builder.fsub(c, splat(builder, args[2], n))
        fabs = vec_intrinsic(builder, "llvm.fabs", n, 1)
        d = builder.call(fabs, [d])
        fma = vec_intrinsic(builder, "llvm.fmuladd", n, 3)
        w = builder.call(fma, [builder.fsub(ir.Constant(vt, [0.0] * n), d), splat(builder, args[3], n),
                               ir.Constant(vt, [1.0] * n)])
        zero = ir.Constant(vt, [0.0] * n)
        w = builder.select(builder.fcmp_ordered(">", w, zero), w, zero)
        return reduce_add(builder, builder.fmul(a, w), n)

    return types.float32(amp, off, types.float32, types.float32, nt), codegen


#: Floats of one chunk's buffer: rows of CHUNK (0 k, 1 1/L or 1, 2 u, 3 weight, 4 valid, 5 tap sum).
BUF = 6 * CHUNK
#: Zeros before the first and after the last padded trace (covers every window of the permute reads).
SLACK = 64


@intrinsic(prefer_literal=True)
def _chunk_setup(typingctx, buf, h2, s2, wc, tq, ap, aa_q, goff, scal, ds2, dr2, dist, legs, tapered, mode):
    """Phase 1 of a chunk: the 16 output samples' fractional sample, weight and validity, into ``buf``.

    Generic LLVM vector IR (<16 x float>; two AVX2 registers, one AVX-512, four SSE), so the loop is
    vectorized on every target whatever LLVM's cost model makes of its square roots (compiled for haswell
    or broadwell, the loop written in numba stayed scalar).  The arithmetic of the reference, in float32.

    Parameters: ``buf`` the chunk buffer (rows of 16: 0 ``k = floor(f)``, 1 ``1/L`` (triangle) or 1,
    2 ``u = f - k``, 3 weight (0 where invalid; triangle: times ``1/L``), 4 valid (1/0)); ``h2``, ``s2``,
    ``wc``, ``tq``, ``ap``, ``aa_q`` flat views of the (n_pillars, n_times + 16) grids (``aa_q`` read only
    for the triangle), first sample at element ``goff``; ``scal`` float32 ``(inv_dt, f_off, f_min, f_max,
    taper_c, t_min, t_hi, g1, g2, inv_cap)``; ``ds2``, ``dr2``, ``dist`` the pair's squared leg lengths
    (m^2) and midpoint distance (m); ``legs`` float32 ``(sx - px, sy - py, rx - px, ry - py)`` (m, read
    only for the triangle); ``tapered`` (literal bool) applies the taper and the aperture test; ``mode``
    (literal int) the kernel's mode.
    """
    arrays = (buf, h2, s2, wc, tq, ap, aa_q, scal, legs)
    if not (all(is_f32_array(a) for a in arrays) and isinstance(tapered, types.BooleanLiteral)
            and isinstance(mode, types.IntegerLiteral)):
        return None
    taper_on = tapered.literal_value
    hat = mode.literal_value == _MODE_HAT
    sig = types.none(buf, h2, s2, wc, tq, ap, aa_q, goff, scal, ds2, dr2, dist, legs, tapered, mode)

    def codegen(context, builder, sig, args):
        b = builder
        v = VectorMath(b, CHUNK)
        ty = sig.args
        i64 = ir.IntType(64)
        goff_v = b.sext(args[7], i64) if args[7].type.width < 64 else args[7]

        def scalars(j, n):
            data = context.make_array(ty[j])(context, b, args[j]).data
            return [b.load(b.gep(data, [ir.Constant(i64, m)])) for m in range(n)]

        def grid(j):
            return load_vec(context, b, ty[j], args[j], goff_v, CHUNK)

        inv_dt, f_off, f_min, f_max, taper_c, t_min, t_hi, g1, g2, inv_cap = (v.splat(x) for x in scalars(8, 10))
        zero, one = v.const(0.0), v.const(1.0)
        t_s, t_r = (v.sqrt(leg) for leg in v.legs(args[9], args[10], grid(1), grid(2)))
        t = b.fadd(t_s, t_r)
        f = v.clip(b.fsub(b.fmul(t, inv_dt), f_off), f_min, f_max)
        fk = b.sitofp(b.fptosi(f, v.it), v.ft)
        u = b.fsub(f, fk)
        taper = (v.splat(args[11]), grid(4), grid(5), taper_c) if taper_on else None
        wt, ok = v.weight_and_validity(t, grid(3), t_min, t_hi, g1, g2, taper)
        if hat:
            # |d t / d midpoint| = |(S-P)/(v^2 t_s) + (R-P)/(v^2 t_r)| = |(S-P) t_r + (R-P) t_s| / (v^2 t_s t_r),
            # so 1/L = v^2 dt / spacing * t_s t_r / |(S-P) t_r + (R-P) t_s|, clipped to [1/cap, 1].
            sdx, sdy, rdx, rdy = (v.splat(x) for x in scalars(12, 4))
            gx = b.call(v.fma, [sdx, t_r, b.fmul(rdx, t_s)])
            gy = b.call(v.fma, [sdy, t_r, b.fmul(rdy, t_s)])
            g2sum = v.max(b.call(v.fma, [gx, gx, b.fmul(gy, gy)]), v.const(1e-30))
            il = b.fmul(b.fmul(b.fdiv(one, v.sqrt(g2sum)), b.fmul(t_s, t_r)), grid(6))
            il = v.clip(il, inv_cap, one)
            rows = (fk, il, u, b.select(ok, b.fmul(wt, il), zero), b.select(ok, one, zero))
        else:
            rows = (fk, one, u, b.select(ok, wt, zero), b.select(ok, one, zero))
        data = context.make_array(ty[0])(context, b, args[0]).data
        for r_idx, value in enumerate(rows):
            ptr = b.gep(data, [ir.Constant(i64, r_idx * CHUNK)])
            b.store(value, b.bitcast(ptr, v.ft.as_pointer()), align=4)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _accumulate(typingctx, acc, cnt, off, buf):
    """acc[off:off+16] += buf[80:96] * buf[48:64]; cnt[off:off+16] += buf[64:80] (explicit vectors)."""
    if not (is_f32_array(acc) and is_f32_array(cnt) and is_f32_array(buf)):
        return None

    def codegen(context, builder, sig, args):
        vt = ir.VectorType(ir.FloatType(), CHUNK)

        def ptr(k, offset):
            data = context.make_array(sig.args[k])(context, builder, args[k]).data
            return builder.bitcast(builder.gep(data, [offset]), vt.as_pointer())

        i64 = ir.IntType(64)
        s = builder.load(ptr(3, ir.Constant(i64, 5 * CHUNK)), align=4)
        w = builder.load(ptr(3, ir.Constant(i64, 3 * CHUNK)), align=4)
        ok = builder.load(ptr(3, ir.Constant(i64, 4 * CHUNK)), align=4)
        pa = ptr(0, args[2])
        fma = vec_intrinsic(builder, "llvm.fmuladd", CHUNK, 3)
        builder.store(builder.call(fma, [s, w, builder.load(pa, align=4)]), pa, align=4)
        pc = ptr(1, args[2])
        builder.store(builder.fadd(builder.load(pc, align=4), ok), pc, align=4)
        return context.get_dummy_value()

    return types.none(acc, cnt, off, buf), codegen


# --------------------------------------------------------------------------- the kernel factory

_KERNELS: dict = {}


def _make_kernel(mode: int, n_taps: int, pcode: int, permute: bool):
    """Compile-time specialized kernel: ``mode`` (table, nearest, hat), ``n_taps``, for table methods the
    polynomial code ``pcode``, and ``permute`` (compile the AVX-512 register-permute reads) are closure
    constants, so the kernel for one target holds no code of another's instruction set."""
    MODE = mode
    PCODE = pcode
    PERMUTE = bool(permute)
    PH1 = permute_reads.first_tap_offset(pcode)  # first polynomial tap sits at k - PH1
    NT = n_taps
    HALF = n_taps // 2
    HM1 = HALF - 1  # tap 0 sits at floor(f) - HM1

    @njit(parallel=True, **_JIT)
    def kernel(amp, width, table, pad, mx, my, sx, sy, rx, ry, blocks, bbox,
               px, py, a_max, h2, s2, ap, tq, taper_c, wc, wpow, start_tab, end_tab, taper_tab, inv_step,
               t_lo, inv_dt, f_off, t_hi, use_window, steps, aa_q, inv_cap,
               sx64, sy64, rx64, ry64, px64, py64, twt64, vrms64, t_first64, dt64,
               n_pillar_chunks, acc, cnt, acc_row):
        n_pillars = px.shape[0]
        n_times = acc_row - CHUNK
        n_times32 = np.int32(n_times)
        n_blocks = blocks.shape[0] - 1
        n_samples = width - 2 * pad - 1
        f_min = np.float32(pad - 1)
        f_max = np.float32(n_samples + pad)
        t_min = max(t_lo, np.float32(0.0))
        zero = np.float32(0.0)
        one = np.float32(1.0)
        half = np.float32(0.5)
        tie_eps = np.float32(max(NEAREST_TIE_EPS, NEAREST_TIE_REL * f_max))
        fsteps = np.float32(steps)
        row = np.uint64(2 * NT)
        max_block = _largest_block(blocks)
        max_chunks = (n_times + CHUNK - 1) // CHUNK + 1
        # flat views of the (pillar, sample) grids and the per-call scalars of phase 1 (_chunk_setup)
        n_cols = np.int64(h2.shape[1])
        h2f, s2f, wcf, tqf, apf, aaqf = (h2.reshape(-1), s2.reshape(-1), wc.reshape(-1), tq.reshape(-1),
                                         ap.reshape(-1), aa_q.reshape(-1))
        scal = np.empty(10, np.float32)
        scal[0], scal[1], scal[2], scal[3], scal[4] = inv_dt, f_off, f_min, f_max, taper_c
        scal[5], scal[6], scal[7], scal[8], scal[9] = t_min, t_hi, one if wpow >= 1 else zero, \
            one if wpow >= 2 else zero, inv_cap
        # One parallel region: pillar chunk pc owns pillars [p_begin, p_end) and walks every block of traces
        # over all of them (the block stays in cache while its pillars read it); chunks are handed
        # out dynamically (the driver sets a chunk size of 1).
        for pc in prange(n_pillar_chunks):
            p_begin = pc * n_pillars // n_pillar_chunks
            p_end = (pc + 1) * n_pillars // n_pillar_chunks
            # one buffer of BUF floats per chunk of a pair's window (rows of CHUNK: 0 k, 1 1/L or 1,
            # 2 u, 3 weight, 4 valid, 5 tap sum)
            bufs = np.zeros(BUF * max_chunks, np.float32)
            legs = np.zeros(4, np.float32)  # the pair's S - P and R - P (triangle)
            # per-pair set-up of one (pillar, block), computed for all traces of the block in one vector pass
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
                    g0 = np.int64(p) * n_cols  # the pillar's first element in the flat grids
                    # pass 1 (vectorized over the block's traces): distance, leg lengths and the window
                    _pair_setup(tb0, tb1, x0, y0, amax, pu, mx, my, sx, sy, rx, ry, start_tab, end_tab, taper_tab,
                                inv_step, use_window, n_times32, w_i0, w_i1, w_ite, w_dist, w_ds2, w_dr2)
                    # pass 2: the sample chunks of the pairs with a window
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
                        if MODE == _MODE_HAT:
                            legs[0], legs[1], legs[2], legs[3] = sx[tr] - x0, sy[tr] - y0, rx[tr] - x0, ry[tr] - y0
                        trow = np.uint64(SLACK) + np.uint64(tr) * np.uint64(width)
                        n_chunks = (i1 - i0 + CHUNK - 1) // CHUNK
                        # phase 1 for every chunk of the pair first: traveltimes, positions, weights, validity
                        # (16 lanes, vector IR), so that no chunk's reads wait on its own square roots
                        for c in range(n_chunks):
                            goff = g0 + i0 + c * CHUNK
                            chunk_buf = bufs[c * BUF: (c + 1) * BUF]
                            if i0 + c * CHUNK < i_taper_end:
                                _chunk_setup(chunk_buf, h2f, s2f, wcf, tqf, apf, aaqf, goff, scal, ds2, dr2, dist,
                                             legs, True, MODE)
                            else:  # past i_taper_end: taper 1, aperture passed (the same without them)
                                _chunk_setup(chunk_buf, h2f, s2f, wcf, tqf, apf, aaqf, goff, scal, ds2, dr2, dist,
                                             legs, False, MODE)
                        for c in range(n_chunks):
                            icu = np.uint64(i0 + c * CHUNK)
                            buf = bufs[c * BUF: (c + 1) * BUF]
                            # phase 2, the reads: on AVX-512 targets a chunk whose valid lanes read within a
                            # 32-sample window takes the register-permute reads (taps_permute); every other chunk,
                            # and every chunk on other targets, one contribution at a time, SIMD over the taps.
                            # PERMUTE is a compile-time constant: the branch not taken is not compiled.
                            if MODE == _MODE_TABLE:
                                info_t = np.int64(-2)
                                if PERMUTE:
                                    info_t = permute_reads.chunk_info(buf, False)
                                    if info_t == -1:
                                        continue  # no valid lane in this chunk
                                    if info_t >= 0:
                                        kbt = (info_t >> 6) - permute_reads.PERM_MARGIN
                                        permute_reads.poly_chunk(amp, trow + np.uint64(kbt - PH1), buf, kbt, PCODE)
                                if info_t < 0:
                                    for la in range(CHUNK):
                                        sta = trow + np.uint64(np.int64(buf[la]) - HM1)
                                        pos = buf[2 * CHUNK + la] * fsteps
                                        ja = np.int64(pos)
                                        buf[5 * CHUNK + la] = _dot_table(amp, sta, table, np.uint64(ja) * row,
                                                                         pos - np.float32(ja), NT)
                            elif MODE == _MODE_NEAREST:
                                if PERMUTE:
                                    info_n = permute_reads.chunk_info(buf, False)
                                    if info_n == -1:
                                        continue  # no valid lane in this chunk
                                    if info_n >= 0:
                                        kbn = (info_n >> 6) - permute_reads.PERM_MARGIN
                                        if permute_reads.nearest_chunk(amp, trow + np.uint64(kbn), buf, kbn, tie_eps) == 0:
                                            _accumulate(acc, cnt, pu * np.uint64(acc_row) + icu, buf)
                                            continue
                                for ln in range(CHUNK):
                                    un = buf[2 * CHUNK + ln]
                                    stn = np.int64(buf[ln])
                                    up = un >= half
                                    if abs(un - half) < tie_eps and buf[4 * CHUNK + ln] > zero:
                                        up = _nearest_up64(sx64[tr], sy64[tr], rx64[tr], ry64[tr], px64[p], py64[p],
                                                           twt64[i0 + c * CHUNK + ln],
                                                           vrms64[p, i0 + c * CHUNK + ln], t_first64, dt64)
                                    buf[5 * CHUNK + ln] = amp[trow + np.uint64(stn + (1 if up else 0))]
                            else:
                                done = False
                                if PERMUTE:
                                    info = permute_reads.chunk_info(buf, True)
                                    if info == -1:
                                        continue  # no valid lane in this chunk
                                    if info >= 0:
                                        kbase = (info >> 6) - permute_reads.PERM_MARGIN
                                        ntap = info & 63
                                        if ntap == 4:
                                            permute_reads.hat_chunk(amp, trow + np.uint64(kbase - 1), buf, kbase, 4)
                                            done = True
                                        elif NT >= 8 and ntap == 6:
                                            permute_reads.hat_chunk(amp, trow + np.uint64(kbase - 2), buf, kbase, 6)
                                            done = True
                                        elif NT >= 8 and ntap == 8:
                                            permute_reads.hat_chunk(amp, trow + np.uint64(kbase - 3), buf, kbase, 8)
                                            done = True
                                        elif NT >= 16 and ntap == 16:
                                            permute_reads.hat_chunk(amp, trow + np.uint64(kbase - 7), buf, kbase, 16)
                                            done = True
                                        elif NT >= 32 and ntap == 32:
                                            permute_reads.hat_chunk(amp, trow + np.uint64(kbase - 15), buf, kbase, 32)
                                            done = True
                                if not done:
                                    for lh in range(CHUNK):
                                        sth = trow + np.uint64(np.int64(buf[lh]) - HM1)
                                        buf[5 * CHUNK + lh] = _dot_hat(amp, sth, buf[2 * CHUNK + lh],
                                                                       buf[CHUNK + lh], NT)
                            # phase 3: accumulate (SIMD)
                            _accumulate(acc, cnt, pu * np.uint64(acc_row) + icu, buf)

    return kernel


@njit(**_JIT)
def _nearest_up64(sx, sy, rx, ry, px, py, t0, vrms, t_first, dt):
    """Whether nearest interpolation takes the later sample, in float64 exactly as the reference computes it."""
    sdx = sx - px
    sdy = sy - py
    rdx = rx - px
    rdy = ry - py
    tau2 = (t0 / 2.0) * (t0 / 2.0)
    v2 = vrms * vrms
    t = math.sqrt(tau2 + (sdx * sdx + sdy * sdy) / v2) + math.sqrt(tau2 + (rdx * rdx + rdy * rdy) / v2)
    f = (t - t_first) / dt + REF_PAD
    u = f - math.floor(f)
    return u >= 0.5


def _kernel(mode: int, n_taps: int, pcode: int, permute: bool):
    key = (mode, n_taps, pcode, permute)
    if key not in _KERNELS:
        _KERNELS[key] = _make_kernel(mode, n_taps, pcode, permute)
    return _KERNELS[key]


def _table(method: str) -> np.ndarray:
    """Tap-weight table of ``method`` in this path's layout: row j = (w(u_j), w(u_{j+1}) - w(u_j)), float32."""
    n = _TABLE_TAPS[method]
    u = np.linspace(0.0, 1.0, TABLE_STEPS + 1)
    u[-1] = 1.0 - 1e-12
    w = tap_weights_fast(method, u).T  # (steps + 1, taps of the method)
    full = np.zeros((TABLE_STEPS + 1, n))
    shift = n // 2 - TAPS[method] // 2  # lanczos3: 6 taps centred in 8
    full[:, shift:shift + w.shape[1]] = w
    out = np.zeros((TABLE_STEPS + 1, 2 * n), np.float32)
    out[:, :n] = full
    out[:-1, n:] = np.diff(full, axis=0)
    return out


def _triangle_taps(cap: float) -> int:
    need = 2 * max(int(math.ceil(cap)), 1)
    for n in (8, 16, 32):
        if need <= n:
            return n
    raise ValueError(f"numba kernel: antialias_max_half_length {cap} exceeds {MAX_TRIANGLE_CAP}")


def handles(params: KernelParams, pillars: PillarSet | None = None) -> bool:
    """Whether this path computes the migration: multi-tap reads or triangle AA, no other extended option."""
    used = params.extended_features(pillars)
    if not used:
        return False  # plain linear: the linear fast path
    for u in used:
        if not (u.startswith("interpolation=") or u == "antialias=triangle"):
            return False
    if params.interpolation not in TAPS:
        return False
    if params.antialias == "triangle" and not (params.antialias_max_half_length <= MAX_TRIANGLE_CAP):
        return False
    return True


# --------------------------------------------------------------------------- driver

def uses_permute_reads(params: KernelParams) -> bool:
    """Whether the multi-tap reads of ``params`` take the register permutes on this compile target: on every
    target with AVX2 (AVX-512 included), for every method.

    Measured with ``benchmarks/interpolation_cost.py`` compiled for haswell on a Zen 4 host (two threads, cost
    per contribution over linear's, ``numba-taps-4``): nearest 1.25-1.35, cubic 1.38-1.39, lanczos3
    1.71-1.75, sinc8 1.91-1.96, sinc16 2.05-2.21, triangle 1.75-1.82 with the permutes; with the portable
    reads (``--taps-reads portable``, the same run's linear) nearest 2.21, cubic 2.10, lanczos3 2.31, sinc8
    2.26, sinc16 2.71, triangle 2.62.  ``params`` is where a future per-method choice would look.
    """
    return compile_target().avx2


def migrate(traces: TraceGather, pillars: PillarSet, params: KernelParams, image: np.ndarray, fold: np.ndarray,
            permute: bool | None = None, progress=None) -> int:
    """Add the Kirchhoff sum of ``traces`` into ``image`` (see :func:`pstm.kernels.reference.migrate`).

    For the options :func:`handles` accepts.  ``image`` and ``fold`` are
    (n_pillars, n_times) arrays of float32 or float64; the kernel accumulates in float32.
    ``permute``: compile and use the register-permute reads; ``None`` (the default) decides by
    :func:`uses_permute_reads`, ``True`` on a target without AVX2 is a ``ValueError`` (nothing is
    compiled), ``False`` takes the portable reads on any target.  With
    ``progress`` the compiled loop runs on ranges of pillars after one preparation (as
    :func:`pstm.kernels.numba_kernel.linear.migrate`).
    """
    if permute is None:
        permute = uses_permute_reads(params)
    elif permute and not compile_target().avx2:
        target = compile_target()
        raise ValueError(f"numba kernel: the register-permute reads need AVX2 or AVX-512; numba compiles for "
                         f"{target.cpu!r} ({target.instruction_set})")
    if params.interpolation not in TAPS:
        raise ValueError(f"numba kernel: unknown interpolation {params.interpolation!r}; valid: {', '.join(TAPS)}")
    if params.antialias not in ("none", "triangle"):
        raise ValueError(f"numba kernel: unknown antialias {params.antialias!r}; valid: none, triangle")
    if params.fast_sqrt:
        raise ValueError("numba kernel: optimization.fast_sqrt is offered only with linear interpolation and no "
                         f"anti-aliasing (here: {', '.join(params.extended_features(pillars)) or 'linear'}); "
                         "set fast_sqrt: false")
    triangle = params.antialias == "triangle"
    if triangle:
        mode, n_taps = _MODE_HAT, _triangle_taps(float(params.antialias_max_half_length))
    elif params.interpolation == "nearest":
        mode, n_taps = _MODE_NEAREST, 2
    elif params.interpolation == "linear":
        raise ValueError("numba kernel (taps path): linear interpolation without anti-aliasing belongs to the "
                         "linear path (pstm.kernels.numba_kernel.linear)")
    else:
        mode, n_taps = _MODE_TABLE, _TABLE_TAPS[params.interpolation]
    prep = prepare_tile(traces, pillars, params, np.int32)
    if prep is None:
        return 0
    n_times = pillars.n_times
    n_sel = prep.keep.size
    vrms = prep.vrms
    keep = prep.keep

    # Zero-padded traces: pad >= half the taps on both sides, one extra zero at the end.
    pad = max(n_taps // 2, 2)
    amplitudes = np.ascontiguousarray(traces.amplitudes, np.float32)
    width = traces.n_samples + 2 * pad + 1
    # slack before the first and after the last trace: the 32-sample windows of the register-permute
    # reads may start before a trace's row or end after it (the values read there get weight 0)
    flat = np.zeros(SLACK + n_sel * width + SLACK, np.float32)
    amp = flat[SLACK: SLACK + n_sel * width].reshape(n_sel, width)
    _pad_rows(amplitudes, keep.astype(np.int64), pad, amp)

    if mode == _MODE_TABLE:
        table = _table(params.interpolation)
    else:
        table = np.zeros((2, 2 * n_taps), np.float32)

    # triangle: 1/L = aa_q * t_s t_r / |(S-P) t_r + (R-P) t_s| with aa_q = vrms^2 dt / spacing (inf: L = 1)
    if mode == _MODE_HAT:
        spacing = float(params.antialias_trace_spacing_m)
        with np.errstate(divide="ignore"):
            q = vrms**2 * traces.dt_s / spacing if spacing > 0 else np.full_like(vrms, np.inf)
        aa_q = _padded(np.minimum(q, 1e30), 1.0)
    else:
        aa_q = np.ones((1, 1), np.float32)
    acc = np.zeros((pillars.n_pillars, n_times + CHUNK), np.float32)
    cnt = np.zeros_like(acc)
    f_off = traces.t_first_s / traces.dt_s - pad
    pcode = permute_reads.POLY_CODES.get(params.interpolation, -1) if mode == _MODE_TABLE else -1
    kernel = _kernel(mode, n_taps, pcode, bool(permute))
    f64 = lambda a: np.ascontiguousarray(a, np.float64)  # noqa: E731
    px64 = f64(pillars.x)
    py64 = f64(pillars.y)
    twt = f64(pillars.twt_s)
    trace_args = (f64(traces.source_x[keep]), f64(traces.source_y[keep]), f64(traces.receiver_x[keep]),
                  f64(traces.receiver_y[keep]))
    twt_pad = _padded(twt[None, :], 0.0, np.float64)[0]
    vrms64 = f64(vrms)
    for p in pillar_ranges(pillars.n_pillars, progress):
        n_pillar_chunks = max(1, min(CHUNKS_PER_THREAD * numba.get_num_threads(), p.stop - p.start))
        with numba.parallel_chunksize(1):
            kernel(
                flat, width, table.ravel(), pad, *prep.geometry_args(p), prep.wcoef_pad[p], prep.power,
                prep.start_tab[p], prep.end_tab[p], prep.taper_tab[p], np.float32(1.0 / prep.step),
                np.float32(prep.t_lo), np.float32(1.0 / traces.dt_s), np.float32(f_off), np.float32(prep.t_hi),
                bool(params.sample_window), TABLE_STEPS,
                aa_q[p] if mode == _MODE_HAT else aa_q,
                np.float32(1.0 / max(float(params.antialias_max_half_length), 1.0)),
                *trace_args, px64[p], py64[p], twt_pad, vrms64[p], float(traces.t_first_s), float(traces.dt_s),
                n_pillar_chunks, acc[p].reshape(-1), cnt[p].reshape(-1), acc.shape[1],
            )
        if progress is not None:
            progress.advance(p.stop - p.start, float(cnt[p, :n_times].sum(dtype=np.float64)))
    image += acc[:, :n_times]
    fold += cnt[:, :n_times]
    return int(cnt[:, :n_times].sum(dtype=np.float64))
