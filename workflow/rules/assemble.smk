rule assemble:
    input:
        index=f"{R}/index/traces.nc",
        tiles=get_tile_images,
        truth=[t for t in [get_truth()] if t],
    output:
        image_nc=f"{R}/image.nc",
        image_sgy=f"{R}/image.sgy",
        qc=multiext(f"{R}/qc/", "inline.png", "crossline.png", "time_slice.png", "fold.png"),
        focus=[f"{R}/qc/focus.md", f"{R}/qc/focus.json"] if get_truth() else [],
        gathers=get_gather_outputs(),
    params:
        qc=section("qc"),
        qc_dir=f"{R}/qc",
    log:
        f"{R}/logs/assemble.log",
    benchmark:
        f"{R}/benchmarks/assemble.tsv"
    script:
        "../scripts/assemble.py"
