"""AVX2 leaf of the linear path: eight output samples at a time, the trace read by register permutes.

On AVX2 the linear path's cost is its reads: one 64-bit gather per
contribution (``vpgatherqq``, four lanes an instruction) where the rest of the
sample loop is a few vector instructions (measured on the seed workload: the
loop without reads runs 2.5 times as fast).  This leaf replaces the gathers.
The eight output samples ``i .. i+7`` of one (pillar, trace) pair read the
trace at nearly consecutive samples: the traveltime advances at most one input
sample per output sample (``dt/dt0 = t0/4 (1/t_s + 1/t_r) <= 1``), so with
equal sample rates the eight lanes read within eight samples of the first
valid lane's sample ``kb``.  Two contiguous loads of ``a[kb : kb + 16]`` and
``vpermps`` (``llvm.x86.avx2.permps``, a one-register permute) then give every
lane its ``a[k]`` and ``a[k + 1]``: four permutes and two blends instead of
two gathers.  A chunk whose valid lanes do not fit the window (output sampled
more than twice as coarsely as the input, or a velocity that makes the time
fall with t0) reads its lanes one by one: the same numbers, slower.

Compiled into a kernel of :mod:`pstm.kernels.numba_kernel.linear` only when
:func:`pstm.kernels.numba_kernel.target.compile_target` reports AVX2 without
AVX-512 (a closure constant of the kernel, see ``linear._make_kernel``); every
other target compiles the portable loop and never sees ``llvm.x86.avx2.*``.
As a second guard, the intrinsic refuses to type for a target without AVX2.

The arithmetic is the portable loop's, lane for lane: the same DSR time, the
same clipped fractional sample, ``a[k] + w (a[k+1] - a[k])``, the same taper
polynomial and weights, the same tests.
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import intrinsic

from pstm.kernels.numba_kernel.target import compile_target
from pstm.kernels.numba_kernel.vector_ir import VectorMath, is_f32_array, load_vec

#: Output samples per call (the AVX2 float32 width).
LANES = 8
#: Samples of the window two registers hold; a lane reads elements ``k - kb`` and ``k - kb + 1`` of it.
WINDOW = 2 * LANES
#: Zeros a trace row needs past its last sample so that every window load stays inside it.
ROW_SLACK = WINDOW + 1

def _require_avx2() -> None:
    """Refuse (at typing, before any code is generated) to compile the permute reads for another target."""
    target = compile_target()
    if not target.avx2:
        raise TypingError(f"the AVX2 register-permute reads need AVX2; numba compiles for {target.cpu!r} "
                          f"({target.instruction_set}): use the portable loop of pstm.kernels.numba_kernel.linear")


def _permps(builder):
    """Declaration of ``vpermps`` (one-register variable permute of 8 floats)."""
    vt = ir.VectorType(ir.FloatType(), LANES)
    it = ir.VectorType(ir.IntType(32), LANES)
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt, it]), "llvm.x86.avx2.permps")


def _window_reads(context, builder, v, rows_ty, rows, roff, k, ok):
    """``(a[k], a[k + 1])`` of the eight lanes, from row ``rows[roff:]``: permutes of one 16-sample window
    when every valid lane fits it, else one lane at a time (invalid lanes read in-row values, weight 0)."""
    b = builder
    i8, i64 = ir.IntType(8), ir.IntType(64)
    okbits = b.bitcast(ok, i8)
    cttz = cgutils.get_or_insert_function(b.module, ir.FunctionType(i8, [i8, ir.IntType(1)]), "llvm.cttz.i8")
    first = b.call(cttz, [okbits, ir.Constant(ir.IntType(1), 1)])
    kb = b.extract_element(k, first)
    idx = b.sub(k, v.splat(kb))
    outside = b.or_(b.icmp_signed("<", idx, ir.Constant(v.it, [0] * LANES)),
                    b.icmp_signed(">", idx, ir.Constant(v.it, [WINDOW - 2] * LANES)))
    fits = b.icmp_unsigned("==", b.bitcast(b.and_(outside, ok), i8), ir.Constant(i8, 0))
    with b.if_else(fits) as (in_window, lane_by_lane):
        with in_window:
            base = b.add(roff, b.sext(kb, i64))
            lo = load_vec(context, b, rows_ty, rows, base, LANES)
            hi = load_vec(context, b, rows_ty, rows, b.add(base, ir.Constant(i64, LANES)), LANES)
            perm = _permps(b)
            seven = ir.Constant(v.it, [LANES - 1] * LANES)

            def read(j):
                return b.select(b.icmp_signed(">", j, seven), b.call(perm, [hi, j]), b.call(perm, [lo, j]))

            a0_w = read(idx)
            a1_w = read(b.add(idx, ir.Constant(v.it, [1] * LANES)))
            block_w = b.block
        with lane_by_lane:
            data = context.make_array(rows_ty)(context, b, rows).data
            a0_l = ir.Constant(v.ft, ir.Undefined)
            a1_l = ir.Constant(v.ft, ir.Undefined)
            for lane in range(LANES):
                at = ir.Constant(ir.IntType(32), lane)
                ptr = b.gep(data, [b.add(roff, b.sext(b.extract_element(k, at), i64))])
                a0_l = b.insert_element(a0_l, b.load(ptr), at)
                a1_l = b.insert_element(a1_l, b.load(b.gep(ptr, [ir.Constant(i64, 1)])), at)
            block_l = b.block
    a0 = b.phi(v.ft)
    a0.add_incoming(a0_w, block_w)
    a0.add_incoming(a0_l, block_l)
    a1 = b.phi(v.ft)
    a1.add_incoming(a1_w, block_w)
    a1.add_incoming(a1_l, block_l)
    return a0, a1


@intrinsic(prefer_literal=True)
def sample_chunk(typingctx, rows, roff, h2, s2, wc, tq, ap, acc, cnt, goff, ds2, dr2, dist, scalars, fast_sqrt,
                 tapered):
    """Add eight output samples of one (pillar, trace) pair into ``acc`` and ``cnt``, reading by permutes.

    Parameters (all arrays flat float32; ``goff`` is the element of pillar row and first sample in the
    (n_pillars, n_times + pad) grids ``h2``, ``s2``, ``wc`` (weight coefficient), ``tq`` (taper slope),
    ``ap`` (aperture radius, m), ``acc`` and ``cnt``): ``rows`` the zero-padded trace samples, row starting
    at ``roff``; ``ds2``, ``dr2`` squared leg lengths (m^2), ``dist`` midpoint distance (m); ``scalars`` a
    float32 array ``(inv_dt, f_lo, f_max, t_min, t_hi, g1, g2, taper_c)``; ``fast_sqrt`` (bool);
    ``tapered`` (a literal bool): apply the taper and the aperture test (part A of the sample loop).
    """
    _require_avx2()
    arrays = (rows, h2, s2, wc, tq, ap, acc, cnt, scalars)
    if not (all(is_f32_array(a) for a in arrays) and isinstance(tapered, types.BooleanLiteral)):
        return None
    taper_on = tapered.literal_value
    sig = types.none(rows, roff, h2, s2, wc, tq, ap, acc, cnt, goff, ds2, dr2, dist, scalars, fast_sqrt, tapered)

    def codegen(context, builder, sig, args):
        b = builder
        v = VectorMath(b, LANES)
        (rows_v, roff_v, h2_v, s2_v, wc_v, tq_v, ap_v, acc_v, cnt_v, goff_v, ds2_v, dr2_v, dist_v, sc_v,
         fast_v, _) = args
        ty = sig.args
        i64 = ir.IntType(64)
        roff_v = b.sext(roff_v, i64) if roff_v.type.width < 64 else roff_v
        goff_v = b.sext(goff_v, i64) if goff_v.type.width < 64 else goff_v
        sc_data = context.make_array(ty[13])(context, b, sc_v).data
        inv_dt, f_lo, f_max, t_min, t_hi, g1, g2, taper_c = (
            v.splat(b.load(b.gep(sc_data, [ir.Constant(i64, j)]))) for j in range(8))

        def grid(j, arr):
            return load_vec(context, b, ty[j], arr, goff_v, LANES)

        t = v.dsr(ds2_v, dr2_v, grid(2, h2_v), grid(3, s2_v), fast_v)
        f = v.clip(b.fsub(b.fmul(t, inv_dt), f_lo), v.const(0.0), f_max)
        k = b.fptosi(f, v.it)
        w = b.fsub(f, b.sitofp(k, v.ft))
        dist = v.splat(dist_v)
        taper = (dist, grid(5, tq_v), grid(6, ap_v), taper_c) if taper_on else None
        wt, ok = v.weight_and_validity(t, grid(4, wc_v), t_min, t_hi, g1, g2, taper)
        one = v.const(1.0)
        any_ok = b.icmp_unsigned("!=", b.bitcast(ok, ir.IntType(8)), ir.Constant(ir.IntType(8), 0))
        with b.if_then(any_ok):
            a0, a1 = _window_reads(context, b, v, ty[0], rows_v, roff_v, k, ok)
            amp = b.call(v.fma, [w, b.fsub(a1, a0), a0])
            zero = v.const(0.0)
            acc_data = context.make_array(ty[7])(context, b, acc_v).data
            cnt_data = context.make_array(ty[8])(context, b, cnt_v).data
            for data, add in ((acc_data, b.select(ok, b.fmul(amp, wt), zero)), (cnt_data, b.select(ok, one, zero))):
                ptr = b.bitcast(b.gep(data, [goff_v]), v.ft.as_pointer())
                b.store(b.fadd(b.load(ptr, align=4), add), ptr, align=4)
        return context.get_dummy_value()

    return sig, codegen
