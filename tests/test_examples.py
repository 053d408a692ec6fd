"""Every example configuration validates against the schema (a typo in an example fails here)."""

from pathlib import Path

import pytest
import yaml

from pstm.config import validate_config

EXAMPLES = sorted((Path(__file__).parents[1] / "config").glob("**/*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_config_validates(path):
    config = yaml.safe_load(path.read_text())
    validate_config(config, str(path))


REPO = Path(__file__).parents[1]
DOCS = [REPO / "README.md", REPO / "config" / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _tracked_text_files():
    import subprocess

    try:
        names = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: every text file
        names = [str(p.relative_to(REPO)) for p in REPO.rglob("*") if p.is_file() and ".git" not in p.parts]
    for name in names:
        path = REPO / name
        if path.suffix in (".py", ".md", ".yaml", ".yml", ".smk", ".sh", ".toml", ".rst", "") and path.is_file():
            yield path


def test_repository_cites_nothing_outside_itself():
    """What users get is the repository: nothing in it may point at a sibling folder such as ../shared."""
    import re

    outside = re.compile(r"\.\./shared|shared/bench|SEED_WORKLOAD")
    offenders = [f"{p.relative_to(REPO)}:{n + 1}" for p in _tracked_text_files()
                 for n, line in enumerate(p.read_text(errors="replace").splitlines()) if outside.search(line)
                 and p.name != "test_examples.py"]
    assert not offenders, "cites files outside the repository: " + ", ".join(offenders)


@pytest.mark.parametrize("doc", DOCS, ids=[str(p.relative_to(REPO)) for p in DOCS])
def test_every_relative_link_of_the_docs_exists(doc):
    import re

    missing = [target for target in re.findall(r"\]\(([^)#\s]+)[^)]*\)", doc.read_text())
               if "://" not in target and not (doc.parent / target).exists()]
    assert not missing, f"{doc.relative_to(REPO)} links to missing files: {missing}"


def test_readme_own_data_example_validates_and_writes_to_its_own_folder():
    import re

    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", (REPO / "README.md").read_text(), re.S)]
    own = [b for b in blocks if isinstance(b, dict) and b.get("survey", {}).get("source") == "segy"]
    assert own, "README has no own-data (SEG-Y) example"
    for block in own:
        cfg = validate_config(block, "README.md example")
        default = validate_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
        assert cfg["results"] != default["results"], "the own-data example would overwrite the default run"
