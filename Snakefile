# pstm: Kirchhoff pre-stack time migration.
#   index_traces -> aperture_prefilter (per tile) -> migrate_tile (per tile) -> assemble -> profile
#   velocity_update (a named target): velocity_scan -> velocity_picks -> velocity_cube -> velocity_check -> velocity_qc
from snakemake.utils import min_version, validate

min_version("9.17")  # job priorities from a function (workflow/rules/common.smk)


# pstm reads the default configuration first, so a YAML syntax error or an empty file is reported with
# the file and line (Snakemake itself reads a --configfile before this file runs: for its YAML errors run
# `python -m pstm check FILE`).
from pstm.config import check_config_file, validate_config

check_config_file("config/config.yaml")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"  # snakemake --report report.html: the run's QC document


# pstm's own check first: its errors name the file and the key, and list the allowed keys.

validate_config(config, " + ".join(str(p) for p in workflow.configfiles) or "config")
validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/synthetic.smk"
include: "workflow/rules/index.smk"
include: "workflow/rules/aperture.smk"
include: "workflow/rules/migrate.smk"
include: "workflow/rules/assemble.smk"
include: "workflow/rules/profile.smk"
include: "workflow/rules/velocity.smk"  # snakemake --cores N velocity_update


rule all:
    input:
        get_final_outputs(),
