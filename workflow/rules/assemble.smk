rule assemble:
    input:
        index=f"{R}/index/traces.nc",
        tiles=get_tile_images,
        truth=[t for t in [get_truth()] if t],
    output:
        image_nc=f"{R}/image.nc",
        image_sgy=f"{R}/image.sgy",
        inline=report(f"{R}/qc/inline.png", caption="../report/inline.rst", category="2. Image"),
        crossline=report(f"{R}/qc/crossline.png", caption="../report/crossline.rst", category="2. Image"),
        time_slice=report(f"{R}/qc/time_slice.png", caption="../report/time_slice.rst", category="2. Image"),
        fold=report(f"{R}/qc/fold.png", caption="../report/fold.rst", category="2. Image"),
        focus=[
            f"{R}/qc/focus.md",
            f"{R}/qc/focus.json",
            report(f"{R}/qc/focus.html", caption="../report/focus.rst", category="3. Focus against the truth"),
        ]
        if get_truth()
        else [],
        gathers=[
            *get_gather_outputs(),
            report(f"{R}/qc/gathers.png", caption="../report/gathers.rst", category="4. Offset gathers"),
        ]
        if get_gather_outputs()
        else [],
        angle_gathers=[report(f"{R}/qc/angle_gathers.png", caption="../report/gathers.rst", category="4. Offset gathers")]
        if SETTINGS.migration.angle_classes_deg is not None
        else [],
    params:
        qc=section("qc"),
        qc_dir=f"{R}/qc",
        settings=EFFECTIVE_SETTINGS,  # stored in every output; any change of a setting rewrites them
    log:
        f"{R}/logs/assemble.log",
    benchmark:
        f"{R}/benchmarks/assemble.tsv"
    script:
        "../scripts/assemble.py"
