"""Register-permute reads of the multi-tap path, for AVX-512 and for AVX2.

Compiled into a kernel of :mod:`pstm.kernels.numba_kernel.taps` only when
:func:`pstm.kernels.numba_kernel.target.compile_target` reports AVX2 or AVX-512
and :func:`pstm.kernels.numba_kernel.taps.uses_permute_reads` chooses them for
the method (a compile-time constant of the kernel, see ``taps._make_kernel``);
every other target compiles the portable reads of ``taps`` instead and never
sees ``llvm.x86.*``.  Which instructions read the window is chosen here when
the IR is generated, from the compile target: :func:`_window_avx512` (one
``vpermt2ps`` of two 16-sample registers) or :func:`_window_avx2` (per eight
lanes, four ``vpermps`` of the four 8-sample registers and three selects).  As a
second guard, each intrinsic refuses to type for a target without AVX2, so a
future caller that forgets the choice fails to compile with that message
instead of aborting inside LLVM.

How the reads work: when every valid lane of a 16-sample chunk reads within
32 samples of the first valid lane's sample (nearly always: the traveltime
advances at most about one input sample per output sample), each tap of the
16 lanes is read from a 32-sample window loaded contiguously from the
zero-padded trace: no gathers.  Tap weights are computed for the 16 lanes at
once: polynomials in ``x = 2u - 1`` shared by mirror taps (cubic exactly; lanczos3,
sinc8, sinc16 by Chebyshev fits, the outer taps as ``sin(pi u)`` times a polynomial
of low degree, error below 5e-7 of a weight: :class:`TapPolynomials`) or the
triangle's hat weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import intrinsic

from pstm.kernels.interpolation import TAPS, tap_weights_fast
from pstm.kernels.numba_kernel.target import compile_target
from pstm.kernels.numba_kernel.vector_ir import is_f32_array, load_vec, splat, tree_sum, vec_intrinsic

#: Samples per chunk: the AVX-512 float32 width (as ``taps.CHUNK``).
CHUNK = 16
#: Window margin of the register-permute reads: lanes may start this many samples before the first valid lane.
PERM_MARGIN = 4


def _require_permute() -> None:
    """Refuse (at typing, before any code is generated) to compile the permute reads for a target without AVX2."""
    target = compile_target()
    if not target.avx2:
        raise TypingError(f"the register-permute reads need AVX2 or AVX-512; numba compiles for {target.cpu!r} "
                          f"({target.instruction_set}): use the portable reads of pstm.kernels.numba_kernel.taps")


def _window_avx512(context, b, arrty, amp, off, lanes):
    """AVX-512: element ``lanes[l]`` (0..31) of ``amp[off : off + 32]`` for 16 lanes: one ``vpermt2ps``."""
    vt = ir.VectorType(ir.FloatType(), CHUNK)
    perm = cgutils.get_or_insert_function(b.module, ir.FunctionType(vt, [vt, lanes.type, vt]),
                                          "llvm.x86.avx512.vpermi2var.ps.512")
    lo = load_vec(context, b, arrty, amp, off, CHUNK)
    hi = load_vec(context, b, arrty, amp, b.add(off, ir.Constant(off.type, CHUNK)), CHUNK)
    return b.call(perm, [lo, lanes, hi])


def _window_avx2(context, b, arrty, amp, off, lanes, half_offset):
    """AVX2: element ``lanes[l]`` (0..31) of ``amp[off : off + 32]`` for 16 lanes, as two halves of eight.

    Half h reads the 16-sample window ``amp[off + d_h : off + d_h + 16]`` (``d_0 = 0``, ``d_1 = half_offset``,
    where its own first valid lane reads; :func:`chunk_info` checks that every valid lane fits its half's
    window): two ``vpermps`` of its two 8-sample registers and one select by bit 3 of ``lanes[l] - d_h``.
    """
    i32 = ir.IntType(32)
    it8 = ir.VectorType(i32, 8)
    ft8 = ir.VectorType(ir.FloatType(), 8)
    perm = cgutils.get_or_insert_function(b.module, ir.FunctionType(ft8, [ft8, it8]), "llvm.x86.avx2.permps")
    seven = ir.Constant(it8, [7] * 8)
    halves = []
    for h, d in enumerate((None, half_offset)):
        idx = b.shuffle_vector(lanes, lanes, ir.Constant(it8, list(range(8 * h, 8 * h + 8))))
        start = off
        if d is not None:
            idx = b.sub(idx, splat(b, d, 8))
            start = b.add(off, b.sext(d, off.type))
        lo = load_vec(context, b, arrty, amp, start, 8)
        hi = load_vec(context, b, arrty, amp, b.add(start, ir.Constant(off.type, 8)), 8)
        halves.append(b.select(b.icmp_signed(">", idx, seven), b.call(perm, [hi, idx]), b.call(perm, [lo, idx])))
    return b.shuffle_vector(halves[0], halves[1], ir.Constant(ir.VectorType(i32, 16), list(range(16))))


def _window_avx2_narrow(context, b, arrty, amp, off, lanes, offsets):
    """AVX2, when each half's valid lanes read within eight samples of its first valid lane (nearly always):
    half h takes element ``lanes[l] - d_h`` (0..7) of ``amp[off + d_h : off + d_h + 8]`` (``offsets`` = d_0, d_1),
    one ``vpermps`` of one register."""
    i32 = ir.IntType(32)
    it8 = ir.VectorType(i32, 8)
    ft8 = ir.VectorType(ir.FloatType(), 8)
    perm = cgutils.get_or_insert_function(b.module, ir.FunctionType(ft8, [ft8, it8]), "llvm.x86.avx2.permps")
    halves = []
    for h, d in enumerate(offsets):
        idx = b.sub(b.shuffle_vector(lanes, lanes, ir.Constant(it8, list(range(8 * h, 8 * h + 8)))), splat(b, d, 8))
        reg = load_vec(context, b, arrty, amp, b.add(off, b.sext(d, off.type)), 8)
        halves.append(b.call(perm, [reg, idx]))
    return b.shuffle_vector(halves[0], halves[1], ir.Constant(ir.VectorType(i32, 16), list(range(16))))


def _first_valid_in_half(b, vbits, value_at, half, fallback):
    """``value_at(lane)`` of the first valid lane among lanes ``8 half .. 8 half + 7`` (``vbits``: the 16 valid
    bits), else ``fallback``.  ``value_at`` takes the lane as an i16 value (a scalar read of the chunk buffer:
    an element of a vector register at a variable index would go through the stack)."""
    i16 = ir.IntType(16)
    bits = b.and_(b.lshr(vbits, ir.Constant(i16, 8 * half)), ir.Constant(i16, 0xFF))
    cttz = cgutils.get_or_insert_function(b.module, ir.FunctionType(i16, [i16, ir.IntType(1)]), "llvm.cttz.i16")
    lane = b.add(ir.Constant(i16, 8 * half),
                 b.call(cttz, [b.or_(bits, ir.Constant(i16, 0x80)), ir.Constant(ir.IntType(1), 1)]))
    return b.select(b.icmp_unsigned("!=", bits, ir.Constant(i16, 0)), value_at(lane), fallback)


def _buffer_lane(builder, data, lane):
    """``data[lane]`` (float), ``lane`` an i16 value."""
    return builder.load(builder.gep(data, [builder.zext(lane, ir.IntType(64))]))


class _ChunkIR:
    """IR of one chunk's register-permute reads: the chunk buffer's rows, the windows, the sums.

    For an intrinsic with arguments ``(amp, wstart, buf, kbase, ...)``: ``row(r)`` is ``buf[16 r : 16 r + 16]``,
    ``tap(m)`` the 16 lanes' samples ``amp[wstart + m + k_l - kbase]`` (read by the window of :meth:`emit`'s
    choosing: :func:`_window_avx512`, :func:`_window_avx2_narrow` or :func:`_window_avx2`), ``store_sums(v)``
    writes ``v`` to ``buf[80:96]``.
    """

    def __init__(self, context, builder, sig, args, lanes=None, window=None):
        self.context, self.builder, self.sig, self.args = context, builder, sig, args
        self.vt = ir.VectorType(ir.FloatType(), CHUNK)
        self.i64 = ir.IntType(64)
        self.buf = context.make_array(sig.args[2])(context, builder, args[2]).data
        self.lanes = lanes  # k_l - kbase: each lane's element of the window (16 x i32)
        self.window = window  # (window function, its trailing arguments)

    @classmethod
    def emit(cls, context, builder, sig, args, body):
        """Call ``body(chunk)`` to generate a chunk's reads: once on AVX-512; on AVX2 twice, behind a branch on
        whether each half's valid lanes read within eight samples of its first valid lane (then one ``vpermps``
        a tap and half, :func:`_window_avx2_narrow`; else the 16-sample windows of :func:`_window_avx2`)."""
        b = builder
        probe = cls(context, b, sig, args)
        kbase = args[3]
        i32 = ir.IntType(32)
        it = ir.VectorType(i32, CHUNK)
        kb = b.trunc(kbase, i32) if kbase.type.width > 32 else kbase
        lanes = b.sub(b.fptosi(probe.row(0), it), splat(b, kb, CHUNK))
        if compile_target().avx512:
            body(cls(context, b, sig, args, lanes, (_window_avx512, ())))
            return
        valid = b.fcmp_ordered(">", probe.row(4), probe.const(0.5))
        vbits = b.bitcast(valid, ir.IntType(16))

        def lane_of(lane):  # k_l - kbase of one lane, read from row 0 of the buffer
            return b.sub(b.fptosi(_buffer_lane(b, probe.buf, lane), i32), kb)

        d0 = _first_valid_in_half(b, vbits, lane_of, 0, ir.Constant(i32, 0))
        d1 = _first_valid_in_half(b, vbits, lane_of, 1, ir.Constant(i32, 0))
        rel = b.sub(lanes, b.shuffle_vector(splat(b, d0, CHUNK), splat(b, d1, CHUNK),
                                            ir.Constant(it, list(range(8)) + list(range(CHUNK + 8, 2 * CHUNK)))))
        outside = b.or_(b.icmp_signed("<", rel, ir.Constant(it, [0] * CHUNK)),
                        b.icmp_signed(">", rel, ir.Constant(it, [7] * CHUNK)))
        fits = b.icmp_unsigned("==", b.bitcast(b.and_(outside, valid), ir.IntType(16)), ir.Constant(ir.IntType(16), 0))
        with b.if_else(fits) as (narrow, wide):
            with narrow:
                body(cls(context, b, sig, args, lanes, (_window_avx2_narrow, ((d0, d1),))))
            with wide:  # the second half's 16-sample window starts PERM_MARGIN before its first valid lane
                first1 = _first_valid_in_half(b, vbits, lane_of, 1, ir.Constant(i32, PERM_MARGIN))
                offset1 = b.sub(first1, ir.Constant(i32, PERM_MARGIN))
                body(cls(context, b, sig, args, lanes, (_window_avx2, (offset1,))))

    def const(self, value):
        return ir.Constant(self.vt, [value] * CHUNK)

    def row(self, r):
        ptr = self.builder.gep(self.buf, [ir.Constant(self.i64, r * CHUNK)])
        return self.builder.load(self.builder.bitcast(ptr, self.vt.as_pointer()), align=4)

    def tap(self, m):
        b, (amp, wstart) = self.builder, self.args[:2]
        window, extra = self.window
        off = b.add(wstart, ir.Constant(wstart.type, m))
        return window(self.context, b, self.sig.args[0], amp, off, self.lanes, *extra)

    def store_sums(self, value):
        ptr = self.builder.gep(self.buf, [ir.Constant(self.i64, 5 * CHUNK)])
        self.builder.store(value, self.builder.bitcast(ptr, self.vt.as_pointer()), align=4)


@intrinsic(prefer_literal=True)
def chunk_info(typingctx, buf, classes):
    """Where the valid lanes of a chunk read, from vector masks (no reductions over floats).

    Returns -1 when no lane is valid; -2 when some valid lane's sample ``k`` lies outside
    ``[kb - PERM_MARGIN, kb - PERM_MARGIN + 32)`` with ``kb`` the first valid lane's ``k`` (on AVX2: outside
    ``[kb_h - PERM_MARGIN, kb_h - PERM_MARGIN + 16)`` with ``kb_h`` the first valid ``k`` of its half of
    eight lanes; the caller then reads one contribution at a time); else ``kb * 64 + n`` where n taps (4, 6, 8, 16 or 32)
    cover every valid lane's half-length L (``2 * ceil(L) <= n``) where ``classes`` (a literal bool: the
    triangle), else 0 taps.
    """
    if not (is_f32_array(buf) and isinstance(classes, types.BooleanLiteral)):
        return None
    tap_classes = classes.literal_value

    def codegen(context, builder, sig, args):
        f32 = ir.FloatType()
        i16 = ir.IntType(16)
        i64 = ir.IntType(64)
        vt = ir.VectorType(f32, CHUNK)
        barr = context.make_array(sig.args[0])(context, builder, args[0]).data

        def load(r):
            return builder.load(builder.bitcast(builder.gep(barr, [ir.Constant(i64, r)]), vt.as_pointer()), align=4)

        def bits(mask):
            return builder.bitcast(mask, i16)

        kv = load(0)
        il = load(CHUNK)
        valid = builder.fcmp_ordered(">", load(4 * CHUNK), ir.Constant(vt, [0.5] * CHUNK))
        vbits = bits(valid)
        result = cgutils.alloca_once_value(builder, ir.Constant(i64, -1))
        with builder.if_then(builder.icmp_unsigned("!=", vbits, ir.Constant(i16, 0))):
            cttz = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i16, [i16, ir.IntType(1)]),
                                                  "llvm.cttz.i16")
            first = builder.call(cttz, [vbits, ir.Constant(ir.IntType(1), 1)])
            kb = _buffer_lane(builder, barr, first)
            lo = builder.fsub(kb, ir.Constant(f32, float(PERM_MARGIN)))
            if compile_target().avx512:  # one 32-sample window
                lo_v = splat(builder, lo, CHUNK)
                hi_v = builder.fadd(lo_v, ir.Constant(vt, [31.0] * CHUNK))
            else:  # a 16-sample window per half of eight lanes, from the half's first valid lane
                first1 = _first_valid_in_half(builder, vbits, lambda lane: _buffer_lane(builder, barr, lane), 1, kb)
                lo1 = builder.fsub(first1, ir.Constant(f32, float(PERM_MARGIN)))
                lo_v = builder.shuffle_vector(splat(builder, lo, CHUNK), splat(builder, lo1, CHUNK),
                                              ir.Constant(ir.VectorType(ir.IntType(32), CHUNK),
                                                          list(range(8)) + list(range(CHUNK + 8, 2 * CHUNK))))
                hi_v = builder.fadd(lo_v, ir.Constant(vt, [15.0] * CHUNK))
            out = builder.or_(builder.fcmp_ordered("<", kv, lo_v), builder.fcmp_ordered(">", kv, hi_v))
            bad = builder.and_(bits(out), vbits)
            cls = ir.Constant(i64, 32 if tap_classes else 0)
            limits = ((16, 0.125), (8, 0.25), (6, float(np.float32(1.0 / 3.0))), (4, 0.5)) if tap_classes else ()
            for c, limit in limits:
                small = builder.fcmp_ordered(">=", il, ir.Constant(vt, [limit] * CHUNK))
                fits = builder.icmp_unsigned("==", builder.and_(bits(small), vbits), vbits)
                cls = builder.select(fits, ir.Constant(i64, c), cls)
            code = builder.add(builder.mul(builder.fptosi(kb, i64), ir.Constant(i64, 64)), cls)
            builder.store(builder.select(builder.icmp_unsigned("!=", bad, ir.Constant(i16, 0)),
                                         ir.Constant(i64, -2), code), result)
        return builder.load(result)

    return types.int64(buf, classes), codegen


@intrinsic(prefer_literal=True)
def hat_chunk(typingctx, amp, wstart, buf, kbase, nt):
    """Hat-filter tap sums of the 16 lanes of a chunk by register permutes (register permutes).

    Lane l (``k_l = buf[l]``, ``1/L = buf[16 + l]``, ``u_l = buf[32 + l]``) reads its tap m, m < nt, at
    sample ``k_l - (nt/2 - 1) + m``: element ``k_l - kbase`` of the 32-sample window
    ``amp[wstart + m : wstart + m + 32]`` (``wstart`` = ``kbase - (nt/2 - 1)`` in the trace), so every
    tap is a permute of two registers loaded contiguously; the caller guarantees
    ``0 <= k_l - kbase < 32`` for every valid lane (others read garbage with weight 0).  Writes the 16
    sums to ``buf[80:96]``.
    """
    _require_permute()
    if not (isinstance(nt, types.IntegerLiteral) and is_f32_array(amp) and is_f32_array(buf)):
        return None
    n = nt.literal_value

    def codegen(context, builder, sig, args):
        def body(chunk):
            fma = vec_intrinsic(builder, "llvm.fmuladd", CHUNK, 3)
            inv_l = chunk.row(1)
            u_il = builder.fmul(chunk.row(2), inv_l)
            left = builder.fsub(chunk.const(1.0), u_il)   # weight of a tap at offset c <= 0 from k: (1 - u/L) + c/L
            right = builder.fadd(chunk.const(1.0), u_il)  # offset c >= 1: (1 + u/L) - c/L
            zero = chunk.const(0.0)
            products = []
            for m in range(n):
                c = m - (n // 2 - 1)
                w = builder.call(fma, [chunk.const(float(c)), inv_l, left]) if c <= 0 else \
                    builder.call(fma, [chunk.const(float(-c)), inv_l, right])
                w = builder.select(builder.fcmp_ordered(">", w, zero), w, zero)  # max(w, 0): one vmaxps
                products.append(builder.fmul(chunk.tap(m), w))
            chunk.store_sums(tree_sum(builder, products))

        _ChunkIR.emit(context, builder, sig, args, body)
        return context.get_dummy_value()

    return types.none(amp, wstart, buf, kbase, nt), codegen


#: Table methods of the register-permute reads (their integer codes inside compiled kernels).
POLY_CODES = {name: code for code, name in enumerate(("cubic", "lanczos3", "sinc8", "sinc16"))}
#: Largest error of a tap weight the fitted polynomials may make, evaluated in float32 as the kernel does.
POLY_TOLERANCE = 3e-7


@dataclass(frozen=True)
class TapPolynomials:
    """A table method's tap weights as polynomials of the 16 lanes' ``x = 2 u - 1``, for :func:`poly_chunk`.

    The kernels are symmetric (tap ``n-1-m`` at ``u`` weighs what tap ``m`` weighs at ``1 - u``, i.e. at
    ``-x``), so mirror taps share polynomials: with ``y = x^2``, tap ``m`` weighs ``s (E_m(y) + x O_m(y))``
    and tap ``n-1-m`` weighs ``s (E_m(y) - x O_m(y))``, where ``s`` is 1 for a *direct* pair and
    ``sin(pi u)`` for a *scaled* one.  A windowed sinc's outer taps are ``sin(pi u)`` times a smooth,
    non-oscillating function of ``u`` (``sin(pi (j - u)) = +-sin(pi u)``), which a polynomial of degree 3-5
    fits where the weight itself needs 7-9; the two central taps (where ``sin(pi u)`` vanishes and the
    weight does not) stay direct.

    Attributes
    ----------
    pairs : tuple of (even, odd, scaled)
        Per mirror pair ``m`` (taps ``m`` and ``n-1-m``), ascending float32 coefficients of ``E_m`` and
        ``O_m`` in ``y``, and whether it is scaled.
    sine : tuple of float
        Ascending float32 coefficients of ``sin(pi u)`` in ``y`` (empty when no pair is scaled).
    """

    pairs: tuple
    sine: tuple

    @property
    def n_taps(self) -> int:
        return 2 * len(self.pairs)

    @property
    def n_fma(self) -> int:
        """Fused multiply-adds of the polynomials per lane (the cost this fit minimises)."""
        return sum(len(e) + len(o) - 2 for e, o, _ in self.pairs) + max(len(self.sine) - 1, 0)

    def weights(self, u: np.ndarray) -> np.ndarray:
        """The weights (n_taps, len(u)) evaluated in float32 by the kernel's scheme (Horner in ``y``)."""
        x = (2.0 * np.asarray(u, np.float32) - np.float32(1.0)).astype(np.float32)
        y = x * x
        sine = _horner32(self.sine, y) if self.sine else np.float32(1.0)
        out = np.zeros((self.n_taps, x.size), np.float32)
        for m, (even, odd, scaled) in enumerate(self.pairs):
            e, o = _horner32(even, y), x * _horner32(odd, y)
            scale = sine if scaled else np.float32(1.0)
            out[m], out[self.n_taps - 1 - m] = scale * (e + o), scale * (e - o)
        return out


