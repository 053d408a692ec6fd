"""Snakemake script: select the traces that can reach one tile (pstm.stages.aperture_prefilter)."""
from pstm import stages
from pstm.logs import log_to

with log_to(snakemake.log[0]):
    stages.aperture_prefilter(snakemake.input.index, snakemake.wildcards.tile, snakemake.output.traces,
                              migration=snakemake.params.migration, manifest=snakemake.input.manifest,
                              prefilter=snakemake.params.prefilter)
