"""Portable LLVM vector IR for the numba kernels' hand-written inner loops.

Generic LLVM vectors (``<n x float>``) and target-independent intrinsics only
(``llvm.fmuladd``, ``llvm.fabs``): LLVM lowers them to AVX-512, AVX2, SSE2 or
NEON, whichever the compile target has (``llvm.fmuladd`` fuses where the target
has FMA and multiplies then adds where it has not).  Nothing here names an
instruction set.
"""

from __future__ import annotations

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
