"""The workflow on a real SLURM cluster: the tiny survey through workflow/profiles/slurm gives the local image.

``tests/slurm/start_cluster.sh`` installs (apt-get, as root, where missing) and
starts a single-node cluster on this machine: munged, slurmctld and slurmd with
accounting off.  The run goes through ``snakemake-executor-plugin-slurm`` with
the repository's SLURM profile, which queries job states with ``squeue``.
Where the plugin or the cluster is not available the test is skipped with the
reason, which pytest prints in its summary (``-rs``) and as a warning.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings

import pytest
import yaml

from workflow_util import REPO, assert_bit_identical, read_image, reference_run, run_snakemake, write_config  # noqa: F401

PROFILE = REPO / "workflow" / "profiles" / "slurm"
START_CLUSTER = REPO / "tests" / "slurm" / "start_cluster.sh"


def skip(reason: str):
    """Skip, loudly: the reason goes to pytest's summary and to the warnings summary."""
    warnings.warn(f"SLURM test skipped: {reason}", stacklevel=2)
    pytest.skip(f"SLURM test skipped: {reason}")


@pytest.fixture(scope="module")
def slurm_cluster() -> dict:
    """Start (or find) the single-node cluster; return its CPUs and memory (MB) per node."""
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        skip("snakemake-executor-plugin-slurm is not installed (pip install snakemake-executor-plugin-slurm)")
    if shutil.which("bash") is None:
        skip("no bash to run tests/slurm/start_cluster.sh")
    try:
        proc = subprocess.run(["bash", str(START_CLUSTER)], capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        skip("tests/slurm/start_cluster.sh did not finish within 15 minutes")
    if proc.returncode != 0:
        skip(f"no SLURM cluster could be started here: {(proc.stderr or proc.stdout).strip()[-1500:]}")
    info = subprocess.run(["sinfo", "-h", "-o", "%c %m"], capture_output=True, text=True, timeout=30)
    if info.returncode != 0 or not info.stdout.strip():
        skip(f"the SLURM cluster started but sinfo fails: {info.stderr.strip()}")
    cpus, mem = info.stdout.split()[:2]
    return {"cpus": int(cpus), "mem_mb": int(megabytes(mem if mem[-1].isalpha() else mem + "M"))}


def megabytes(text: str) -> float:
    """squeue's memory column (e.g. '2000M', '16G') in MB."""
    m = re.fullmatch(r"([\d.]+)([KMGT]?)", text.strip())
    assert m, text
    return float(m.group(1)) * {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 ** 2, "": 1}[m.group(2)]


def fit_profile_to(cluster: dict) -> list[str]:
    """Command-line overrides that keep the profile's per-rule resources but fit this cluster's one node."""
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    threads = [f"{rule}={min(int(n), cluster['cpus'])}" for rule, n in profile["set-threads"].items()]
    cap = max(500, cluster["mem_mb"] // 2)
    resources = [f"{rule}:{key}={min(int(value), cap) if key == 'mem_mb' else value}"
                 for rule, res in profile["set-resources"].items() for key, value in res.items()]
    return ["--set-threads", *threads, "--set-resources", *resources]


@pytest.mark.workflow
def test_tiny_survey_on_slurm_equals_local_run(tmp_path, slurm_cluster, request):
    overrides = fit_profile_to(slurm_cluster)
    cfg = write_config(tmp_path)
    proc = run_snakemake(
        tmp_path, cfg, "--workflow-profile", str(PROFILE),  # as the README says
        "--slurm-no-account",  # the test cluster has no accounts
        # Poll quickly: the tiny jobs take seconds.
        "--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "2",
        *overrides, timeout=1200)
    out = proc.stdout
    # Every job went through sbatch.
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", out)
    assert len(submitted) >= 4 + 4 + 4, out[-3000:]  # synthesize, index, 4 prefilter, 4 migrate, assemble, profile
    assert "squeue" in (PROFILE / "config.yaml").read_text()
    run_id = re.search(r"SLURM run ID: (\S+)", out).group(1)

    # Per-rule resources reached SLURM: CPUs and memory of each job, as squeue reports them.
    jobs = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%j|%k|%C|%m|%T"], capture_output=True, text=True,
                          timeout=30).stdout.splitlines()
    mine = [line.split("|") for line in jobs if line.startswith(run_id + "|")]
    assert mine, "squeue does not list this run's jobs"
    wanted = dict(o.split("=", 1) for o in overrides[overrides.index("--set-resources") + 1:] if ":mem_mb=" in o)
    threads = dict(o.split("=") for o in overrides[1:overrides.index("--set-resources")])
    for _, comment, cpus, mem, state in mine:
        rule = re.sub(r"^rule_|_wildcards_.*$", "", comment)
        assert state == "COMPLETED", (comment, state)
        if rule in threads:  # the profile's set-threads (other rules keep their own threads)
            assert int(cpus) == int(threads[rule]), (comment, cpus)
        assert abs(megabytes(mem) - int(wanted[f"{rule}:mem_mb"])) < 1, (comment, mem)

    # The local run (a session fixture, asked for only now so that a skip above costs no run).
    reference_run = request.getfixturevalue("reference_run")
    image, fold = read_image(tmp_path)
    ref_image, ref_fold = read_image(reference_run)
    assert_bit_identical(image, ref_image, "image, SLURM vs local")
    assert_bit_identical(fold, ref_fold, "fold, SLURM vs local")