def _horner32(coeffs, y):
    acc = np.full_like(y, np.float32(coeffs[-1]))
    for c in coeffs[-2::-1]:
        acc = (acc * y + np.float32(c)).astype(np.float32)
    return acc


def _even_odd(power_coeffs) -> tuple:
    """Power-series coefficients in x (ascending) as float32 (even, odd) coefficient tuples in y = x^2."""
    c = [float(np.float32(v)) for v in power_coeffs]
    return tuple(c[0::2]), tuple(c[1::2]) or (0.0,)


def _tap_polynomials(method: str) -> TapPolynomials:
    """Fit ``method``'s weights (:func:`pstm.kernels.interpolation.tap_weights_fast`): per mirror pair the
    cheapest of a direct or a ``sin(pi u)``-scaled Chebyshev least-squares fit whose float32 evaluation errs
    below :data:`POLY_TOLERANCE` (the cubic is exact at degree 3), and the scaled pairs only where they cost
    fewer multiply-adds in all, ``sin(pi u)`` included."""
    from numpy.polynomial import chebyshev

    u = np.linspace(0.0, 1.0, 20001)[1:-1]
    x = 2.0 * u - 1.0
    w = tap_weights_fast(method, u)
    n = w.shape[0]
    sine = np.sin(np.pi * u)
    sine_coeffs = next(e for d in range(2, 16, 2)
                       for e, _ in [_even_odd(chebyshev.cheb2poly(chebyshev.chebfit(x, sine, d)))]
                       if np.abs(_horner32(e, (x * x).astype(np.float32)) - sine).max() < 2e-7)

    def cheapest(m, scaled):
        target = w[m] / sine if scaled else w[m]
        for deg in range(1, 14):
            even, odd = _even_odd(chebyshev.cheb2poly(chebyshev.chebfit(x, target, deg)))
            fit = TapPolynomials(((even, odd, scaled),), sine_coeffs if scaled else ())
            err = np.abs(fit.weights(u) - w[[m, n - 1 - m]]).max()
            if err < POLY_TOLERANCE:
                return even, odd, scaled
        return None

    direct = TapPolynomials(tuple(cheapest(m, False) for m in range(n // 2)), ())
    if any(p is None for p in direct.pairs):
        raise ValueError(f"no polynomial of degree below 14 fits {method} within {POLY_TOLERANCE}")
    mixed_pairs = []
    for m, d in enumerate(direct.pairs):
        s = cheapest(m, True)
        mixed_pairs.append(s if s is not None and len(s[0]) + len(s[1]) < len(d[0]) + len(d[1]) else d)
    mixed = TapPolynomials(tuple(mixed_pairs), sine_coeffs if any(p[2] for p in mixed_pairs) else ())
    return mixed if mixed.n_fma < direct.n_fma else direct


class _LazyPolynomials(dict):
    """``{code: TapPolynomials}`` fitted on first use (only compilation needs them; cached kernels do not)."""

    def __missing__(self, code):
        name = next(n for n, c in POLY_CODES.items() if c == code)
        self[code] = _tap_polynomials(name)
        return self[code]


_POLY = _LazyPolynomials()


def first_tap_offset(code: int) -> int:
    """Samples before ``floor(f)`` of the first tap of table method ``code`` (0 for no method, ``code`` < 0)."""
    if code < 0:
        return 0
    name = next(n for n, c in POLY_CODES.items() if c == code)
    return TAPS[name] // 2 - 1


@intrinsic(prefer_literal=True)
def poly_chunk(typingctx, amp, wstart, buf, kbase, code):
    """Tap sums of the 16 lanes of a chunk for a table method by register permutes (register permutes).

    Like :func:`hat_chunk`, with the method's own taps (``n`` of them, tap m at sample
    ``k_l - (n/2 - 1) + m``) and weights from per-tap polynomials in ``x = 2 u - 1`` (``u_l = buf[32 + l]``),
    evaluated for the 16 lanes at once, split into even and odd parts so that each pair of mirror taps
    costs one polynomial.  Writes the 16 sums to ``buf[80:96]``.
    """
    _require_permute()
    if not (isinstance(code, types.IntegerLiteral) and is_f32_array(amp) and is_f32_array(buf)):
        return None
    poly = _POLY[code.literal_value]
    n = poly.n_taps

    def codegen(context, builder, sig, args):
        def body(chunk):
            fma = vec_intrinsic(builder, "llvm.fmuladd", CHUNK, 3)
            x = builder.fsub(builder.fmul(chunk.row(2), chunk.const(2.0)), chunk.const(1.0))
            y = builder.fmul(x, x)

            def horner(cs):
                acc = chunk.const(cs[-1])
                for cc in cs[-2::-1]:
                    acc = builder.call(fma, [acc, y, chunk.const(cc)])
                return acc

            def add_product(sums, key, a, b):
                sums[key] = builder.fmul(a, b) if key not in sums else builder.call(fma, [a, b, sums[key]])

            # sum over pairs of E (a_m + a_n-1-m) + x O (a_m - a_n-1-m), the scaled pairs' sum times sin(pi u)
            sums = {}
            for m, (even, odd, scaled) in enumerate(poly.pairs):
                near, far = chunk.tap(m), chunk.tap(n - 1 - m)
                add_product(sums, (scaled, "even"), horner(even), builder.fadd(near, far))
                add_product(sums, (scaled, "odd"), horner(odd), builder.fsub(near, far))
            direct, scaled = (builder.call(fma, [x, sums[(kind, "odd")], sums[(kind, "even")]])
                              if (kind, "even") in sums else None for kind in (False, True))
            if scaled is None:
                chunk.store_sums(direct)
            elif direct is None:
                chunk.store_sums(builder.fmul(horner(poly.sine), scaled))
            else:
                chunk.store_sums(builder.call(fma, [horner(poly.sine), scaled, direct]))

        _ChunkIR.emit(context, builder, sig, args, body)
        return context.get_dummy_value()

    return types.none(amp, wstart, buf, kbase, code), codegen


@intrinsic
def nearest_chunk(typingctx, amp, wstart, buf, kbase, eps):
    """Nearest-sample reads of the 16 lanes of a chunk by register permutes (register permutes).

    Lane l takes sample ``k_l`` or ``k_l + 1`` (``u_l >= 0.5``): element ``k_l - kbase`` of the windows
    ``amp[wstart:wstart + 32]`` and ``amp[wstart + 1:wstart + 33]`` (``wstart`` = ``kbase`` in the trace).
    Returns 1, writing nothing, when a valid lane has ``|u - 0.5| < eps`` (the caller settles
    those in float64); else writes the 16 values to ``buf[80:96]`` and returns 0.
    """
    _require_permute()
    if not (is_f32_array(amp) and is_f32_array(buf)):
        return None

    def codegen(context, builder, sig, args):
        chunk = _ChunkIR(context, builder, sig, args)
        i64 = ir.IntType(64)
        u = chunk.row(2)
        valid = builder.fcmp_ordered(">", chunk.row(4), chunk.const(0.5))
        fabs = vec_intrinsic(builder, "llvm.fabs", CHUNK, 1)
        tie = builder.fcmp_ordered("<", builder.call(fabs, [builder.fsub(u, chunk.const(0.5))]),
                                   splat(builder, args[4], CHUNK))
        ties = builder.bitcast(builder.and_(tie, valid), ir.IntType(16))
        result = cgutils.alloca_once_value(builder, ir.Constant(i64, 1))
        with builder.if_then(builder.icmp_unsigned("==", ties, ir.Constant(ir.IntType(16), 0))):
            up = builder.fcmp_ordered(">=", u, chunk.const(0.5))
            _ChunkIR.emit(context, builder, sig, args,
                          lambda part: part.store_sums(builder.select(up, part.tap(1), part.tap(0))))
            builder.store(ir.Constant(i64, 0), result)
        return builder.load(result)

    return types.int64(amp, wstart, buf, kbase, types.float32), codegen

