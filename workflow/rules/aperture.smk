rule aperture_prefilter:
    input:
        index=f"{R}/index/traces.nc",
    output:
        traces=f"{R}/tiles/{{tile}}/traces.nc",
    params:
        migration=get_aperture_params(),
        velocity=section("velocity"),
        prefilter=SETTINGS.optimization.prefilter,
    log:
        f"{R}/logs/aperture_prefilter/{{tile}}.log",
    script:
        "../scripts/aperture_prefilter.py"
