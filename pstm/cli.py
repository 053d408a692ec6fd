"""The ``pstm`` command line.

``pstm scan FILE.sgy [--plot DIR] [--headers source_x=73,source_y=77,...]`` prints what a processor
checks in a prestack SEG-Y file before a run (:mod:`pstm.scan`) and the YAML for ``survey.headers``
and ``grid``; ``--plot DIR`` also writes ``DIR/geometry.png`` (sources, receivers, midpoints) and
``DIR/cmp_fold.png`` (CMP fold on the suggested grid).  Also ``python -m pstm scan ...``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pstm", description="Kirchhoff pre-stack time migration tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    scan = sub.add_parser("scan", help="scan a prestack SEG-Y file's headers and suggest a grid",
                          description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    scan.add_argument("segy", help="prestack SEG-Y file")
    scan.add_argument("--plot", metavar="DIR", help="write geometry.png and cmp_fold.png into DIR")
    scan.add_argument("--headers", metavar="KEY=BYTE,...",
                      help="bytes of the coordinates and scalar as in survey.headers, e.g. source_x=181,source_y=185")
    args = parser.parse_args(argv)
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
