"""``python -m pstm check CONFIG [CONFIG ...]``: check configuration files as a run would, before running.

Reads each YAML file (a syntax error names the file, line and column; an empty file is an error), merges
them in order as Snakemake merges ``config/config.yaml`` and ``--configfile`` files, validates the result
against the schema and pstm's rules, checks that the input files it names exist, and checks a SEG-Y file's
headers against its size (:func:`pstm.io.segy.check_segy_file`).  Exit status 0 when every check passes,
1 with pstm's message otherwise.  Snakemake reads a ``--configfile`` itself before pstm's code runs and
reports a YAML error there without file and line: this command names them.
"""

from __future__ import annotations

import argparse
import sys


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
    parser = argparse.ArgumentParser(prog="python -m pstm", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="check configuration files (YAML, schema, input files) without running")
    c.add_argument("configs", nargs="+", metavar="CONFIG", help="YAML files, later ones overriding earlier ones")
    args = parser.parse_args(argv)
    try:
        print(check(args.configs))
    except ValueError as exc:
        print(f"pstm error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
