"""Snakemake script: gathers at the starting and the updated velocity (pstm.stages.velocity_check)."""
from pstm import stages
from pstm.logs import log_to

with log_to(snakemake.log[0]):
    stages.velocity_check(snakemake.input.index, snakemake.wildcards.tile, snakemake.input.cube,
                          snakemake.output.check, migration=snakemake.params.migration,
                          velocity=snakemake.params.velocity, velocity_analysis=snakemake.params.velocity_analysis,
                          optimization=snakemake.params.optimization, mlx=snakemake.params.mlx,
                          anisotropy=snakemake.params.anisotropy, threads=snakemake.threads)
