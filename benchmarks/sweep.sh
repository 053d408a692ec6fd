#!/usr/bin/env bash
# Runs used for docs/performance.md (one at a time; each under ~3 minutes on 2 cores).
# Usage: benchmarks/sweep.sh OUTDIR
set -euo pipefail
out=${1:-benchmark-results}
mkdir -p "$out"
b="python $(dirname "$0")/kernel_throughput.py"
# 1. headline: seed-style kernel and numba in one run
$b --kernels seed,numba,numba:fast_sqrt=1 | tee "$out/headline.jsonl"
# 2. each speed switch off, same run
$b --no-check --kernels numba,numba:cache_block_traces=0,numba:trace_sort=0,numba:fast_sqrt=1 | tee "$out/switches.jsonl"
$b --no-check --traces 20000 --kernels numba,numba:sample_window=0 | tee "$out/sample_window.jsonl"
$b --no-check --kernels numba:cache_block_traces=64,numba:cache_block_traces=128,numba:cache_block_traces=256,numba:cache_block_traces=1024,numba:cache_block_traces=4096 | tee "$out/block_size.jsonl"
# 3. throughput across sizes
for tile in 16 32 64; do $b --no-check --kernels numba --tile $tile | tee -a "$out/tile.jsonl"; done
for samples in 250 500 1000; do $b --no-check --kernels numba --samples $samples | tee -a "$out/samples.jsonl"; done
# 2000 samples: about 1.4e11 contributions with 100k traces (minutes per call), so 20k traces, with 500 for comparison
for samples in 500 2000; do $b --no-check --kernels numba --samples $samples --traces 20000 | tee -a "$out/samples_20k.jsonl"; done
for traces in 20000 100000 400000; do $b --no-check --kernels numba --traces $traces | tee -a "$out/traces.jsonl"; done
