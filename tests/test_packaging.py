"""The installed `supportbot` script must find every package of the checkout.

The console script runs with `.venv/bin` first on `sys.path`, not the checkout, so a top-level
package that `pyproject.toml` does not list imports only from a shell inside the repo.
"""

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_top_level_package_is_installed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = sorted(
        path.parent.name for path in ROOT.glob("*/__init__.py") if path.parent.name != "tests"
    )
    assert "bench" in packages
    missing = [name for name in packages if not any(fnmatch.fnmatch(name, p) for p in patterns)]
    assert missing == [], f"add {missing} to [tool.setuptools.packages.find] include"
