# The index is ancient(): a rewritten index reruns a tile only when the tile's hash
# (its pillars, times and the traces that reach it), its velocity hash or the aperture settings change.
rule aperture_prefilter:
    input:
        index=ancient(f"{R}/index/traces.nc"),
        manifest=ancient(f"{R}/index/tiles.json"),  # the velocity settings the tile's velocity hash was made with
    output:
        traces=f"{R}/tiles/{{tile}}/traces.nc",
    params:
        tile_hash=get_tile_hash,
        migration=get_aperture_params(),
        velocity_hash=get_tile_velocity_hash,
        prefilter=SETTINGS.optimization.prefilter,
    priority: get_tile_priority  # largest tiles first, as migrate_tile
    log:
        f"{R}/logs/aperture_prefilter/{{tile}}.log",
    benchmark:
        f"{R}/benchmarks/aperture_prefilter/{{tile}}.tsv"
    script:
        "../scripts/aperture_prefilter.py"
