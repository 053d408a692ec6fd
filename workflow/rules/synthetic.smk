rule synthesize_survey:
    output:
        segy=f"{R}/synthetic/survey.sgy",
        truth=f"{R}/synthetic/truth.json",
    params:
        synthetic=section("synthetic"),
    log:
        f"{R}/logs/synthesize_survey.log",
    script:
        "../scripts/synthesize_survey.py"
