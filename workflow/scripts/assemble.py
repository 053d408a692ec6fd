"""Snakemake script: assemble tiles into the final image with QC (pstm.stages.assemble)."""
from pstm import stages
from pstm.logs import log_to

with log_to(snakemake.log[0]):
    stages.assemble(snakemake.input.index, snakemake.input.tiles, snakemake.output.image_nc,
                    snakemake.output.image_sgy, snakemake.params.qc_dir, snakemake.params.qc,
                    truth=snakemake.input.truth[0] if snakemake.input.truth else None,
                    gathers_nc=snakemake.output.gathers[0] if snakemake.output.gathers else None,
                    gathers_sgy=snakemake.output.gathers[1] if snakemake.output.gathers else None,
                    settings=snakemake.params.settings)
