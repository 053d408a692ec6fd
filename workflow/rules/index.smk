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
        qc=section("qc"),  # QC positions are checked against the grid fixed here, before any tile runs
        tile_memory=get_tile_memory_params(),  # each tile's migrate job must fit the machine's memory
    log:
        f"{R}/logs/index_traces.log",
    benchmark:
        f"{R}/benchmarks/index_traces.tsv"
    script:
        "../scripts/index_traces.py"
