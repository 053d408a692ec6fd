"""The numba kernels compile for every CPU: no instruction-set intrinsic outside code built for that target.

The register-permute reads use instruction-set intrinsics (AVX2's
``vpermps``, AVX-512's ``vpermt2ps``); a kernel compiled for a CPU without
that instruction set (or for arm64) must not contain it, or LLVM aborts the
process there.  These tests compile every path of the numba
kernel for the baseline x86-64 target (``NUMBA_CPU_NAME=generic``) in a fresh
process and read its LLVM IR, so a change that lets an intrinsic leak into
portable code fails on every machine, not only on the next one without
AVX-512.  (``.ci/run`` also runs the parity and known-answer tests compiled
for ``generic`` and ``haswell``.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pstm.kernels.numba_kernel.target import AVX512_CPU_NAMES, CompileTarget, compile_target

PROBE = Path(__file__).resolve().parent / "target_ir_probe.py"


def _probe(tmp_path, cpu: str, *args: str) -> dict:
    env = {**os.environ, "NUMBA_CPU_NAME": cpu, "NUMBA_CPU_FEATURES": "", "NUMBA_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, str(PROBE), *args], env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_generic_target_compiles_no_x86_intrinsic(tmp_path):
    report = _probe(tmp_path, "generic")
    assert report["cpu"] == "generic" and not report["avx512"]
    # Every path was compiled and inspected: the linear, multi-tap (one kernel per mode and tap count) and
    # general paths.
    inspected = " ".join(report["inspected"])
    for name in ("linear.kernel", "taps.kernel", "general._migrate", "components._ablation"):
        assert name in inspected, f"{name} was not compiled: {report['inspected']}"
    assert sum("taps.kernel" in f for f in report["inspected"]) >= 6
    assert _chosen_intrinsics(report) == {}


def _chosen_intrinsics(report: dict) -> dict:
    """The x86 intrinsics of each function other than those LLVM inserts itself for x86 atomics."""
    out = {}
    for function, names in report["x86_intrinsics"].items():
        chosen = [n for n in names if not n.startswith("llvm.x86.atomic.")]
        if chosen:
            out[function] = chosen
    return out


def test_only_the_leaves_name_an_instruction_set():
    """Hand-written IR names an x86 intrinsic only in the two leaves (each refuses other targets)."""
    kernels = Path(__file__).resolve().parents[1] / "pstm" / "kernels"
    naming = sorted(p.relative_to(kernels).as_posix() for p in kernels.rglob("*.py") if "llvm.x86" in p.read_text())
    assert naming == ["numba_kernel/linear_avx2.py", "numba_kernel/taps_permute.py"]


@pytest.mark.skipif(not compile_target().avx2,
                    reason=f"this host compiles for {compile_target().cpu!r} without AVX2: the AVX2 permute reads "
                           "cannot run here (the portable loop is tested instead)")
def test_avx2_target_compiles_the_avx2_permute_reads(tmp_path):
    """Positive control: compiled for haswell (AVX2, no AVX-512) the scan finds ``vpermps`` in the kernels that
    read by permutes (linear and multi-tap), and no other intrinsic anywhere."""
    report = _probe(tmp_path, "haswell", "--permute")
    assert report["avx2"] and not report["avx512"]
    chosen = _chosen_intrinsics(report)
    permuting = [f for f in report["inspected"] if "linear.kernel(True,)" in f or
                 ("taps.kernel" in f and ", True)" in f)]
    assert sum("taps.kernel" in f for f in permuting) >= 6, report["inspected"]
    assert chosen == {f: ["llvm.x86.avx2.permps"] for f in permuting}, chosen


@pytest.mark.skipif(not compile_target().avx512,
                    reason=f"this host compiles for {compile_target().cpu!r} without AVX-512: the AVX-512 "
                           "permute reads cannot run here (the portable reads are tested instead)")
def test_avx512_target_compiles_the_permute_reads(tmp_path):
    """Positive control: compiled for an AVX-512 CPU the scan finds the permute, in the multi-tap kernels only."""
    report = _probe(tmp_path, "skylake-avx512", "--permute")
    assert report["avx512"]
    chosen = _chosen_intrinsics(report)
    permuting = [f for f in report["inspected"] if "taps.kernel" in f and ", True)" in f]
    assert len(permuting) >= 6
    linear_permuting = [f for f in report["inspected"] if "linear.kernel(True,)" in f]
    assert sorted(chosen) == sorted(permuting + linear_permuting), "a permute is missing, or outside its kernels"
    assert all(chosen[f] == ["llvm.x86.avx512.vpermi2var.ps.512"] for f in permuting), chosen
    assert all(chosen[f] == ["llvm.x86.avx2.permps"] for f in linear_permuting), chosen


@pytest.mark.parametrize("target,avx512,label", [
    (CompileTarget("x86_64-unknown-linux-gnu", "generic", ""), False, "sse2"),
    (CompileTarget("x86_64-unknown-linux-gnu", "haswell", ""), False, "avx2"),
    (CompileTarget("x86_64-unknown-linux-gnu", "znver3", "+avx2,+fma,-avx512f"), False, "avx2"),
    (CompileTarget("x86_64-unknown-linux-gnu", "znver5", "+avx2,+avx512f,+fma"), True, "avx512"),
    (CompileTarget("x86_64-unknown-linux-gnu", "skylake-avx512", ""), True, "avx512"),
    (CompileTarget("x86_64-unknown-linux-gnu", "skylake-avx512", "+avx2,-avx512f"), False, "avx2"),
    (CompileTarget("arm64-apple-darwin23.0.0", "apple-m1", "+neon"), False, "arm64"),
    (CompileTarget("aarch64-unknown-linux-gnu", "neoverse-v2", "+sve,+neon"), False, "aarch64"),
])
def test_compile_target_reads_features_before_names(target, avx512, label):
    assert target.avx512 is avx512
    assert target.instruction_set == label


def test_avx512_names_are_x86_names():
    assert "generic" not in AVX512_CPU_NAMES and "haswell" not in AVX512_CPU_NAMES
