"""Snakemake script: index the prestack headers (pstm.stages.index_traces)."""
from pstm import stages
from pstm.logs import log_to

with log_to(snakemake.log[0]):
    stages.index_traces(snakemake.input.segy, snakemake.output.index, survey=snakemake.params.survey,
                        grid=snakemake.params.grid, time=snakemake.params.time,
                        output_decimation=snakemake.params.output_decimation,
                        manifest=snakemake.output.manifest, migration=snakemake.params.migration,
                        velocity=snakemake.params.velocity, prefilter=snakemake.params.prefilter,
                        qc=snakemake.params.qc, tile_memory=snakemake.params.tile_memory)
