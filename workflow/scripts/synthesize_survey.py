"""Snakemake script: model the built-in synthetic survey (pstm.stages.synthesize)."""
from pstm import stages
from pstm.logs import log_to

with log_to(snakemake.log[0]):
    stages.synthesize(snakemake.params.synthetic, snakemake.output.segy, snakemake.output.truth)
