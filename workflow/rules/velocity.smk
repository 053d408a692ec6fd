# Velocity analysis with the migration itself: `snakemake --cores N velocity_update`.
#   velocity_scan (per tile with analysis locations) -> velocity_picks -> velocity_cube
#   -> velocity_check (per tile) -> velocity_qc
VA = f"{R}/velocity"


rule velocity_scan:
    input:
        index=f"{R}/index/traces.nc",
        segy=ancient(get_segy()),
    output:
        scan=f"{VA}/scan/{{tile}}.nc",
    params:
        migration=get_migration_params(),
        velocity=section("velocity"),
        velocity_analysis=get_scan_params(),
        optimization=section("optimization"),
        mlx=section("mlx"),
        anisotropy=section("anisotropy"),
        kernel_version=KERNEL_VERSION,
        cube_out=f"{VA}/vrms.nc",
    threads: 2
    log:
        f"{R}/logs/velocity_scan/{{tile}}.log",
    benchmark:
        f"{R}/benchmarks/velocity_scan/{{tile}}.tsv"
    script:
        "../scripts/velocity_scan.py"


rule velocity_picks:
    input:
        scans=get_velocity_scans,
    output:
        picks=f"{VA}/picks.nc",
    params:
        velocity_analysis=section("velocity_analysis"),
    log:
        f"{R}/logs/velocity_picks.log",
    benchmark:
        f"{R}/benchmarks/velocity_picks.tsv"
    script:
        "../scripts/velocity_picks.py"


rule velocity_cube:
    input:
        index=f"{R}/index/traces.nc",
        picks=f"{VA}/picks.nc",
    output:
        cube=f"{VA}/vrms.nc",
        md=f"{VA}/qc/update.md",
        html=report(f"{VA}/qc/update.html", caption="../report/velocity_update.rst", category="6. Velocity analysis"),
        section=report(f"{VA}/qc/velocity_section.png", caption="../report/velocity_section.rst",
                       category="6. Velocity analysis"),
    params:
        velocity=section("velocity"),
        velocity_analysis=section("velocity_analysis"),
    log:
        f"{R}/logs/velocity_cube.log",
    benchmark:
        f"{R}/benchmarks/velocity_cube.tsv"
    script:
        "../scripts/velocity_cube.py"


rule velocity_check:
    input:
        index=f"{R}/index/traces.nc",
        segy=ancient(get_segy()),
        cube=f"{VA}/vrms.nc",
    output:
        check=f"{VA}/check/{{tile}}.nc",
    params:
        migration=get_migration_params(),
        velocity=section("velocity"),
        velocity_analysis=get_scan_params(),
        optimization=section("optimization"),
        mlx=section("mlx"),
        anisotropy=section("anisotropy"),
        kernel_version=KERNEL_VERSION,
    threads: 2
    log:
        f"{R}/logs/velocity_check/{{tile}}.log",
    benchmark:
        f"{R}/benchmarks/velocity_check/{{tile}}.tsv"
    script:
        "../scripts/velocity_check.py"


rule velocity_qc:
    input:
        picks=f"{VA}/picks.nc",
        checks=get_velocity_checks,
        cube=f"{VA}/vrms.nc",
    output:
        locations=report(directory(f"{VA}/qc/locations"), patterns=["{location}.png"],
                         caption="../report/velocity_location.rst", category="6. Velocity analysis"),
    log:
        f"{R}/logs/velocity_qc.log",
    benchmark:
        f"{R}/benchmarks/velocity_qc.tsv"
    script:
        "../scripts/velocity_qc.py"


# The analysis branch as a named target; `rule all` does not run it.
rule velocity_update:
    input:
        f"{VA}/picks.nc",
        f"{VA}/vrms.nc",
        f"{VA}/qc/update.md",
        f"{VA}/qc/update.html",
        f"{VA}/qc/velocity_section.png",
        f"{VA}/qc/locations",
