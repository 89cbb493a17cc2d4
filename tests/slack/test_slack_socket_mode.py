"""Socket Mode: the same bolt app over a WebSocket; re-sent envelopes get one reply."""

from __future__ import annotations

from tests.slack.kit import dm, running, slack_settings, wait_for


async def test_socket_mode_acks_every_envelope_and_replies_once(
    tmp_path, fake_slack, fake_embedder
):
    settings = slack_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'socket.db'}",
        fake_slack,
        slack_mode="socket",
        slack_app_token="xapp-test",
        slack_signing_secret="",
    )
    event = dm("U1", "How do I export my data?")
    async with running(settings, fake_embedder) as slack:
        routes = {getattr(route, "path", None) for route in slack.app.routes}
        assert "/slack/events" not in routes
        await wait_for(lambda: fake_slack.socket_connected)
        for envelope_id in ("env-1", "env-2", "env-3"):  # Slack re-sends until acked
            fake_slack.send_envelope(
                {
                    "envelope_id": envelope_id,
                    "type": "events_api",
                    "accepts_response_payload": False,
                    "retry_attempt": 0 if envelope_id == "env-1" else 1,
                    "retry_reason": "" if envelope_id == "env-1" else "timeout",
                    "payload": event,
                }
            )
        await wait_for(lambda: sorted(fake_slack.acks) == ["env-1", "env-2", "env-3"])
        await slack.settle()
    assert len(fake_slack.posts("D_U1")) == 1
    assert fake_slack.count("apps.connections.open") >= 1
