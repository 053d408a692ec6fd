rule profile:
    input:
        tiles=get_tile_images,
        benchmarks=get_tile_benchmarks,
    output:
        md=f"{R}/profile/profile.md",
        json=f"{R}/profile/profile.json",
    log:
        f"{R}/logs/profile.log",
    script:
        "../scripts/profile.py"
