"""The insight dashboard: metric definitions (pure, `definitions.py`), the per-conversation
facts rollup (`rollup.py`) and the read models the dashboard and its API answer from
(`queries.py`)."""

from bot.cme.insights.definitions import Facts, History, facts
from bot.cme.insights.queries import DASHBOARD, InsightError, Window, drill_down
from bot.cme.insights.rollup import compute, load_histories, refresh

__all__ = [
    "DASHBOARD",
    "Facts",
    "History",
    "InsightError",
    "Window",
    "compute",
    "drill_down",
    "facts",
    "load_histories",
    "refresh",
]
