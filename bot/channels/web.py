"""The web widget channel (placeholder until the widget lands): nothing beyond the bus."""

from __future__ import annotations

from fastapi import FastAPI

from bot.runtime import Bot


def install(app: FastAPI, bot: Bot) -> None:
    """Mount the widget's routes on the app."""
