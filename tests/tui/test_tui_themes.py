"""F2 switches between a dark and a light theme, and the app's text stays readable in both: every colour in
hearth.tcss is a theme variable, so the muted lines (status, titles, the empty lists' hints) keep their contrast."""

from __future__ import annotations

import pytest

from tui.app import HearthApp
from tui.screens.train import TrainScreen


def _luminance(color) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = color.triplet
    return 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)


def contrast(widget) -> float:
    """WCAG contrast ratio of the widget's text on its (composited) background."""
    style = widget.rich_style
    lighter, darker = sorted((_luminance(style.color), _luminance(style.bgcolor)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


# what to look at on each screen: the plain text and the muted lines the stylesheet dims
HOME = ("Header", "Footer", "#runs", "#personas .empty")
TRAIN = ("#job-status", ".recipe-title", "#recipe", "#data", "#check", "#start")


async def test_f2_switches_dark_and_light_and_text_stays_readable():
    app = HearthApp()
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.theme == "textual-dark" and app.current_theme.dark
        seen = {}
        for theme in ("textual-dark", "textual-light"):
            assert app.theme == theme
            for selector in HOME:
                seen[theme, selector] = contrast(app.screen.query(selector).first())
            await pilot.press("t")
            assert isinstance(app.screen, TrainScreen)
            for selector in TRAIN:
                seen[theme, selector] = contrast(app.screen.query(selector).first())
            await pilot.press("escape")
            await pilot.press("f2")
            await pilot.pause()
        assert app.theme == "textual-dark"  # F2 twice: back where it started
        low = {key: round(value, 2) for key, value in seen.items() if value < 3.0}
        assert not low, low  # 3:1, WCAG's floor for large text and interface parts


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_the_footer_offers_the_theme_key(theme):
    app = HearthApp()
    async with app.run_test(size=(120, 36)) as pilot:
        app.theme = theme
        await pilot.pause()
        keys = [binding.key for (_, binding, enabled, _) in app.screen.active_bindings.values() if binding.show]
        assert "f2" in keys
