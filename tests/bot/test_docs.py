"""The README stays in step with the code."""

from __future__ import annotations

from bot.settings import settings_table
from tests.utils import REPO


def test_readme_lists_every_setting_as_the_code_defines_it():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert settings_table() in readme, "regenerate with: python -m bot.settings"


def test_readme_quick_start_has_the_two_commands():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
