rule profile:
    input:
        tiles=get_tile_images,
        traces=get_tile_traces,
        benchmarks=get_tile_benchmarks,
    output:
        md=f"{R}/profile/profile.md",
        json=f"{R}/profile/profile.json",
        html=report(f"{R}/profile/profile.html", caption="../report/profile.rst", category="5. Performance"),
        png=report(f"{R}/profile/throughput.png", caption="../report/throughput.rst", category="5. Performance"),
    params:
        migration=get_migration_params(),
        velocity=section("velocity"),
        measure_pillars=SETTINGS.profile["measure_pillars"],
    threads: 2
    log:
        f"{R}/logs/profile.log",
    benchmark:
        f"{R}/benchmarks/profile.tsv"
    script:
        "../scripts/profile.py"
