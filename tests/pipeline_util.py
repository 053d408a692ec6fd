"""Run pstm's stages in-process on a configuration (no Snakemake): fast known-answer tests of the chain."""

from __future__ import annotations

import json
from pathlib import Path

import xarray as xr

from pstm import stages
from pstm.config import normalize, settings_from_dict


def run_pipeline(workdir: Path, config: dict, segy: str | None = None) -> dict:
    """Synthesize (unless ``segy`` is given), index, prefilter, migrate every tile and assemble.

    Returns a dict with the assembled ``image`` dataset, ``gathers`` (or None), ``truth`` (or None)
    and ``settings``.
    """
    workdir = Path(workdir)
    s = settings_from_dict(config)
    truth = None
    if segy is None:
        segy = str(workdir / "survey.sgy")
        stages.synthesize(normalize(s.synthetic), segy, str(workdir / "truth.json"))
        truth = json.loads((workdir / "truth.json").read_text())
    index = str(workdir / "index.nc")
    stages.index_traces(segy, index, normalize(s.survey), normalize(s.grid), normalize(s.time),
                        output_decimation=s.optimization.output_decimation)
    tiles = []
    for tile_id in stages.tile_ids(index):
        traces = str(workdir / f"{tile_id}_traces.nc")
        stages.aperture_prefilter(index, tile_id, traces, normalize(s.migration.science_dict()),
                                  normalize(s.velocity), prefilter=s.optimization.prefilter)
        image = str(workdir / f"{tile_id}_image.nc")
        stages.migrate_tile(traces, image, normalize(s.migration.science_dict()), normalize(s.velocity), threads=2,
                            optimization=normalize(s.optimization), mlx=normalize(s.mlx),
                            anisotropy=normalize(s.anisotropy))
        tiles.append(image)
    gathers = s.migration.offset_classes_m is not None
    stages.assemble(index, tiles, str(workdir / "image.nc"), str(workdir / "image.sgy"), str(workdir / "qc"),
                    normalize(s.qc), truth=str(workdir / "truth.json") if truth else None,
                    gathers_nc=str(workdir / "gathers.nc") if gathers else None,
                    gathers_sgy=str(workdir / "gathers.sgy") if gathers else None, settings=normalize(s))
    return {
        "image": xr.load_dataset(workdir / "image.nc"),
        "gathers": xr.load_dataset(workdir / "gathers.nc") if gathers else None,
        "truth": truth,
        "settings": s,
    }
