"""Snakemake script: the updated vrms cube from the picks, with its report and section (pstm.stages.velocity_cube)."""
from pstm import stages
from pstm.logs import log_to

with log_to(snakemake.log[0]):
    stages.velocity_cube(snakemake.input.index, snakemake.input.picks, snakemake.output.cube, snakemake.output.md,
                         snakemake.output.html, snakemake.output.section, velocity=snakemake.params.velocity,
                         velocity_analysis=snakemake.params.velocity_analysis)
