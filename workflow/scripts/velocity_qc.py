"""Snakemake script: one picture per analysis location (pstm.stages.velocity_qc)."""
from pstm import stages
from pstm.logs import log_to

with log_to(snakemake.log[0]):
    stages.velocity_qc(snakemake.input.picks, snakemake.input.checks, snakemake.input.cube,
                       snakemake.output.locations)
