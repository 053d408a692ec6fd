"""Snakemake script: semblance spectra and automatic picks (pstm.stages.velocity_picks)."""
from pstm import stages
from pstm.logs import log_to

with log_to(snakemake.log[0]):
    stages.velocity_picks(snakemake.input.scans, snakemake.output.picks,
                          velocity_analysis=snakemake.params.velocity_analysis)
