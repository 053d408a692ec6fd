#!/usr/bin/env python
"""How long ``pstm scan`` takes on a large prestack SEG-Y file (headers only), one JSON line.

Writes (once; ``--keep`` reuses it) a prestack SEG-Y file of the orthogonal geometry of
``config/examples/million_traces.yaml`` (6 x 6 km, shots every 50 m on lines 200 m apart, receivers
likewise, a 900 m patch: 1,096,209 traces of 251 samples, 1.36 GB) straight from numpy (headers set,
samples zero: the scan never reads them), then times :func:`pstm.scan.scan_survey` (every trace header
read through a memory map, the grid suggested) and the text summary, and prints::

    {"traces": ..., "file_gb": ..., "scan_seconds": ..., "summary_seconds": ..., "page_cache": ...,
     "suggested_grid": {...}}

``page_cache`` says whether the file was just written (so in the page cache: the figure is the scan's
own work) or dropped from it first with ``--cold`` (needs root: then the disk's read speed counts too).

Example::

    python benchmarks/scan_speed.py --path /tmp/million.sgy --keep
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from pstm.synthetic import orthogonal_geometry  # noqa: E402

GEOMETRY = {"extent_x_m": [0.0, 6000.0], "extent_y_m": [0.0, 6000.0], "shot_line_spacing_m": 200.0,
            "shot_spacing_m": 50.0, "receiver_line_spacing_m": 200.0, "receiver_spacing_m": 50.0,
            "patch_half_width_m": 900.0}


def write_file(path: str, n_samples: int = 251, dt_us: int = 4000, chunk: int = 65536) -> int:
    """The survey's headers (rev 1 bytes, scalar -100) and zero samples, written with numpy; returns traces."""
    g = orthogonal_geometry(GEOMETRY)
    n = g.source_x.size
    record = 240 + 4 * n_samples
    head = bytearray(3600)
    head[:3200] = ("C 1 pstm benchmarks/scan_speed.py: headers only, samples zero".ljust(80) * 40).encode("cp500")
    head[3216:3218] = dt_us.to_bytes(2, "big")
    head[3220:3222] = n_samples.to_bytes(2, "big")
    head[3224:3226] = (5).to_bytes(2, "big")
    head[3500:3502] = (0x0100).to_bytes(2, "big")
    head[3502:3504] = (1).to_bytes(2, "big")
    with open(path, "wb") as fh:
        fh.write(head)
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            rec = np.zeros((b - a, record), np.uint8)

            def put(byte, values, dtype):
                rec[:, byte - 1:byte - 1 + np.dtype(dtype).itemsize] = (
                    np.asarray(values).astype(dtype)[:, None].view(np.uint8))

            put(1, np.arange(a, b) + 1, ">i4")
            put(5, np.arange(a, b) + 1, ">i4")
            put(29, np.ones(b - a), ">i2")
            put(37, np.rint(np.hypot(g.receiver_x[a:b] - g.source_x[a:b], g.receiver_y[a:b] - g.source_y[a:b])), ">i4")
            put(71, np.full(b - a, -100), ">i2")
            for byte, v in ((73, g.source_x), (77, g.source_y), (81, g.receiver_x), (85, g.receiver_y)):
                put(byte, np.rint(v[a:b] * 100), ">i4")
            put(115, np.full(b - a, n_samples), ">u2")
            put(117, np.full(b - a, dt_us), ">u2")
            fh.write(rec.tobytes())
    return n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", default="/tmp/pstm_scan_speed.sgy")
    ap.add_argument("--keep", action="store_true", help="reuse an existing file and keep it afterwards")
    ap.add_argument("--cold", action="store_true", help="drop the page cache first (root only)")
    args = ap.parse_args(argv)
    if not (args.keep and os.path.exists(args.path)):
        write_file(args.path)
    if args.cold:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as fh:
            fh.write("3\n")
    from pstm.scan import scan_survey, summary

    start = time.perf_counter()
    scan = scan_survey(args.path)
    scan_s = time.perf_counter() - start
    start = time.perf_counter()
    summary(scan)
    summary_s = time.perf_counter() - start
    print(json.dumps({"traces": scan.n_traces, "file_gb": round(os.path.getsize(args.path) / 1e9, 3),
                      "scan_seconds": round(scan_s, 2), "summary_seconds": round(summary_s, 2),
                      "page_cache": "dropped" if args.cold else "warm (file just written or read)",
                      "suggested_grid": {k: v for k, v in scan.grid.items() if k != "how"}}))
    if not args.keep:
        os.unlink(args.path)


if __name__ == "__main__":
    main()
