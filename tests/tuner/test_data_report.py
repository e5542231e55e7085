"""data-report.json is DataReport/PreferenceReport.to_json(): every field once, in the file's own key order, the
rejected rows and token lengths as plain objects — the shape `hearth data check --report`, tests and users read."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from tuner.data import Rejected
from tuner.data_report import DataReport, LengthStats, PreferenceReport

COMMON = dict(files={"a.jsonl": "messages"}, rows_kept=3, rejected=[Rejected("a.jsonl", 4, "no reply")],
              train_rows=2, eval_rows=1, max_length=64, end_of_turn_token="<|im_end|>", language="en")


@pytest.mark.parametrize("report_class", [DataReport, PreferenceReport])
def test_every_field_is_written_once(report_class):
    assert sorted(report_class.JSON_KEYS) == sorted([f.name for f in fields(report_class)] + ["rows_rejected"])


def test_an_sft_report_is_the_file_as_it_always_was():
    report = DataReport(**COMMON, truncated_rows=1, token_length=LengthStats.of([5, 64, 20]), assistant_tokens=9)
    assert json.dumps(report.to_json()) == json.dumps({
        "files": {"a.jsonl": "messages"}, "rows_kept": 3, "rows_rejected": 1,
        "rejected": [{"file": "a.jsonl", "line": 4, "reason": "no reply"}], "train_rows": 2, "eval_rows": 1,
        "max_length": 64, "truncated_rows": 1,
        "token_length": {"p50": 20, "p90": 64, "p99": 64, "min": 5, "max": 64, "mean": 29.7},
        "assistant_tokens": 9, "end_of_turn_token": "<|im_end|>", "language": "en"})


def test_a_preference_report_leads_with_its_method():
    report = PreferenceReport(**COMMON, method="kto", pairs=2, desirable=3, undesirable=2)
    assert list(report.to_json()) == ["method", "files", "rows_kept", "rows_rejected", "rejected", "train_rows",
                                      "eval_rows", "pairs", "desirable", "undesirable", "max_length",
                                      "end_of_turn_token", "language"]


def test_no_lengths_measure_zero():
    assert LengthStats.of([]) == LengthStats(0, 0, 0, 0, 0, 0)
