"""Snakemake script: collect per-tile timings and measure the busiest tile (pstm.stages.profile)."""
from pstm import stages
from pstm.logs import log_to

with log_to(snakemake.log[0]):
    stages.profile(snakemake.input.tiles, snakemake.output.json, snakemake.output.md,
                   benchmarks=snakemake.input.benchmarks, out_png=snakemake.output.png,
                   traces_paths=snakemake.input.traces, migration=snakemake.params.migration,
                   velocity=snakemake.params.velocity, measure_pillars=snakemake.params.measure_pillars,
                   out_html=snakemake.output.html)
