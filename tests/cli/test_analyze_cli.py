"""`rightsizer analyze` and `rightsizer demo` end to end on the synthetic data set."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import dataset_options

from rightsizer import synth
from rightsizer.cli import main
from rightsizer.engine import duckdb as duckdb_engine
from rightsizer.iam.policy import is_allowed, parse_policy
from rightsizer.render import OUT_MANIFEST, write_outputs
from rightsizer.synth.scenario import (
    CONFIG_READER_ROLE,
    DENIED_OBJECT_ARN,
    EXPORTER_ROLE,
    LAMBDA_ROLES,
    LEGACY_CLEANUP_ROLE,
    REPORT_ROLE,
    THUMBNAILER_ROLE,
)

ROLE_NAMES = [r.name for r in LAMBDA_ROLES]


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(list(args))
    out = capsys.readouterr().out
    return code, json.loads(out)


def analyze_args(ds: synth.SynthDataset, db: Path, *extra: str) -> list[str]:
    return [
        *("analyze", "--source", str(ds.source_dir), "--db", str(db)),
        *dataset_options(ds),
        *("--format", "json", *extra),
    ]


@pytest.fixture(scope="module")
def dark_dataset(tmp_path_factory: pytest.TempPathFactory) -> synth.SynthDataset:
    return synth.generate(tmp_path_factory.mktemp("dark"), days=7, data_events=False)


@pytest.fixture(scope="module")
def analysis(
    dataset: synth.SynthDataset, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    db = tmp_path_factory.mktemp("db") / "r.duckdb"
    out = tmp_path_factory.mktemp("out")
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(analyze_args(dataset, db, "--out", str(out))) == 0
    data = json.loads(buffer.getvalue())
    data["_out"] = str(out)
    data["_db"] = str(db)
    return data


def by_role(analysis: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["role_arn"]: r for r in analysis["roles"]}


def test_every_lambda_role_appears_and_nothing_else(analysis: dict[str, Any]) -> None:
    roles = by_role(analysis)
    assert set(roles) == {r.arn for r in LAMBDA_ROLES}
    assert roles[REPORT_ROLE.arn]["functions"] == ["report-builder", "report-mailer"]


def test_over_privileged_role_is_narrowed(analysis: dict[str, Any]) -> None:
    role = by_role(analysis)[THUMBNAILER_ROLE.arn]
    assert "/service-role/" in role["role_arn"]  # the role path is kept
    policy = parse_policy(role["recommended_policy"])
    assert not is_allowed(policy, "s3:DeleteBucket", "arn:aws:s3:::acme-uploads")
    assert is_allowed(policy, "s3:GetObject", "arn:aws:s3:::acme-uploads/incoming/2026/x.jpg")
    assert not is_allowed(policy, "s3:GetObject", "arn:aws:s3:::acme-secrets/keys.txt")
    assert {"action": "s3:*", "resource": "*"}.items() <= role["diff"]["removed"][0].items()
    assert role["counts"]["after"]["s3_actions"] < role["counts"]["before"]["s3_actions"]
    assert is_allowed(policy, "logs:PutLogEvents", "arn:aws:logs:us-east-1:1:log-group:x")


def test_least_privilege_role_is_unchanged(analysis: dict[str, Any]) -> None:
    role = by_role(analysis)[CONFIG_READER_ROLE.arn]
    assert role["diff"]["removed"] == [] and role["diff"]["unknown"] == []
    assert len(role["diff"]["kept"]) == 2


def test_idle_role_keeps_no_s3_permission(analysis: dict[str, Any]) -> None:
    role = by_role(analysis)[LEGACY_CLEANUP_ROLE.arn]
    assert role["used"] == []
    policy = parse_policy(role["recommended_policy"])
    assert not is_allowed(policy, "s3:DeleteObject", "arn:aws:s3:::acme-legacy/old.txt")
    assert role["counts"]["after"]["s3_actions"] == 0


def test_denied_call_is_reported_and_never_granted(analysis: dict[str, Any]) -> None:
    role = by_role(analysis)[EXPORTER_ROLE.arn]
    assert [d["resource"] for d in role["denied"]] == [DENIED_OBJECT_ARN]
    assert role["denied"][0]["error_code"] == "AccessDenied"
    assert not is_allowed(
        parse_policy(role["recommended_policy"]), "s3:GetObject", DENIED_OBJECT_ARN
    )


def test_kms_keys_are_reported_next_to_s3(analysis: dict[str, Any]) -> None:
    keys = by_role(analysis)[REPORT_ROLE.arn]["kms_keys"]
    assert keys and set(keys[0]["operations"]) == {"Decrypt", "GenerateDataKey"}


def test_out_writes_policies_diffs_and_summary(analysis: dict[str, Any]) -> None:
    out = Path(analysis["_out"])
    names = sorted(p.name for p in out.iterdir())
    assert "summary.json" in names and "thumbnailer-role-x1y2z3.policy.json" in names
    assert "config-reader-role.diff" in names
    written = json.loads((out / "thumbnailer-role-x1y2z3.policy.json").read_text())
    assert written == by_role(analysis)[THUMBNAILER_ROLE.arn]["recommended_policy"]


def test_rerun_is_deterministic_and_ingests_nothing(
    dataset: synth.SynthDataset, analysis: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, again = run_json(capsys, *analyze_args(dataset, Path(analysis["_db"])))
    assert code == 0
    assert again["ingest"]["events_added"] == 0 and again["ingest"]["files_read"] == 0
    strip = {"ingest", "_out", "_db"}
    assert {k: v for k, v in again.items() if k not in strip} == {
        k: v for k, v in analysis.items() if k not in strip
    }


def test_trail_without_data_events_keeps_permissions_as_unknown(
    dark_dataset: synth.SynthDataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, data = run_json(capsys, *analyze_args(dark_dataset, tmp_path / "d.duckdb"))
    assert code == 0
    role = by_role(data)[THUMBNAILER_ROLE.arn]
    policy = parse_policy(role["recommended_policy"])
    assert is_allowed(policy, "s3:GetObject", "arn:aws:s3:::acme-uploads/incoming/x.jpg")
    assert is_allowed(policy, "s3:PutObject", "arn:aws:s3:::acme-thumbnails/thumbs/x.jpg")
    assert role["unknown"] and role["diff"]["unknown"]
    assert any("data-event selector" in w["message"] for w in role["warnings"])


def test_role_filter_and_unknown_role(
    dataset: synth.SynthDataset, analysis: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, data = run_json(
        capsys, *analyze_args(dataset, Path(analysis["_db"]), "--role", "config-reader-role")
    )
    assert code == 0 and [r["role_name"] for r in data["roles"]] == ["config-reader-role"]
    # IAM role names are unique ignoring case, so --role is too.
    code, data = run_json(
        capsys, *analyze_args(dataset, Path(analysis["_db"]), "--role", "Config-Reader-Role")
    )
    assert code == 0 and [r["role_name"] for r in data["roles"]] == ["config-reader-role"]
    code = main(analyze_args(dataset, Path(analysis["_db"]), "--role", "nope"))
    assert code == 2
    err = capsys.readouterr().err
    assert "role 'nope'" in err and "config-reader-role, eu-ingest-role" in err  # names them


def test_missing_snapshot_file_is_a_one_line_error(
    dataset: synth.SynthDataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = analyze_args(dataset, tmp_path / "x.duckdb")
    args[args.index("--iam-details") + 1] = str(tmp_path / "missing.json")
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "missing.json" in err and "\n" not in err


def test_an_unknown_engine_is_a_one_line_error_before_any_work(
    dataset: synth.SynthDataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "r.duckdb"
    assert main(analyze_args(dataset, db, "--engine", "oracle")) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and not db.exists()  # nothing ingested
    err = captured.err.strip()
    assert err.startswith("error:") and "--engine 'oracle' is not one of duckdb" in err
    assert "\n" not in err


def test_markdown_format(
    dataset: synth.SynthDataset, analysis: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    args = analyze_args(dataset, Path(analysis["_db"]))
    args[args.index("json")] = "markdown"
    assert main(args) == 0
    text = capsys.readouterr().out
    assert text.startswith("# S3 right-sizing") and "| thumbnailer-role-x1y2z3 |" in text
    assert f"| **all {len(LAMBDA_ROLES)} roles** |" in text
    assert main([*args, "--role", "report-role"]) == 0
    assert "| **1 role** |" in capsys.readouterr().out  # the totals row of one role


def test_demo_runs_twice_without_aws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, first = run_json(capsys, "demo", "--dir", str(tmp_path / "demo"), "--format", "json")
    assert code == 0 and first["ingest"]["events_added"] > 0
    code, second = run_json(capsys, "demo", "--dir", str(tmp_path / "demo"), "--format", "json")
    assert code == 0 and second["ingest"]["events_added"] == 0
    assert second["roles"] == first["roles"]
    assert (tmp_path / "demo" / "out" / "summary.json").is_file()


def test_output_is_the_documented_contract(analysis: dict[str, Any]) -> None:
    from report_samples import documented_example, field_paths

    documented = field_paths(documented_example())
    actual = field_paths({k: v for k, v in analysis.items() if not k.startswith("_")})
    assert actual - documented == set(), "fields missing from the README's analysis JSON"
    role_fields = {k for k in documented if re.fullmatch(r"\.roles\[\]\.\w+", k)}
    assert role_fields - actual == set(), "documented role fields missing from the output"


def test_event_selectors_read_live_from_cloudtrail(
    dataset: synth.SynthDataset,
    analysis: dict[str, Any],
    moto: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import boto3
    from aws_guard import setup_client

    s3 = setup_client(boto3.client("s3", region_name="us-east-1"))
    s3.create_bucket(Bucket="trail-logs")
    trails = setup_client(boto3.client("cloudtrail", region_name="us-east-1"))
    trails.create_trail(Name="main", S3BucketName="trail-logs", IsMultiRegionTrail=True)
    # Reads are logged for acme-config only; writes nowhere.
    trails.put_event_selectors(
        TrailName="main",
        EventSelectors=[
            {
                "ReadWriteType": "ReadOnly",
                "DataResources": [
                    {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::acme-config/"]}
                ],
            }
        ],
    )
    args = analyze_args(dataset, Path(analysis["_db"]), "--event-selectors", "live")
    code, data = run_json(capsys, *args)
    assert code == 0
    assert {c["source"] for c in data["coverage"]} == {"selectors"}
    config_reader = by_role(data)[CONFIG_READER_ROLE.arn]
    # Its reads are covered; but a copy reads its source in a write event, and no write is
    # logged: only the actions a copy source needs stay unknown.
    assert {u["action"] for u in config_reader["diff"]["unknown"]} == {"s3:GetObject"}
    assert all("copies (CopyObject" in u["reason"] for u in config_reader["unknown"])
    thumbs = by_role(data)[THUMBNAILER_ROLE.arn]
    assert {u["action"] for u in thumbs["unknown"]} >= {"s3:PutObject", "s3:GetObject"}


def break_thumbnailer_recommendation(monkeypatch: pytest.MonkeyPatch) -> None:
    """A generation bug for one role: its object statements are lost, so its replay fails."""
    import dataclasses

    from rightsizer import analyze as analyze_module
    from rightsizer.generate import recommend

    def broken(role: Any, usage: Any, coverage: Any, **kwargs: Any) -> Any:
        rec = recommend(role, usage, coverage, **kwargs)
        if role.arn != THUMBNAILER_ROLE.arn:
            return rec
        kept = tuple(s for s in rec.policy.statements if not (s.sid or "").startswith("S3Obj"))
        return dataclasses.replace(rec, policy=dataclasses.replace(rec.policy, statements=kept))

    monkeypatch.setattr(analyze_module, "recommend", broken)


def test_a_policy_that_fails_its_replay_is_refused_and_names_a_call(
    dataset: synth.SynthDataset,
    analysis: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    break_thumbnailer_recommendation(monkeypatch)
    args = analyze_args(dataset, Path(analysis["_db"]))
    code, data = run_json(capsys, *args)
    assert code == 3
    role = by_role(data)[THUMBNAILER_ROLE.arn]
    assert role["recommended_policy"] is None
    (warning,) = [w for w in role["warnings"] if w["code"] == "verification-failed"]
    assert re.search(r"by thumbnailer \(event [0-9a-f-]{36}\) needs s3:", warning["message"])
    assert by_role(data)[CONFIG_READER_ROLE.arn]["recommended_policy"] is not None


def test_once_configured_analyze_days_90_works_as_typed(
    dataset: synth.SynthDataset,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "rightsizer.toml").write_text(
        f'source = "{dataset.source_dir}"\n'
        f'db = "{tmp_path / "configured.duckdb"}"\n'
        f'iam_details = "{dataset.iam_details}"\n'
        f'lambda_functions = "{dataset.lambda_functions}"\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["analyze", "--days", "90"]) == 0
    table = capsys.readouterr().out
    assert "(90 days)" in table
    assert all(name in table for name in ROLE_NAMES)
    assert "s3:GetObject" in table  # the configured source was ingested: the roles used S3


def test_activity_per_day_adds_up_to_the_calls(analysis: dict[str, Any]) -> None:
    window = analysis["window"]
    for role in analysis["roles"]:
        days = [a["day"] for a in role["activity"]]
        assert days == sorted(days)
        assert all(window["start"][:10] <= day < window["end"][:10] for day in days)
        assert sum(a["calls"] for a in role["activity"]) == role["replay"]["calls"]
        assert sum(a["denied"] for a in role["activity"]) == sum(d["count"] for d in role["denied"])
    exporter = by_role(analysis)[EXPORTER_ROLE.arn]
    assert sum(a["denied"] for a in exporter["activity"]) > 0


# --- --out: a complete, consistent folder ------------------------------------------------------


def output_names(*roles: dict[str, Any]) -> set[str]:
    """The files --out holds for these roles (the synthetic role names are unique)."""
    names = {"summary.json", OUT_MANIFEST}
    for role in roles:
        names.add(f"{role['role_name']}.diff")
        if role["recommended_policy"] is not None:
            names.add(f"{role['role_name']}.policy.json")
    return names


@pytest.mark.parametrize("out", ["a-file", "a-file/below"])
def test_an_out_that_cannot_be_a_folder_fails_before_any_work(
    dataset: synth.SynthDataset, tmp_path: Path, capsys: pytest.CaptureFixture[str], out: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder\n")
    db = tmp_path / "r.duckdb"
    assert main(analyze_args(dataset, db, "--out", str(tmp_path / out))) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # no analysis printed
    assert not db.exists()  # nothing ingested
    err = captured.err.strip()
    assert err.startswith("error:") and str(tmp_path / out) in err and "\n" not in err


def test_a_rerun_removes_the_files_of_roles_it_no_longer_writes_and_keeps_the_users(
    dataset: synth.SynthDataset,
    analysis: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    args = analyze_args(dataset, Path(analysis["_db"]), "--out", str(out))
    assert main(args) == 0
    assert {p.name for p in out.iterdir()} == output_names(*analysis["roles"])
    (out / "README.md").write_text("the user's notes\n")
    assert main([*args, "--role", "config-reader-role"]) == 0
    only = by_role(analysis)[CONFIG_READER_ROLE.arn]
    assert {p.name for p in out.iterdir()} == output_names(only) | {"README.md"}
    assert (out / "README.md").read_text() == "the user's notes\n"
    assert json.loads((out / "summary.json").read_text())["roles"] == [only]
    capsys.readouterr()


def test_a_refused_policy_leaves_no_earlier_policy_file_behind(
    dataset: synth.SynthDataset,
    analysis: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    args = analyze_args(dataset, Path(analysis["_db"]), "--out", str(out))
    assert main(args) == 0
    policy = out / "thumbnailer-role-x1y2z3.policy.json"
    assert policy.is_file()
    break_thumbnailer_recommendation(monkeypatch)
    assert main(args) == 3
    assert not policy.exists()  # an old policy beside a refusal could be applied by mistake
    assert (out / "thumbnailer-role-x1y2z3.diff").is_file()
    capsys.readouterr()


def test_an_interrupted_write_leaves_whole_files_that_the_next_run_settles(
    analysis: dict[str, Any], tmp_path: Path
) -> None:
    data = {key: value for key, value in analysis.items() if not key.startswith("_")}
    roles = data["roles"]
    out = tmp_path / "out"
    write_outputs(data | {"roles": roles[:2]}, out)
    (out / "summary.json").unlink()
    (out / "summary.json").mkdir()  # the run below writes the roles' files, then fails on this
    with pytest.raises(IsADirectoryError):
        write_outputs(data | {"roles": roles[1:]}, out)
    assert {p.name for p in out.iterdir() if p.name.startswith(".")} == {OUT_MANIFEST}
    for path in out.glob("*.policy.json"):
        json.loads(path.read_text())  # whole
    (out / "summary.json").rmdir()
    write_outputs(data | {"roles": roles[:1]}, out)
    assert {p.name for p in out.iterdir()} == output_names(roles[0])


def test_the_manifest_never_removes_a_file_outside_the_folder_or_not_an_output(
    analysis: dict[str, Any], tmp_path: Path
) -> None:
    data = {key: value for key, value in analysis.items() if not key.startswith("_")}
    out = tmp_path / "out"
    out.mkdir()
    outside = tmp_path / "victim.diff"
    outside.write_text("keep\n")
    (out / ".profile").write_text("keep\n")
    (out / OUT_MANIFEST).write_text(f"../victim.diff\n{outside}\n.profile\n\n")
    write_outputs(data, out)
    assert outside.read_text() == "keep\n" and (out / ".profile").read_text() == "keep\n"


def test_the_json_reads_back_into_the_same_document(analysis: dict[str, Any]) -> None:
    from rightsizer.model import Analysis

    data = {key: value for key, value in analysis.items() if not key.startswith("_")}
    typed = Analysis.from_json(data)
    # Key order included: the model declares its fields in the order the JSON writes them.
    assert json.dumps(typed.to_json()) == json.dumps(data)


def test_a_refused_role_is_flagged_in_the_typed_analysis(
    dataset: synth.SynthDataset, analysis: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    from rightsizer.analyze import analyze, load_snapshot
    from rightsizer.store import connect
    from rightsizer.window import Window

    break_thumbnailer_recommendation(monkeypatch)
    snapshot = load_snapshot(str(dataset.iam_details), str(dataset.lambda_functions))
    conn = connect(analysis["_db"], read_only=True)
    try:
        result = analyze(conn, Window.ending(dataset.until, dataset.days), snapshot)
    finally:
        conn.close()
    roles = {role.role_arn: role for role in result.roles}
    assert result.refused == (THUMBNAILER_ROLE.arn,) and result.exit_code == 3
    thumbs = roles[THUMBNAILER_ROLE.arn]
    assert thumbs.refused and thumbs.recommended_policy is None
    assert [w.severity for w in thumbs.warnings if w.code == "verification-failed"] == ["error"]
    assert not roles[CONFIG_READER_ROLE.arn].refused
    assert all(isinstance(row.last_seen, dt.datetime) for row in thumbs.used)


def test_every_registered_format_is_offered_and_prints(
    dataset: synth.SynthDataset, analysis: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from rightsizer.render import FORMATS

    assert main(["analyze", "--help"]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert all(f"{name}" in shown for name in FORMATS)
    for name in FORMATS:
        args = analyze_args(dataset, Path(analysis["_db"]))
        args[args.index("json")] = name
        assert main(args) == 0
        assert "thumbnailer-role-x1y2z3" in capsys.readouterr().out
    args = analyze_args(dataset, Path(analysis["_db"]))
    args[args.index("json")] = "yaml"
    assert main(args) == 2
    assert f"is not one of {', '.join(FORMATS)}" in capsys.readouterr().err


def test_a_format_is_one_registry_entry(
    dataset: synth.SynthDataset,
    analysis: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from rightsizer.render import FORMATS, OutputFormat

    def names(typed: Any, out: Any) -> None:
        out.write("".join(f"{role.role_name}\n" for role in typed.roles))

    monkeypatch.setitem(FORMATS, "names", OutputFormat("names", "", names))
    args = analyze_args(dataset, Path(analysis["_db"]))
    args[args.index("json")] = "names"
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines() == [r["role_name"] for r in analysis["roles"]]


def test_the_table_labels_each_warning_with_its_severity(
    dataset: synth.SynthDataset,
    analysis: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    break_thumbnailer_recommendation(monkeypatch)
    args = analyze_args(dataset, Path(analysis["_db"]))
    args[args.index("json")] = "table"
    assert main(args) == 3
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("error thumbnailer-role-x1y2z3: refused:") for line in lines)
    assert any(
        line.startswith("info exporter-role: the role has the permissions") for line in lines
    )


def test_memory_limit_reaches_every_store_the_run_opens(
    dataset: synth.SynthDataset,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RIGHTSIZER_MEMORY_LIMIT (or memory_limit in rightsizer.toml) lets a big store spill
    less: the ingest's connection and the analysis's both get it."""
    from rightsizer import ingest, store

    seen: list[str] = []
    real_connect = store.connect

    def connect(*args: Any, **kwargs: Any) -> Any:
        conn = real_connect(*args, **kwargs)
        ((limit,),) = conn.execute("SELECT current_setting('memory_limit')").fetchall()
        seen.append(limit)
        return conn

    monkeypatch.setattr(store, "connect", connect)
    monkeypatch.setattr(ingest, "connect", connect)
    monkeypatch.setenv("RIGHTSIZER_MEMORY_LIMIT", "1GB")
    code, data = run_json(capsys, *analyze_args(dataset, tmp_path / "m.duckdb"))
    assert code == 0 and data["ingest"]["events_added"] > 0
    assert len(seen) >= 2 and set(seen) == {"953.6 MiB"}  # DuckDB shows 1 GB in MiB


