rule migrate_tile:
    input:
        traces=f"{R}/tiles/{{tile}}/traces.nc",
        segy=ancient(get_segy()),
        index=ancient(f"{R}/index/traces.nc"),  # the checkpoint params.tile_hash reads (cluster jobs need it)  # which traces a tile reads is in its tile_hash
        manifest=ancient(f"{R}/index/tiles.json"),  # the velocity settings the tile's velocity hash was made with
    output:
        image=f"{R}/tiles/{{tile}}/image.nc",
    params:
        tile_hash=get_tile_hash,
        migration=get_migration_params(),
        velocity_hash=get_tile_velocity_hash,  # the tile's vrms: a new velocity reruns the tiles it changes
        optimization=section("optimization"),
        mlx=section("mlx"),
        anisotropy=section("anisotropy"),
        kernel_version=KERNEL_VERSION,  # a kernel fix reruns every tile
    priority: get_tile_priority  # largest tiles first: the run does not end on one big tile with idle cores
    threads: 1  # tiles run side by side (workflow/profiles/default); --set-threads migrate_tile=N for N
    resources:
        mem_mb=2000,
    log:
        f"{R}/logs/migrate_tile/{{tile}}.log",
    benchmark:
        f"{R}/benchmarks/migrate_tile/{{tile}}.tsv"
    script:
        "../scripts/migrate_tile.py"
