"""Snakemake script: collect per-tile timings (pstm.stages.profile)."""
from pstm import stages
from pstm.logs import log_to

with log_to(snakemake.log[0]):
    stages.profile(snakemake.input.tiles, snakemake.output.json, snakemake.output.md,
                   benchmarks=snakemake.input.benchmarks)
