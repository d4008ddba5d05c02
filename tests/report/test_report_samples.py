"""The report samples keep to the README: they use only documented fields, carry every
documented role field, and the documented example itself builds a report."""

from __future__ import annotations

from report_samples import (
    documented_example,
    evil_analysis,
    field_paths,
    later_analysis,
    sample_analysis,
)

from rightsizer.report import build_report, render_html, render_markdown, render_text


def test_samples_use_only_documented_fields() -> None:
    documented = field_paths(documented_example())
    for analysis in (sample_analysis(), later_analysis(), evil_analysis()):
        assert field_paths(analysis) - documented == set()


def test_samples_carry_every_documented_role_field() -> None:
    documented = {k for k in field_paths(documented_example()) if k.startswith(".roles[].")}
    assert documented - field_paths(sample_analysis()) == set()


def test_documented_example_builds_and_renders() -> None:
    report = build_report(documented_example(), previous=None)
    assert [r.role_name for r in report.roles] == ["thumbnailer-role"]
    assert "thumbnailer-role" in render_text(report)
    assert "thumbnailer-role" in render_markdown(report)
    assert "thumbnailer-role" in render_html(report)
