"""Selectors show what they select: at 80×24 and 120×36 the chat and tarot screens' model selector has room for the
whole `quant · run` label (below 120 columns the labels beside it go, or the tarot setup folds into two rows)."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from tui_helpers import make_run

from tui.app import HearthApp
from tui.catalog import model_label

RUN = "tiny-offline-20250101-000000"


def _room(select) -> int:
    return select.query_one("SelectCurrent #label").region.width


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
@pytest.mark.parametrize("screen_key, setup", [("c", "#chat-setup"), ("a", "#tarot-setup")])
async def test_the_model_selector_shows_its_whole_value(size, screen_key, setup, tiny_gguf):
    run = make_run(RUN, gguf=tiny_gguf)
    label = model_label(next(run.gguf.glob("*.gguf")))
    assert label == f"f16 · {RUN}"
    app = HearthApp()
    async with app.run_test(size=size) as pilot:
        await pilot.press(screen_key)
        await pilot.pause()
        screen = app.screen
        assert screen.has_class("-narrow" if size[0] < 120 else "-wide")
        model = screen.query_one(f"{setup} #model")
        assert _room(model) >= cell_len(label), (_room(model), label)
        for widget in screen.query_one(setup).children:  # nothing pushed off the right edge or over the bottom
            if widget.display:
                assert widget.region.right <= size[0] and widget.region.height > 0, widget
