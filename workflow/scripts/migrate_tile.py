"""Snakemake script: migrate one tile (pstm.stages.migrate_tile)."""
from pstm import stages
from pstm.logs import log_to

with log_to(snakemake.log[0]):
    stages.migrate_tile(snakemake.input.traces, snakemake.output.image, migration=snakemake.params.migration,
                        manifest=snakemake.input.manifest, threads=snakemake.threads,
                        optimization=snakemake.params.optimization, mlx=snakemake.params.mlx,
                        anisotropy=snakemake.params.anisotropy)
