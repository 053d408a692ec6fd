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
        prefilter=SETTINGS.optimization.prefilter,
    log:
        f"{R}/logs/index_traces.log",
    script:
        "../scripts/index_traces.py"
