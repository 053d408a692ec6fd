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
