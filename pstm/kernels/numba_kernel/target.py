"""What the numba kernels are compiled for: the one place that reads the compile target.

numba compiles for the CPU it runs on unless ``NUMBA_CPU_NAME`` and
``NUMBA_CPU_FEATURES`` name another (``generic``: baseline x86-64 with SSE2;
``haswell`` with empty features: AVX2 and FMA, no AVX-512).  Code that uses an
instruction set's own intrinsics (the register-permute reads of
:mod:`pstm.kernels.numba_kernel.linear_avx2` and
:mod:`pstm.kernels.numba_kernel.taps_permute`) is compiled only when
:func:`compile_target` says the target has that instruction set; the choice is
a compile-time constant of each kernel, never a run-time flag, so no other
target ever sees the intrinsic.  numba's cache keys every compiled kernel by
the same (triple, CPU, features), so a cache directory shared between machines
never hands one machine another's code.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

#: LLVM CPU names whose default features include AVX-512F (used only when numba is told a CPU name with
#: empty features; otherwise the feature string decides).  A name missing here costs speed, never safety.
AVX512_CPU_NAMES = frozenset({
    "knl", "knm", "skylake-avx512", "skx", "cascadelake", "cooperlake", "cannonlake", "icelake-client",
    "icelake-server", "tigerlake", "rocketlake", "sapphirerapids", "emeraldrapids", "graniterapids",
    "graniterapids-d", "diamondrapids", "znver4", "znver5", "x86-64-v4",
})
#: LLVM CPU names with AVX2 but not AVX-512 (when numba is told a CPU name with empty features; a name
#: missing here costs speed, never safety).
AVX2_CPU_NAMES = frozenset({"haswell", "broadwell", "skylake", "alderlake", "raptorlake", "meteorlake",
                            "arrowlake", "znver1", "znver2", "znver3", "x86-64-v3"})


@dataclass(frozen=True)
class CompileTarget:
    """The target numba compiles for.

    Attributes
    ----------
    triple : str
        LLVM target triple, e.g. ``x86_64-unknown-linux-gnu`` or ``arm64-apple-darwin``.
    cpu : str
        LLVM CPU name (``NUMBA_CPU_NAME`` or the host's).
    features : str
        LLVM feature string, e.g. ``+avx2,+fma,-avx512f``; empty: the CPU name's defaults.
    """

    triple: str
    cpu: str
    features: str

    @property
    def x86(self) -> bool:
        """Whether the target is x86-64."""
        return self.triple.startswith(("x86_64", "amd64"))

    @property
    def avx512(self) -> bool:
        """Whether the target has AVX-512F (then the register-permute reads are compiled)."""
        if not self.x86:
            return False
        if self.features:
            return "+avx512f" in self.features.split(",")
        return self.cpu in AVX512_CPU_NAMES

    @property
    def avx2(self) -> bool:
        """Whether the target has AVX2 (every AVX-512 target has it too)."""
        return self.instruction_set in ("avx2", "avx512")

    @property
    def instruction_set(self) -> str:
        """A short name of the widest vector instruction set the kernels use: avx512, avx2, sse2 or the arch."""
        if not self.x86:
            return self.triple.split("-")[0]
        if self.avx512:
            return "avx512"
        if "+avx2" in self.features.split(",") or (not self.features and self.cpu in AVX2_CPU_NAMES):
            return "avx2"
        return "sse2"


@functools.lru_cache(maxsize=1)
def compile_target() -> CompileTarget:
    """The (triple, CPU, features) numba's CPU code generator compiles for, as numba itself reports it."""
    from numba.core.registry import cpu_target

    triple, cpu, features = cpu_target.target_context.codegen().magic_tuple()
    return CompileTarget(str(triple), str(cpu), str(features))


def describe() -> dict:
    """The host CPU and the compile target, for benchmark records and provenance."""
    import llvmlite.binding as llb

    target = compile_target()
    return {"host_cpu": llb.get_host_cpu_name(), "numba_cpu": target.cpu,
            "instruction_set": target.instruction_set, "avx512": target.avx512}