def test_staging_in_a_scratch_database_gives_the_same_analysis(
    dataset: synth.SynthDataset,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A store of millions of events stages in a scratch database instead of temp tables
    (rightsizer.engine.duckdb): the analysis is the same, every policy and diff byte for byte."""
    attached: list[object] = []
    attach = duckdb_engine._Scratch.attach

    def counted(conn: Any) -> object:
        attached.append(attach(conn))
        return attached[-1]

    monkeypatch.setattr(duckdb_engine._Scratch, "attach", counted)
    outs = {}
    for staging, threshold in (("temp", duckdb_engine.SCRATCH_FROM), ("scratch", -1)):
        monkeypatch.setattr(duckdb_engine, "SCRATCH_FROM", threshold)
        out = tmp_path / staging
        assert main(analyze_args(dataset, tmp_path / f"{staging}.duckdb", "--out", str(out))) == 0
        capsys.readouterr()
        outs[staging] = {path.name: path.read_bytes() for path in out.iterdir()}
        assert all(attached) and bool(attached) == (staging == "scratch")
    summaries = {staging: json.loads(files.pop("summary.json")) for staging, files in outs.items()}
    for summary in summaries.values():
        summary.pop("ingest")  # its run id and times
    assert summaries["scratch"] == summaries["temp"]
    assert outs["scratch"] == outs["temp"]
    assert any(name.endswith(".policy.json") for name in outs["scratch"])
    assert sorted(tmp_path.glob("rightsizer-stage-*")) == []
