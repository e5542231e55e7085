"""The job log wraps its lines to the width it shows: at 80 columns a long stage line, a rejected row or the data
check's table reaches its last character on screen instead of being cut at the log's edge."""

from __future__ import annotations

import pytest
from rich.table import Table

from tui.app import HearthApp
from tui.widgets.job_log import JobLog

LONG = ("0 would be cut at max length 512; 324 tokens carry the loss (replies ending in <|im_end|>) — "
        "run tiny-offline-20250101-000000 (tiny-offline): 4 steps logged; has an adapter, a merged model")


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
async def test_lines_wrap_to_the_logs_visible_width(size):
    app = HearthApp()
    async with app.run_test(size=size) as pilot:
        await pilot.press("t")
        log = app.screen.query_one(JobLog)
        await pilot.pause()
        log.say(LONG, "bold")
        table = Table(title="tokens per conversation (/some/rather/long/path/to/the/tokenizer/of/the/base)")
        for column in ("min", "p50", "p90", "p99", "max", "mean"):
            table.add_column(column)
        table.add_row("44", "46", "48", "48", "48", "46.1")
        log.write(table)
        for _ in range(20):  # enough lines for the scrollbar to take its column
            log.say("a stage line")
        await pilot.pause()
        visible = log.scrollable_content_region.width
        assert max(line.cell_length for line in log.lines) <= visible
        text = "".join(line.text for line in log.lines)
        assert "".join(LONG.split()) in "".join(text.split())  # every character of the line is on screen
