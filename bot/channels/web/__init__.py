"""The web widget: one script tag on the host page, messages over REST, live events over a
WebSocket fed per conversation (see `routes` for the socket protocol, `feed` for ordering)."""

from bot.channels.web.routes import STATIC, install

__all__ = ["STATIC", "install"]
