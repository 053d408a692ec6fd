"""Deterministic images: the same config gives bit-identical image data, run twice, on any thread count.

The numba kernel parallelizes over output pillars (each pillar's sum is
accumulated by one thread in a fixed trace order), so the thread count
cannot change the order of floating-point additions.
"""

from __future__ import annotations

import pytest

from workflow_util import assert_bit_identical, read_image, reference_run, run_snakemake, write_config  # noqa: F401


@pytest.mark.workflow
def test_same_config_bit_identical_across_runs_and_thread_counts(tmp_path, reference_run):
    """Reference: migrate_tile on 2 threads.  Here: a fresh run on 1 thread, then the same tiles again on 2."""
    cfg = write_config(tmp_path)
    run_snakemake(tmp_path, cfg, "--set-threads", "migrate_tile=1")
    one_thread = read_image(tmp_path)
    ref = read_image(reference_run)
    assert abs(ref[0]).max() > 0
    assert_bit_identical(one_thread[0], ref[0], "image, 1 thread vs 2 threads")
    assert_bit_identical(one_thread[1], ref[1], "fold, 1 thread vs 2 threads")

    # Run the migration again in the same folder (same input file), now on 2 threads.
    proc = run_snakemake(tmp_path, cfg, "--set-threads", "migrate_tile=2", "--forcerun", "migrate_tile")
    assert "migrate_tile" in proc.stdout
    again = read_image(tmp_path)
    assert_bit_identical(again[0], one_thread[0], "image, second run")
    assert_bit_identical(again[1], one_thread[1], "fold, second run")
