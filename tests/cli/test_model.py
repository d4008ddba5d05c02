"""The typed analysis: it holds every documented field, keeps times as times, reads JSON back."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
from report_samples import documented_example, sample_analysis

from rightsizer.errors import ConfigError
from rightsizer.model import Analysis, as_analysis
from rightsizer.render import to_json
from rightsizer.window import Window


def test_the_documented_example_reads_into_the_model_and_back_unchanged() -> None:
    document = documented_example()
    analysis = Analysis.from_json(document)
    assert analysis.to_json() == document


def test_times_are_times_inside_the_model() -> None:
    analysis = Analysis.from_json(documented_example())
    assert analysis.window == Window(dt.datetime(2026, 8, 30), dt.datetime(2026, 11, 28))
    (role,) = analysis.roles
    assert role.used[0].last_seen == dt.datetime(2026, 11, 27)
    assert role.activity[0].day == dt.date(2026, 11, 1)
    assert role.activity[0].calls == 96
    assert role.counts is not None and role.counts.after.s3_actions == 6
    assert role.precision_given_up[0].from_ == "arn:aws:s3:::b/a/x/*"


def test_refused_is_a_replay_that_ran_and_left_no_policy() -> None:
    document = sample_analysis()
    first, second = document["roles"][:2]
    first["recommended_policy"] = None  # refused: the replay ran
    second["recommended_policy"] = second["replay"] = None  # no recommendation could be made
    analysis = Analysis.from_json(document)
    assert [r.refused for r in analysis.roles] == [True, False, False, False]
    assert analysis.refused == (first["role_arn"],)
    assert analysis.exit_code == 3


def test_a_document_that_does_not_fit_names_the_field() -> None:
    document = sample_analysis()
    index = next(i for i, role in enumerate(document["roles"]) if role["used"])
    document["roles"][index]["used"][0]["count"] = "many"
    with pytest.raises(
        ConfigError, match=rf"analysis\.roles\[{index}\]\.used\[0\]\.count is 'many'"
    ):
        Analysis.from_json(document)
    document = sample_analysis()
    document["roles"][index]["used"][0]["last_seen"] = "yesterday"
    with pytest.raises(ConfigError, match=r"used\[0\]\.last_seen is 'yesterday', not a UTC time"):
        Analysis.from_json(document)


def test_a_newer_schema_is_refused() -> None:
    with pytest.raises(ConfigError, match="schema_version 3"):
        Analysis.from_json({**sample_analysis(), "schema_version": 3})


def test_fields_a_document_lacks_read_as_empty() -> None:
    document = sample_analysis()
    assert "read_events" not in document["coverage"][0]
    del document["roles"][0]["kms_keys"]
    analysis = Analysis.from_json(document)
    assert analysis.coverage[0].read_events == 0
    assert analysis.roles[0].kms_keys == ()
    assert analysis.skipped_log_files == ()  # the sample has none


def test_a_document_is_written_as_given_and_not_changed_by_reading() -> None:
    document = sample_analysis()
    before = copy.deepcopy(document)
    as_analysis(document)
    assert document == before
    assert json.loads(to_json(document)) == before


def test_the_ingest_block_is_the_ingest_summary_field_for_field() -> None:
    import dataclasses

    from rightsizer.ingest import IngestSummary
    from rightsizer.model import IngestRun

    window = Window(dt.datetime(2026, 11, 1), dt.datetime(2026, 11, 8))
    summary = IngestSummary(run_id="r", source="s", window=window, seconds=1.0).as_dict()
    assert [f.name for f in dataclasses.fields(IngestRun)] == list(summary)
    assert json.dumps(as_analysis({**documented_example(), "ingest": summary}).data["ingest"]) == (
        json.dumps(summary)
    )
