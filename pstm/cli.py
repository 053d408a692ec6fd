"""The ``pstm`` command line.

``pstm scan FILE.sgy [--plot DIR] [--headers source_x=73,source_y=77,...]`` prints what a processor
checks in a prestack SEG-Y file before a run (:mod:`pstm.scan`) and the YAML for ``survey.headers``
and ``grid``; ``--plot DIR`` also writes ``DIR/geometry.png`` (sources, receivers, midpoints) and
``DIR/cmp_fold.png`` (CMP fold on the suggested grid).  Also ``python -m pstm scan ...``.

``pstm check CONFIG [CONFIG ...]`` checks configuration files as a run would, before running: reads each
YAML file (a syntax error names the file, line and column; an empty file is an error), merges them in order
as Snakemake merges ``config/config.yaml`` and ``--configfile`` files, validates the result against the
schema and pstm's rules, checks that the input files it names exist, and checks a SEG-Y file's headers
against its size.  Snakemake reads a ``--configfile`` itself before pstm's code runs and reports a YAML
error there without file and line: this command names them.  Exit status 0 when every check passes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def check(paths: list[str]) -> str:
    """Check configuration files; return a one-line summary or raise ``ValueError`` (ConfigError, SegyError)."""
    from pstm.config import check_input_files, merge_configs, read_config_file, validate_config

    source = " + ".join(paths)
    config = validate_config(merge_configs([read_config_file(p) for p in paths]), source)
    check_input_files(config, source)
    summary = f"{source}: valid; survey.source {config['survey']['source']}"
    if config["survey"]["source"] == "segy":
        from pstm.io.segy import check_segy_file

        layout = check_segy_file(config["survey"]["segy_path"])
        summary += (f", {layout.n_traces} traces of {layout.n_samples} samples ({layout.endian}-endian, format "
                    f"{layout.format_code})")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pstm", description="Kirchhoff pre-stack time migration tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    checker = sub.add_parser("check", help="check configuration files (YAML, schema, input files) without running")
    checker.add_argument("configs", nargs="+", metavar="CONFIG",
                         help="YAML files, later ones overriding earlier ones")
    scan = sub.add_parser("scan", help="scan a prestack SEG-Y file's headers and suggest a grid",
                          description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    scan.add_argument("segy", help="prestack SEG-Y file")
    scan.add_argument("--plot", metavar="DIR", help="write geometry.png and cmp_fold.png into DIR")
    scan.add_argument("--headers", metavar="KEY=BYTE,...",
                      help="bytes of the coordinates and scalar as in survey.headers, e.g. source_x=181,source_y=185")
    args = parser.parse_args(argv)
    if args.command == "check":
        try:
            print(check(args.configs))
        except ValueError as exc:
            print(f"pstm check: {exc}", file=sys.stderr)
            return 1
        return 0
    from pstm.io.segy import SegyError
    from pstm.scan import parse_headers, scan_survey, summary, write_scan

    try:
        headers = parse_headers(args.headers)
        start = time.perf_counter()
        result = scan_survey(args.segy, headers)
        seconds = time.perf_counter() - start
    except (SegyError, ValueError) as exc:
        print(f"pstm scan: {exc}", file=sys.stderr)
        return 2
    print(summary(result), end="")
    print(f"# scanned {result.n_traces} trace headers in {seconds:.2f} s")
    if args.plot:
        out = Path(args.plot)
        write_scan(result, geometry_png=out / "geometry.png", fold_png=out / "cmp_fold.png")
        print(f"# wrote {out / 'geometry.png'} and {out / 'cmp_fold.png'}")
    return 0
