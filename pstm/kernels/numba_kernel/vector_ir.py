"""Portable LLVM vector IR for the numba kernels' hand-written inner loops.

Generic LLVM vectors (``<n x float>``) and target-independent intrinsics only
(``llvm.fmuladd``, ``llvm.fabs``): LLVM lowers them to AVX-512, AVX2, SSE2 or
NEON, whichever the compile target has (``llvm.fmuladd`` fuses where the target
has FMA and multiplies then adds where it has not).  Nothing here names an
instruction set.
"""

from __future__ import annotations

import math

from llvmlite import ir
from numba.core import cgutils, types


def vec_intrinsic(builder, name, n, n_args):
    """Declaration of the overloaded LLVM intrinsic ``name`` on <n x float>, e.g. llvm.fmuladd.v8f32."""
    vt = ir.VectorType(ir.FloatType(), n)
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt] * n_args), f"{name}.v{n}f32")


def splat(builder, value, n):
    """An <n x T> vector of copies of the scalar ``value``."""
    vt = ir.VectorType(value.type, n)
    v = builder.insert_element(ir.Constant(vt, ir.Undefined), value, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(v, ir.Constant(vt, ir.Undefined), ir.Constant(ir.VectorType(ir.IntType(32), n),
                                                                                  [0] * n))


def load_vec(context, builder, arrty, arr, offset, n):
    """<n x float> loaded from float32 array ``arr`` (numba type ``arrty``) at element ``offset`` (unaligned)."""
    data = context.make_array(arrty)(context, builder, arr).data
    ptr = builder.gep(data, [offset])
    return builder.load(builder.bitcast(ptr, ir.VectorType(ir.FloatType(), n).as_pointer()), align=4)


def reduce_add(builder, v, n):
    """Sum of the n lanes of v by halving (a fixed order, so deterministic)."""
    while n > 1:
        h = n // 2
        i32 = ir.IntType(32)
        lo = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(i32, h), list(range(h))))
        hi = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(i32, h), list(range(h, n))))
        v = builder.fadd(lo, hi)
        n = h
    return builder.extract_element(v, ir.Constant(ir.IntType(32), 0))


def is_f32_array(a):
    """Whether numba type ``a`` is a 1-D float32 array (what the vector loads take)."""
    return isinstance(a, types.Array) and a.dtype == types.float32 and a.ndim == 1


def tree_sum(builder, values):
    """Pairwise sum of a list of vectors (short dependency chains)."""
    while len(values) > 1:
        nxt = [builder.fadd(values[j], values[j + 1]) for j in range(0, len(values) - 1, 2)]
        if len(values) % 2:
            nxt.append(values[-1])
        values = nxt
    return values[0]


#: Coefficients of the taper polynomial, as ``linear._taper_poly`` (odd Taylor series of sin).
_SIN_SERIES = (1.0, -1.0 / 6.0, 1.0 / 120.0, -1.0 / 5040.0, 1.0 / 362880.0, -1.0 / 39916800.0)


