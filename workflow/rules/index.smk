checkpoint index_traces:
    input:
        segy=get_segy(),
    output:
        index=f"{R}/index/traces.nc",
        manifest=f"{R}/index/tiles.json",
    params:
        survey=section("survey"),
        grid=section("grid"),
        time=section("time"),
        output_decimation=SETTINGS.optimization.output_decimation,
        migration=get_aperture_params(),
        velocity=section("velocity"),
        velocity_files=get_velocity_files(),
        prefilter=SETTINGS.optimization.prefilter,
        qc=section("qc"),  # QC positions are checked against the grid fixed here, before any tile runs
        tile_memory=get_tile_memory_params(),  # each tile's migrate job must fit the machine's memory
    log:
        f"{R}/logs/index_traces.log",
    benchmark:
        f"{R}/benchmarks/index_traces.tsv"
    script:
        "../scripts/index_traces.py"


# The survey scan (pstm scan) of the input with the run's grid: what a processor checks first.
rule survey_qc:
    input:
        segy=get_segy(),
        index=f"{R}/index/traces.nc",
    output:
        summary=f"{R}/qc/survey.txt",
        html=report(f"{R}/qc/survey.html", caption="../report/survey.rst", category="1. Survey"),
        geometry=report(f"{R}/qc/geometry.png", caption="../report/geometry.rst", category="1. Survey"),
        cmp_fold=report(f"{R}/qc/cmp_fold.png", caption="../report/cmp_fold.rst", category="1. Survey"),
    params:
        headers=section("survey")["headers"],
    log:
        f"{R}/logs/survey_qc.log",
    benchmark:
        f"{R}/benchmarks/survey_qc.tsv"
    script:
        "../scripts/survey_qc.py"
