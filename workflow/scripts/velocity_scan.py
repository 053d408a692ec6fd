"""Snakemake script: trial gathers of one tile's analysis locations (pstm.stages.velocity_scan)."""
from pstm import stages
from pstm.logs import log_to

with log_to(snakemake.log[0]):
    stages.velocity_scan(snakemake.input.index, snakemake.wildcards.tile, snakemake.output.scan,
                         migration=snakemake.params.migration, velocity=snakemake.params.velocity,
                         velocity_analysis=snakemake.params.velocity_analysis,
                         optimization=snakemake.params.optimization, mlx=snakemake.params.mlx,
                         anisotropy=snakemake.params.anisotropy, threads=snakemake.threads,
                         cube_out=snakemake.params.cube_out)