class VectorMath:
    """The sample loop's arithmetic on <lanes x float> / <lanes x i32> IR, with one builder.

    The same formulas as the kernels' scalar loops (``linear._dsr``, ``linear._approx_sqrt``,
    ``linear._taper_poly``), for ``lanes`` output samples at once.
    """

    def __init__(self, builder, lanes):
        self.b = builder
        self.lanes = lanes
        self.ft = ir.VectorType(ir.FloatType(), lanes)
        self.it = ir.VectorType(ir.IntType(32), lanes)
        self.fma = vec_intrinsic(builder, "llvm.fmuladd", lanes, 3)
        self.sqrt_fn = vec_intrinsic(builder, "llvm.sqrt", lanes, 1)

    def const(self, value):
        return ir.Constant(self.ft, [float(value)] * self.lanes)

    def splat(self, value):
        return splat(self.b, value, self.lanes)

    def min(self, a, b):
        return self.b.select(self.b.fcmp_ordered("<", a, b), a, b)

    def max(self, a, b):
        return self.b.select(self.b.fcmp_ordered(">", a, b), a, b)

    def clip(self, x, lo, hi):
        return self.min(self.max(x, lo), hi)

    def sqrt(self, x):
        return self.b.call(self.sqrt_fn, [x])

    def approx_sqrt(self, x):
        """The bit-trick inverse square root and two Newton steps, times x (as ``linear._approx_sqrt``)."""
        b = self.b
        y = b.bitcast(b.sub(ir.Constant(self.it, [0x5F375A86] * self.lanes),
                            b.ashr(b.bitcast(x, self.it), ir.Constant(self.it, [1] * self.lanes))), self.ft)
        hx = b.fmul(self.const(0.5), x)
        for _ in range(2):
            y = b.fmul(y, b.fsub(self.const(1.5), b.fmul(b.fmul(hx, y), y)))
        return b.fmul(x, y)

    def legs(self, ds2, dr2, hh, ss):
        """The squared one-way times hh + ds2 ss and hh + dr2 ss (``ds2``, ``dr2`` scalars)."""
        return (self.b.call(self.fma, [self.splat(ds2), ss, hh]), self.b.call(self.fma, [self.splat(dr2), ss, hh]))

    def dsr(self, ds2, dr2, hh, ss, fast):
        """sqrt(hh + ds2 ss) + sqrt(hh + dr2 ss), by :meth:`approx_sqrt` where ``fast`` (an i1), behind a branch
        (the flag is the same for a whole call of the kernel, so the branch predicts and only one is computed)."""
        b = self.b
        legs = self.legs(ds2, dr2, hh, ss)
        with b.if_else(fast) as (approx, exact):
            with approx:
                t_approx = b.fadd(*(self.approx_sqrt(leg) for leg in legs))
                from_approx = b.block
            with exact:
                t_exact = b.fadd(*(self.sqrt(leg) for leg in legs))
                from_exact = b.block
        t = b.phi(self.ft)
        t.add_incoming(t_approx, from_approx)
        t.add_incoming(t_exact, from_exact)
        return t

    def weight_and_validity(self, t, wt, t_min, t_hi, g1, g2, taper=None):
        """The contribution's weight and validity mask from the traveltime ``t`` and the weight coefficient
        ``wt``, as the scalar loops compute them: valid where ``t_min < t < t_hi``; with ``taper`` =
        ``(dist, tq, ap, taper_c)`` also the cosine taper of ``clip(dist tq - taper_c, 0, 1)`` and the
        aperture test ``dist <= ap``; then the factors ``1 + g (1/t - 1)`` (``g1``, ``g2`` splats of 0 or 1:
        spreading and obliquity, without branches)."""
        b = self.b
        one = self.const(1.0)
        ok = b.and_(b.fcmp_ordered(">", t, t_min), b.fcmp_ordered("<", t, t_hi))
        r = b.fdiv(one, t)
        if taper is not None:
            dist, tq, ap, taper_c = taper
            wt = b.fmul(wt, self.taper(self.clip(b.fsub(b.fmul(dist, tq), taper_c), self.const(0.0), one)))
            ok = b.and_(ok, b.fcmp_ordered("<=", dist, ap))
        rm1 = b.fsub(r, one)
        return b.fmul(b.fmul(wt, b.call(self.fma, [g1, rm1, one])), b.call(self.fma, [g2, rm1, one])), ok

    def taper(self, x):
        """0.5 * (1 + cos(pi x)) on [0, 1] by the polynomial of ``linear._taper_poly``."""
        b = self.b
        z = b.fmul(self.const(math.pi), b.fsub(x, self.const(0.5)))
        z2 = b.fmul(z, z)
        acc = self.const(_SIN_SERIES[-1])
        for c in _SIN_SERIES[-2::-1]:
            acc = b.fadd(self.const(c), b.fmul(z2, acc))
        return b.fsub(self.const(0.5), b.fmul(self.const(0.5), b.fmul(z, acc)))
