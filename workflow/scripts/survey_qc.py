"""Snakemake script: survey scan and geometry maps of the input (pstm.stages.survey_qc)."""
from pstm import stages
from pstm.logs import log_to

with log_to(snakemake.log[0]):
    stages.survey_qc(snakemake.input.segy, snakemake.input.index, snakemake.params.headers,
                     snakemake.output.summary, snakemake.output.html, snakemake.output.geometry,
                     snakemake.output.cmp_fold)
