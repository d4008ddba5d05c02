"""Synthetic analyses in the shape of the README, shared by the report tests.

`tests/report/test_report_samples.py` keeps them honest against the README's documented example;
this is not a test module itself.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from rightsizer.diff import counts, removed_or_narrowed
from rightsizer.iam.policy import parse_policy

DOC = Path(__file__).resolve().parents[1] / "README.md"  # its "The analysis JSON" section
ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
EVIL_NAME = 'evil"<script>alert(1)</script>\r\nBcc: x@y'

S3_FULL_ACCESS: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:*", "s3-object-lambda:*"], "Resource": "*"}],
}
BASIC_EXECUTION: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ],
}
LOGS_STATEMENT = {**BASIC_EXECUTION["Statement"][0], "Sid": "CarriedOverLogs"}


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(sid: str, actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}


def _used(action: str, resource: str, count: int, last: str) -> dict[str, Any]:
    return {
        "action": action,
        "resource": resource,
        "count": count,
        "first_seen": "2026-09-01T08:00:00Z",
        "last_seen": last,
        "functions": ["sample-function"],
        "example_event_id": f"event-{action}-{count}",
    }


def _role(
    name: str,
    *,
    account: str = ACCOUNT,
    path: str = "/",
    functions: list[str],
    used: list[dict[str, Any]],
    current: list[tuple[str, str, dict[str, Any]]],
    recommended: dict[str, Any],
    removed: list[dict[str, Any]],
    kept: list[dict[str, Any]],
    unknown_grants: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    statements = [s for _, _, doc in current for s in doc["Statement"]]
    # The figures as the analysis counts them, so a sample cannot disagree with its documents.
    before = counts(parse_policy(_policy(*statements)))
    after = counts(parse_policy(recommended))
    role = {
        "role_arn": f"arn:aws:iam::{account}:role{path}{name}",
        "role_name": name,
        "account": account,
        "functions": functions,
        "lambda_role_source": "snapshot",
        "used": used,
        "denied": [],
        "unknown": [],
        "not_granted_by_identity_policy": [],
        "kms_keys": [],
        "activity": [
            {"day": "2026-11-26", "calls": 40, "denied": 0},
            {"day": "2026-11-27", "calls": 52, "denied": 1},
        ],
        "current_policies": [
            {
                "name": pname,
                "kind": kind,
                "arn": f"arn:aws:iam::aws:policy/{pname}",
                "document": doc,
            }
            for pname, kind, doc in current
        ],
        "missing_policies": [],
        "permissions_boundary": None,
        "current_policy": _policy(*statements),
        "recommended_policy": recommended,
        "recommended_policy_size": len(json.dumps(recommended, separators=(",", ":"))),
        "changed": _policy(*statements) != recommended,
        "diff": {
            "removed": removed,
            "kept": kept,
            "unknown": unknown_grants or [],
            "unified": _unified(_policy(*statements), recommended),
        },
        "counts": {
            "before": before,
            "after": after,
            "used_actions": len({u["action"] for u in used}),
            "removed_or_narrowed": removed_or_narrowed(removed),
            "reduction": removed_or_narrowed(removed) / before["grants"]
            if before["grants"]
            else None,
        },
        "out_of_scope": [
            {
                "policy": "AWSLambdaBasicExecutionRole",
                "sid": None,
                "effect": "Allow",
                "actions": ["logs:*"],
                "note": "not S3",
            }
        ],
        "precision_given_up": [],
        "replay": {"calls": 10, "permissions": 4, "not_granted_today": 0, "incomplete": 0},
        "warnings": [],
    }
    role.update(extra)
    return role


def _unified(current: dict[str, Any], recommended: dict[str, Any]) -> str:
    import difflib

    lines = difflib.unified_diff(
        json.dumps(current, indent=2).splitlines(),
        json.dumps(recommended, indent=2).splitlines(),
        "current",
        "recommended",
        lineterm="",
    )
    return "\n".join(lines) + "\n"


def sample_analysis() -> dict[str, Any]:
    """Four Lambda roles: over-privileged, one unused Delete, idle, and unknown write coverage."""
    thumbs_recommended = _policy(
        _allow("S3ReadUploads", ["s3:GetObject"], ["arn:aws:s3:::acme-uploads/incoming/*"]),
        _allow("S3ListUploads", ["s3:ListBucket"], ["arn:aws:s3:::acme-uploads"]),
        _allow("S3WriteThumbs", ["s3:PutObject"], ["arn:aws:s3:::acme-thumbnails/thumbs/*"]),
        # The S3 family beside s3: is carried over as it is, and reported unknown.
        _allow("S3ObjectLambda", ["s3-object-lambda:*"], ["*"]),
        LOGS_STATEMENT,
    )
    writer_current = _policy(
        _allow(
            "Reports",
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            ["arn:aws:s3:::acme-reports/*"],
        )
    )
    writer_recommended = _policy(
        _allow("S3Reports", ["s3:GetObject", "s3:PutObject"], ["arn:aws:s3:::acme-reports/*"]),
        LOGS_STATEMENT,
    )
    archive_current = _policy(
        _allow("Archive", ["s3:ListBucket"], ["arn:aws:s3:::acme-archive"]),
        _allow("ArchiveObjects", ["s3:GetObject"], ["arn:aws:s3:::acme-archive/*"]),
    )
    etl_current = _policy(
        _allow("EtlRead", ["s3:GetObject"], ["arn:aws:s3:::acme-raw/*"]),
        _allow("EtlWrite", ["s3:PutObject"], ["*"]),
    )
    etl_recommended = _policy(
        _allow("S3ReadRaw", ["s3:GetObject"], ["arn:aws:s3:::acme-raw/*"]),
        _allow("S3WriteUnknown", ["s3:PutObject"], ["*"]),
        LOGS_STATEMENT,
    )
    roles = [
        _role(
            "thumbnailer-role",
            path="/service-role/",
            functions=["thumbnailer"],
            used=[
                _used(
                    "s3:GetObject",
                    "arn:aws:s3:::acme-uploads/incoming/*",
                    1234,
                    "2026-11-27T23:10:00Z",
                ),
                _used("s3:ListBucket", "arn:aws:s3:::acme-uploads", 40, "2026-11-20T10:00:00Z"),
                _used(
                    "s3:PutObject",
                    "arn:aws:s3:::acme-thumbnails/thumbs/*",
                    1200,
                    "2026-11-27T23:10:02Z",
                ),
            ],
            current=[
                ("AmazonS3FullAccess", "managed", S3_FULL_ACCESS),
                ("AWSLambdaBasicExecutionRole", "managed", BASIC_EXECUTION),
            ],
            recommended=thumbs_recommended,
            removed=[
                {
                    "action": "s3:*",
                    "resource": "*",
                    "narrowed_to": [
                        {
                            "action": "s3:GetObject",
                            "resource": "arn:aws:s3:::acme-uploads/incoming/*",
                        },
                        {"action": "s3:ListBucket", "resource": "arn:aws:s3:::acme-uploads"},
                        {
                            "action": "s3:PutObject",
                            "resource": "arn:aws:s3:::acme-thumbnails/thumbs/*",
                        },
                    ],
                }
            ],
            kept=[],
            unknown_grants=[{"action": "s3-object-lambda:*", "resource": "*"}],
            evidence=[
                {
                    "action": "s3:GetObject",
                    "resource": "arn:aws:s3:::acme-uploads/incoming/*",
                    "basis": "observed",
                    "observed": {
                        "calls": 1234,
                        "first_seen": "2026-09-01T08:00:00Z",
                        "last_seen": "2026-11-27T23:10:00Z",
                        "functions": ["thumbnailer"],
                        "example_event_id": "event-1",
                    },
                    "companion": None,
                    "unknown": [],
                },
                {
                    "action": "s3:ListBucket",
                    "resource": "arn:aws:s3:::acme-uploads",
                    "basis": "companion",
                    "observed": None,
                    "companion": {
                        "with_calls": ["GetObject"],
                        "reason": "without s3:ListBucket a missing key answers 403",
                        "reference": "docs/s3-event-actions.md#listbucket",
                    },
                    "unknown": [],
                },
                {
                    "action": "s3-object-lambda:*",
                    "resource": "*",
                    "basis": "unknown",
                    "observed": None,
                    "companion": None,
                    "unknown": [
                        {
                            "code": "s3-family-unknown",
                            "reason": "rightsizer does not right-size s3-object-lambda",
                            "fix": "review the grant by hand",
                        }
                    ],
                },
            ],
            kms_keys=[
                {
                    "key_arn": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}",
                    "operations": ["Decrypt"],
                    "count": 5,
                    "buckets": ["acme-uploads"],
                    "last_seen": "2026-11-27T23:10:00Z",
                }
            ],
        ),
        _role(
            "report-writer",
            functions=["nightly-report", "weekly-report"],
            used=[
                _used("s3:GetObject", "arn:aws:s3:::acme-reports/*", 88, "2026-11-26T02:00:00Z"),
                _used("s3:PutObject", "arn:aws:s3:::acme-reports/*", 90, "2026-11-27T02:00:00Z"),
            ],
            current=[("report-writer-inline", "inline", writer_current)],
            recommended=writer_recommended,
            removed=[
                {
                    "action": "s3:DeleteObject",
                    "resource": "arn:aws:s3:::acme-reports/*",
                    "narrowed_to": [],
                }
            ],
            kept=[
                {"action": "s3:GetObject", "resource": "arn:aws:s3:::acme-reports/*"},
                {"action": "s3:PutObject", "resource": "arn:aws:s3:::acme-reports/*"},
            ],
            not_granted_by_identity_policy=[
                {
                    "action": "s3:GetObject",
                    "resource": "arn:aws:s3:::acme-shared/exports/*",
                    "count": 4,
                }
            ],
            denied=[
                {
                    "action": "s3:GetObject",
                    "resource": "arn:aws:s3:::acme-finance/2026/q3.csv",
                    "error_code": "AccessDenied",
                    "event_name": "GetObject",
                    "functions": ["report-writer"],
                    "count": 2,
                    "last_seen": "2026-11-02T02:00:01Z",
                }
            ],
            precision_given_up=[
                {"from": "arn:aws:s3:::acme-reports/2026/q3/*", "to": "arn:aws:s3:::acme-reports/*"}
            ],
        ),
        _role(
            "archive-reader",
            functions=["archive-reader"],
            used=[],
            current=[("archive-inline", "inline", archive_current)],
            recommended=_policy(LOGS_STATEMENT),
            removed=[
                {
                    "action": "s3:GetObject",
                    "resource": "arn:aws:s3:::acme-archive/*",
                    "narrowed_to": [],
                },
                {
                    "action": "s3:ListBucket",
                    "resource": "arn:aws:s3:::acme-archive",
                    "narrowed_to": [],
                },
            ],
            kept=[],
        ),
        _role(
            "etl-loader",
            account=OTHER_ACCOUNT,
            functions=["etl-loader"],
            used=[_used("s3:GetObject", "arn:aws:s3:::acme-raw/*", 5000, "2026-11-27T12:00:00Z")],
            current=[("etl-inline", "inline", etl_current)],
            recommended=etl_recommended,
            removed=[],
            kept=[{"action": "s3:GetObject", "resource": "arn:aws:s3:::acme-raw/*"}],
            unknown_grants=[{"action": "s3:PutObject", "resource": "*"}],
            unknown=[
                {
                    "action": "s3:PutObject",
                    "resource": "*",
                    "reason": "no S3 write data events for account 444455556666 in us-east-1",
                }
            ],
            warnings=[
                {
                    "code": "coverage-unknown",
                    "message": "writes cannot be seen: add a data-event selector for "
                    "WriteOnly S3 events in 444455556666/us-east-1",
                }
            ],
        ),
    ]
    return {
        "schema_version": 2,
        "window": {"start": "2026-08-30T00:00:00Z", "end": "2026-11-28T00:00:00Z", "days": 90},
        "granularity": "prefix",
        "ingest": {
            "run_id": "0" * 32,
            "source": "s3://acme-trail/AWSLogs",
            "window": {"start": "2026-08-30T00:00:00Z", "end": "2026-11-28T00:00:00Z", "days": 90},
            "files_listed": 1300,
            "files_already_ingested": 97,
            "files_skipped_before": 0,
            "files_read": 1200,
            "records": 250012,
            "events_added": 250000,
            "duplicates": 12,
            "bad_records": 0,
            "insight_records": 0,
            "skipped_files": [
                {
                    "key": f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/02/a.json.gz",
                    "reason": "truncated gzip",
                },
                {
                    "key": f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/03/b.json.gz",
                    "reason": "truncated gzip",
                },
                {
                    "key": f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/04/c.json.gz",
                    "reason": "not JSON",
                },
            ],
            "non_log_objects": {"other": 0},
            "unexpected_folders": [],
            "seconds": 1.9,
            "records_per_second": 131000,
            "strict": False,
            "exit_code": 0,
        },
        "store": {"files": 1200, "events": 250000, "skipped_files": 3},
        "coverage": [
            {
                "account": ACCOUNT,
                "region": "us-east-1",
                "read": "covered",
                "write": "covered",
                "source": "inferred",
            },
            {
                "account": OTHER_ACCOUNT,
                "region": "us-east-1",
                "read": "covered",
                "write": "unknown",
                "source": "inferred",
            },
        ],
        "unmapped_events": [
            {"event_source": "s3.amazonaws.com", "event_name": "GetBucketFoo", "count": 3}
        ],
        "roles": sorted(roles, key=lambda r: r["role_arn"]),
    }


def later_analysis() -> dict[str, Any]:
    """The next period: a new role, a grant added to report-writer, GetObject there unused."""
    analysis = sample_analysis()
    analysis["window"] = {
        "start": "2026-09-06T00:00:00Z",
        "end": "2026-12-05T00:00:00Z",
        "days": 90,
    }
    writer = next(r for r in analysis["roles"] if r["role_name"] == "report-writer")
    writer["used"] = [u for u in writer["used"] if u["action"] != "s3:GetObject"]
    get_object = {
        "action": "s3:GetObject",
        "resource": "arn:aws:s3:::acme-reports/*",
        "narrowed_to": [],
    }
    put_policy = {
        "action": "s3:PutBucketPolicy",
        "resource": "arn:aws:s3:::acme-reports",
        "narrowed_to": [],
    }
    writer["diff"]["removed"] = sorted(
        [*writer["diff"]["removed"], get_object, put_policy],
        key=lambda x: (x["action"], x["resource"]),
    )
    writer["diff"]["kept"] = [k for k in writer["diff"]["kept"] if k["action"] != "s3:GetObject"]
    figures = writer["counts"]  # PutBucketPolicy is held now; GetObject and it are removable
    figures["before"]["grants"] += 1
    figures["removed_or_narrowed"] = len(writer["diff"]["removed"])
    figures["reduction"] = figures["removed_or_narrowed"] / figures["before"]["grants"]
    newcomer = copy.deepcopy(next(r for r in analysis["roles"] if r["role_name"] == "etl-loader"))
    newcomer.update(
        role_name="etl-loader-v2",
        functions=["etl-loader-v2"],
        role_arn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/etl-loader-v2",
    )
    analysis["roles"] = sorted([*analysis["roles"], newcomer], key=lambda r: r["role_arn"])
    return analysis


def evil_analysis() -> dict[str, Any]:
    """The sample with a role, function, bucket and key that try to break HTML and headers."""
    analysis = sample_analysis()
    role = next(r for r in analysis["roles"] if r["role_name"] == "report-writer")
    role["role_name"] = EVIL_NAME
    role["role_arn"] = f"arn:aws:iam::{ACCOUNT}:role/{EVIL_NAME}"
    role["functions"] = ["<img src=x onerror=alert(1)>", "fn|pipe`tick"]
    role["used"].append(
        _used(
            "s3:GetObject",
            "arn:aws:s3:::</pre><b>bold</b>/a|b`c``d*e_[x](y)",
            1,
            "2026-11-27T00:00:00Z",
        )
    )
    role["warnings"] = [{"code": "x<y>", "message": '=HYPERLINK("http://e") & <b>'}]
    return analysis


def _strip_jsonc(text: str) -> str:
    # Drop `// ...` comments outside strings; the example has no `//` inside strings.
    return "\n".join(re.sub(r"\s*//.*$", "", line) for line in text.splitlines())


def documented_example() -> dict[str, Any]:
    """The example analysis of the README, parsed."""
    block = re.search(r"```jsonc\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert block, "the README lost its jsonc example"
    text = _strip_jsonc(block.group(1)).replace('"...",', '"2026-11-27T00:00:00Z",')
    text = text.replace('"..."', '"2026-11-27T00:00:00Z"')
    return dict(json.loads(text))


def field_paths(value: Any, prefix: str = "") -> set[str]:
    """Every field of a JSON value as a path: `.roles[].role_arn`, ... (policies left out)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if prefix.endswith(("document", "current_policy", "recommended_policy")):
                continue  # policy documents are free-form IAM JSON
            found.add(f"{prefix}.{key}")
            found |= field_paths(item, f"{prefix}.{key}")
    elif isinstance(value, list):
        for item in value:
            found |= field_paths(item, f"{prefix}[]")
    return found
