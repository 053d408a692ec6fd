rule synthesize_survey:
    output:
        segy=f"{R}/synthetic/survey.sgy",
        truth=f"{R}/synthetic/truth.json",
    params:
        synthetic=section("synthetic"),
    log:
        f"{R}/logs/synthesize_survey.log",
    benchmark:
        f"{R}/benchmarks/synthesize_survey.tsv"
    script:
        "../scripts/synthesize_survey.py"
