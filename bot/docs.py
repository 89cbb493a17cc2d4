"""Generated documentation: the README's settings table comes from `Settings` itself."""

from __future__ import annotations

from bot.settings import Settings


def settings_table() -> str:
    """A markdown table of every setting, its default and its description."""
    rows = ["| setting | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        if field.default_factory is not None:
            default = ",".join(field.default_factory())  # type: ignore[call-arg]
        else:
            default = "" if field.default in (None, "") else str(field.default)
        shown = f"`{default}`" if default else "(empty)"
        rows.append(f"| `SUPPORTBOT_{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table())
