"""Compile every path of the numba kernel for the target in the environment and list x86 intrinsics in its IR.

Run as a script by tests/test_targets.py in a fresh process (numba reads
``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` / ``NUMBA_CACHE_DIR`` at import), it
runs each path on a tiny survey (linear, every multi-tap mode and triangle tap
count, the general float64 path, the profile's ablation kernels), then reads
the LLVM IR of every compiled function (``Dispatcher.inspect_llvm``) and prints
one JSON object: the compile target, the functions inspected, and for each
function the ``llvm.x86.*`` intrinsics it names.

``--permute`` also runs the register-permute reads of both paths forced on for
every method, where the target has AVX2 (a positive control: their IR must
name the permute of the target's instruction set).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import TAP_CASES, pillar_block, random_traces  # noqa: E402
from numba.core.dispatcher import Dispatcher  # noqa: E402

from pstm.kernels.common import KernelParams  # noqa: E402
from pstm.kernels.numba_kernel import components, general, linear, migrate, taps  # noqa: E402
from pstm.kernels.numba_kernel.target import compile_target  # noqa: E402

X86_INTRINSIC = re.compile(r"@(llvm\.x86\.[A-Za-z0-9_.]+)")


def _run(params: KernelParams, traces, pillars, permute=None) -> None:
    image = np.zeros((pillars.n_pillars, pillars.n_times), np.float32)
    fold = np.zeros_like(image)
    if permute is None:
        migrate(traces, pillars, params, image, fold)
    else:
        path = linear if params.interpolation == "linear" and params.antialias == "none" else taps
        path.migrate(traces, pillars, params, image, fold, permute=permute)


def main() -> None:
    permute = "--permute" in sys.argv
    traces = random_traces(n_traces=60, n_samples=64, seed=3)
    pillars = pillar_block(2, 2, n_times=48)
    cases = [KernelParams(aperture_max_m=800.0)]  # linear
    cases += [KernelParams(aperture_max_m=800.0, **kw) for kw in TAP_CASES.values()]
    cases += [KernelParams(aperture_max_m=800.0, antialias="triangle", antialias_trace_spacing_m=60.0,
                           antialias_max_half_length=cap) for cap in (3.0, 12.0)]  # 8 and 32 taps
    cases += [KernelParams(aperture_max_m=800.0, stretch_mute=0.5)]  # general
    for params in cases:
        _run(params, traces, pillars)
    target = compile_target()
    if permute and target.avx2:
        for fast_sqrt in (False, True):
            _run(KernelParams(aperture_max_m=800.0, fast_sqrt=fast_sqrt), traces, pillars, permute=True)
        for kw in TAP_CASES.values():
            _run(KernelParams(aperture_max_m=800.0, **kw), traces, pillars, permute=True)
    components.measure_components(traces, pillars, KernelParams(aperture_max_m=800.0), repeats=1)

    dispatchers = {}
    for module in (linear, taps, general, components):
        for name, value in vars(module).items():
            if isinstance(value, Dispatcher):
                dispatchers[f"{module.__name__}.{name}"] = value
    for module in (linear, taps):
        for key, value in module._KERNELS.items():
            dispatchers[f"{module.__name__}.kernel{key if isinstance(key, tuple) else (key,)}"] = value
    found = {}
    inspected = []
    for name, dispatcher in sorted(dispatchers.items()):
        for signature, llvm_ir in dispatcher.inspect_llvm().items():
            inspected.append(f"{name}{signature}")
            names = sorted(set(X86_INTRINSIC.findall(llvm_ir)))
            if names:
                found[f"{name}{signature}"] = names
    print(json.dumps({"cpu": target.cpu, "features": target.features, "avx512": target.avx512, "avx2": target.avx2,
                      "inspected": inspected, "x86_intrinsics": found}))


if __name__ == "__main__":
    main()
