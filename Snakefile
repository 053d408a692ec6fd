# pstm: Kirchhoff pre-stack time migration.
#   index_traces -> aperture_prefilter (per tile) -> migrate_tile (per tile) -> assemble -> profile
from snakemake.utils import min_version, validate

min_version("9.17")  # job priorities from a function (workflow/rules/common.smk)


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"  # snakemake --report report.html: the run's QC document


# pstm's own check first: its errors name the file and the key, and list the allowed keys.
from pstm.config import validate_config

validate_config(config, " + ".join(str(p) for p in workflow.configfiles) or "config")
validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/synthetic.smk"
include: "workflow/rules/index.smk"
include: "workflow/rules/aperture.smk"
include: "workflow/rules/migrate.smk"
include: "workflow/rules/assemble.smk"
include: "workflow/rules/profile.smk"


rule all:
    input:
        get_final_outputs(),
