"""The report model and its three renderings, on synthetic analyses."""

from __future__ import annotations

import base64
import datetime as dt
import re
import struct
from html.parser import HTMLParser

import pytest
from report_samples import evil_analysis, sample_analysis

from rightsizer.report import build_report, render_charts, render_html, render_markdown, render_text
from rightsizer.report.build import bucket_of
from rightsizer.report.charts import activity, chart_roles
from rightsizer.report.errors import ReportError
from rightsizer.report.grants import actions_matching, is_high_risk


class _Collector(HTMLParser):
    """Tags, attributes and text of an HTML page, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Collector:
    parser = _Collector()
    parser.feed(html)
    parser.close()
    return parser


def test_summary_figures() -> None:
    report = build_report(sample_analysis(), previous=None)
    s = report.summary
    assert s.roles_analysed == 4
    assert s.idle_roles == 1
    # thumbnailer: s3:* and s3-object-lambda:* on *; writer: Get, Put, Delete; archive: Get,
    # List; etl: Get, Put on *. Counted as the analysis counts them, before and after alike.
    assert s.grants_before == 9
    assert s.grants_removed == 4
    assert s.share_removed == 4 / 9
    assert s.grants_after == 4 + 2 + 0 + 2
    assert {(x.role_name, x.action, x.resource) for x in s.high_risk_removed} == {
        ("thumbnailer-role", "s3:*", "*"),
        ("report-writer", "s3:DeleteObject", "arn:aws:s3:::acme-reports/*"),
    }
    assert s.roles_unknown_coverage == ("etl-loader", "thumbnailer-role")
    assert s.denied_calls == 2
    assert (s.window_start, s.window_end, s.days) == (
        "2026-08-30T00:00:00Z",
        "2026-11-28T00:00:00Z",
        90,
    )
    assert report.ingest.skipped_total == 3
    assert [(g.reason, g.count) for g in report.ingest.skipped] == [
        ("truncated gzip", 2),
        ("not JSON", 1),
    ]


def test_role_sections() -> None:
    report = build_report(sample_analysis(), previous=None)
    thumbs = next(r for r in report.roles if r.role_name == "thumbnailer-role")
    assert thumbs.functions == ("thumbnailer",)
    assert [b.bucket for b in thumbs.buckets] == ["acme-thumbnails", "acme-uploads"]
    uploads = thumbs.buckets[1]
    assert uploads.calls == 1274
    assert uploads.last_seen == "2026-11-27T23:10:00Z"
    assert thumbs.actions_held == len(actions_matching("s3:*")) > 100
    assert (thumbs.actions_recommended, thumbs.actions_used) == (3, 3)
    assert (
        thumbs.removed[0].narrowed_to[0] == "s3:GetObject on arn:aws:s3:::acme-uploads/incoming/*"
    )
    archive = next(r for r in report.roles if r.role_name == "archive-reader")
    assert archive.idle and archive.grants_after == 0


def test_high_risk_rule() -> None:
    assert is_high_risk("s3:*", "arn:aws:s3:::b/*")
    assert is_high_risk("s3:GetObject", "*")
    assert is_high_risk("s3:Delete*", "arn:aws:s3:::b/*")
    assert is_high_risk("s3:putobject", "arn:aws:s3:::b/*")  # action names ignore case
    assert is_high_risk("s3:*Object", "arn:aws:s3:::b/*")  # covers DeleteObject
    assert not is_high_risk("s3:GetObject", "arn:aws:s3:::b/*")
    assert not is_high_risk("s3:List*", "arn:aws:s3:::b")


def test_a_narrowed_high_risk_grant_says_what_replaces_it() -> None:
    # s3:* on * is narrowed, not removed: every rendering names what it becomes.
    report = build_report(sample_analysis(), previous=None)
    narrowed = "s3:PutObject on arn:aws:s3:::acme-thumbnails/thumbs/*"
    text = render_text(report)
    section = text[text.index("HIGH-RISK GRANTS REMOVED OR NARROWED") :]
    assert "Recommended instead" in section and narrowed in section
    assert "nothing: unused" in section  # report-writer's DeleteObject is removed
    markdown = render_markdown(report)
    assert "## High-risk grants removed or narrowed" in markdown
    assert "`s3:PutObject on arn:aws:s3:::acme-thumbnails/thumbs/*`" in markdown
    html = render_html(report)
    assert "High-risk grants removed or narrowed" in html and "Recommended instead" in html


def test_bucket_of() -> None:
    assert bucket_of("arn:aws:s3:::acme/a/b.txt") == "acme"
    assert bucket_of("arn:aws-cn:s3:::acme") == "acme"
    assert bucket_of("*") == "*"


def test_text_report() -> None:
    text = render_text(build_report(sample_analysis(), previous=None))
    assert "2026-08-30 00:00 UTC to 2026-11-28 00:00 UTC (90 days)" in text
    assert "4 of 9 (44%)" in text
    assert "2 of 5 held" in text
    assert "first report stored in this database" in text
    assert "truncated gzip" in text and "not JSON" in text
    assert "ROLE thumbnailer-role" in text
    assert "s3:DeleteObject (high risk)" in text
    assert "coverage-unknown: writes cannot be seen" in text
    assert '"arn:aws:s3:::acme-thumbnails/thumbs/*"' in text  # the recommended policy
    assert "1,234" in text


def _table_rows(markdown: str) -> list[list[str]]:
    """The tables of a Markdown text, each a list of its lines."""
    tables, current = [], []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables


def _cells(row: str) -> int:
    return len(re.findall(r"(?<!\\)\|", row)) - 1


def test_markdown_report_tables_hold_together() -> None:
    for analysis in (sample_analysis(), evil_analysis()):
        markdown = render_markdown(build_report(analysis, previous=None))
        tables = _table_rows(markdown)
        assert len(tables) >= 8
        for table in tables:
            assert re.fullmatch(r"\|(-+:?\|)+", table[1].replace("---:", "---"))
            assert {_cells(row) for row in table} == {_cells(table[0])}, table


def test_markdown_report() -> None:
    markdown = render_markdown(build_report(sample_analysis(), previous=None))
    assert markdown.startswith("# Lambda S3 permissions report\n")
    assert "| S3 grants removed or narrowed | 4 of 9 (44%) |" in markdown
    assert "### thumbnailer-role" in markdown
    assert "```json\n{\n" in markdown
    assert "```diff\n--- current\n" in markdown


def test_html_report_is_self_contained() -> None:
    report = build_report(sample_analysis(), previous=None)
    page = _parse(render_html(report))
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    charts = render_charts(report)
    assert len(images) == len(charts) == 2  # grants per role, activity per day
    for image, chart in zip(images, charts, strict=True):
        src = image["src"] or ""
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]) == chart.png
    # Nothing is fetched from elsewhere: no external stylesheet, script or image.
    assert not [t for t, a in page.tags if t in ("link", "script")]
    assert "thumbnailer-role" in "".join(page.text)


def test_html_report_in_email_references_images_by_content_id() -> None:
    report = build_report(sample_analysis(), previous=None)
    page = _parse(render_html(report, images="cid"))
    sources = [a["src"] for t, a in page.tags if t == "img"]
    assert sources == [
        "cid:grants-per-role@rightsizer.report",
        "cid:activity-per-day@rightsizer.report",
    ]


def _png_chunks(png: bytes) -> list[bytes]:
    chunks, offset = [], 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        chunks.append(png[offset + 4 : offset + 8])
        offset += 12 + length
    return chunks


def test_chart_is_a_deterministic_png() -> None:
    first = render_charts(build_report(sample_analysis(), previous=None))
    second = render_charts(build_report(sample_analysis(), previous=None))
    assert [c.name for c in first] == ["grants-per-role", "activity-per-day"]
    for one, two in zip(first, second, strict=True):
        assert one.png == two.png
        assert one.png.startswith(b"\x89PNG\r\n\x1a\n")
        assert b"tEXt" not in _png_chunks(one.png)  # no Software or time stamp
    assert "thumbnailer-role: 180 S3 actions allowed today" in first[0].alt
    assert "S3 calls on 2 of 90 days" in first[1].alt


def test_a_window_ending_mid_day_marks_its_last_day_partial_not_a_fall() -> None:
    analysis = sample_analysis()
    # `--until` at noon: the window holds the first and the last day half each.
    analysis["window"] = {"start": "2026-08-29T12:00:00Z", "end": "2026-11-27T12:00:00Z"}
    report = build_report(analysis, previous=None)
    data = activity(report)
    assert data is not None
    assert data.days[0] == dt.date(2026, 8, 29) and data.days[-1] == dt.date(2026, 11, 27)
    assert data.partial == {dt.date(2026, 8, 29): 12.0, dt.date(2026, 11, 27): 12.0}
    chart = render_charts(report)[1]
    assert "Nov 27 is partial (12 of 24 hours)" in chart.alt

    whole = activity(build_report(sample_analysis(), previous=None))
    assert whole is not None and whole.partial == {}  # midnight to midnight: every day whole
    assert whole.days[-1] == dt.date(2026, 11, 27)  # the end is exclusive: Nov 28 is not in


def test_no_activity_chart_without_activity() -> None:
    analysis = sample_analysis()
    for role in analysis["roles"]:
        role["activity"] = []
    assert [c.name for c in render_charts(build_report(analysis, previous=None))] == [
        "grants-per-role"
    ]


def test_renderings_are_deterministic() -> None:
    one = build_report(sample_analysis(), previous=None)
    two = build_report(sample_analysis(), previous=None)
    assert render_html(one) == render_html(two)
    assert render_markdown(one) == render_markdown(two)
    assert render_text(one) == render_text(two)


def test_no_roles() -> None:
    analysis = sample_analysis()
    analysis["roles"] = []
    report = build_report(analysis, previous=None)
    assert render_charts(report) == []
    assert "hold no S3 grants" in render_html(report)
    assert "n/a" in render_text(report)


def test_hostile_names_cannot_break_html() -> None:
    report = build_report(evil_analysis(), previous=None)
    html = render_html(report)
    page = _parse(html)
    tags = {tag for tag, _ in page.tags}
    assert "script" not in tags
    assert not [a for _, a in page.tags if any(k.startswith("on") for k in a)]
    assert "<b>bold</b>" not in html and "<img src=x" not in html
    text = "".join(page.text)
    # The name is shown, with its line break made visible rather than acted on.
    assert 'evil"<script>alert(1)</script>\\r\\nBcc: x@y' in text
    assert "</pre><b>bold</b>/a|b`c``d*e_[x](y)" in text
    ids = [a["id"] for _, a in page.tags if "id" in a]
    assert len(ids) == len(set(ids))


def test_hostile_names_in_text_and_markdown() -> None:
    report = build_report(evil_analysis(), previous=None)
    text = render_text(report)
    assert "\r" not in text
    assert 'ROLE evil"<script>alert(1)</script>\\r\\nBcc: x@y\n' in text
    markdown = render_markdown(report)
    assert "\r" not in markdown
    # Outside code (where Markdown shows text verbatim) no `<` may be left unescaped.
    prose = re.sub(r"^(`{3,}).*?^\1$", "", markdown, flags=re.S | re.M)
    prose = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", prose)
    assert re.findall(r"(?<!\\)<(?!br>)", prose) == []
    assert r'evil"\<script\>alert(1)\</script\>\\r\\nBcc: x@y' in markdown


def test_renderings_are_tidy() -> None:
    for analysis in (sample_analysis(), evil_analysis()):
        report = build_report(analysis, previous=None)
        for rendered in (render_markdown(report), render_text(report)):
            assert "\n\n\n" not in rendered
            assert not re.search(r"[ \t]+\n", rendered)


def test_chart_shows_the_most_over_privileged_roles() -> None:
    analysis = sample_analysis()
    template = analysis["roles"]
    analysis["roles"] = [
        {**template[i % 4], "role_name": f"role-{i:02d}", "role_arn": f"arn:aws:iam::1:role/{i}"}
        for i in range(30)
    ]
    report = build_report(analysis, previous=None)
    shown, left_out = chart_roles(report)
    assert (len(shown), left_out) == (25, 5)
    excess = [r.actions_held - r.actions_used for r in shown]
    assert excess == sorted(excess, reverse=True) and excess[0] == 177
    hidden = [r for r in report.roles if r not in shown]
    assert max(r.actions_held - r.actions_used for r in hidden) <= excess[-1]
    assert "(25 most over-privileged of 30)" in render_charts(report)[0].title


def test_unsupported_analysis_is_refused() -> None:
    analysis = sample_analysis()
    analysis["schema_version"] = 3
    with pytest.raises(ReportError, match="schema_version 3"):
        build_report(analysis, previous=None)


def test_kms_keys_and_log_only_roles_are_shown() -> None:
    analysis = sample_analysis()
    etl = next(r for r in analysis["roles"] if r["role_name"] == "etl-loader")
    etl["lambda_role_source"] = "user_agent"
    report = build_report(analysis, previous=None)
    text, markdown = render_text(report), render_markdown(report)
    key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert f"{key}  Decrypt     acme-uploads" in text
    assert f"| `{key}` | Decrypt | acme-uploads | 5 |" in markdown
    assert "user agent; not in the IAM snapshot" in text.split("ROLE etl-loader")[1]
    assert "user agent" not in text.split("ROLE etl-loader")[0]
