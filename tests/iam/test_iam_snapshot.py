"""The IAM snapshot: CLI output files (pages, URL-encoded documents), functions, live boto3."""

from __future__ import annotations

import http.server
import io
import json
import threading
import urllib.parse
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_guard import setup_client

from rightsizer.errors import PolicyError, SourceError
from rightsizer.iam.arn import names_role
from rightsizer.iam.policy import Decision, evaluate, is_allowed, parse_policy
from rightsizer.iam.snapshot import (
    AccountSnapshot,
    ManagedPolicy,
    Role,
    attach_functions,
    load_lambda_functions_file,
    load_live,
    load_snapshot_file,
)

ACCOUNT = "123456789012"
S3_FULL = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
LAMBDA_BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
APP_DATA = f"arn:aws:iam::{ACCOUNT}:policy/app/app-data"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/boundaries/workload-boundary"
INGEST_ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/ingest-role"
EDGE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/edge-role"
EC2_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ec2-role"
ORPHAN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/orphan-role"


def trust(*services: str) -> dict[str, Any]:
    service: str | list[str] = services[0] if len(services) == 1 else list(services)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }


def encoded(document: dict[str, Any]) -> str:
    """A document the way the raw IAM API returns it: URL-encoded JSON text."""
    return urllib.parse.quote(json.dumps(document), safe="")


def role_entry(arn: str, trust_document: Any, **extra: Any) -> dict[str, Any]:
    """A RoleDetailList entry in the shape the AWS CLI prints."""
    path = arn.split(":role", 1)[1].rsplit("/", 1)[0] + "/"
    return {
        "Path": path,
        "RoleName": arn.rsplit("/", 1)[1],
        "RoleId": "AROA" + arn.rsplit("/", 1)[1].upper().replace("-", "")[:12],
        "Arn": arn,
        "CreateDate": "2024-03-01T10:00:00+00:00",
        "AssumeRolePolicyDocument": trust_document,
        "InstanceProfileList": [],
        "RolePolicyList": [],
        "AttachedManagedPolicies": [],
        "Tags": [],
        "RoleLastUsed": {"LastUsedDate": "2026-10-30T08:00:00+00:00", "Region": "us-east-1"},
        **extra,
    }


def policy_entry(arn: str, versions: list[dict[str, Any]], default: str) -> dict[str, Any]:
    """A Policies entry with its version list, as the AWS CLI prints it."""
    return {
        "PolicyName": arn.rsplit("/", 1)[1],
        "PolicyId": "ANPA" + arn.rsplit("/", 1)[1].upper().replace("-", "")[:12],
        "Arn": arn,
        "Path": "/",
        "DefaultVersionId": default,
        "AttachmentCount": 1,
        "PermissionsBoundaryUsageCount": 0,
        "IsAttachable": True,
        "CreateDate": "2015-02-06T18:40:58+00:00",
        "UpdateDate": "2021-09-27T20:16:37+00:00",
        "PolicyVersionList": versions,
    }


def version(version_id: str, document: Any, is_default: bool | None) -> dict[str, Any]:
    out = {"Document": document, "VersionId": version_id, "CreateDate": "2021-09-27T20:16:37Z"}
    if is_default is not None:
        out["IsDefaultVersion"] = is_default
    return out


# AmazonS3FullAccess v1 and v2 and AWSLambdaBasicExecutionRole v1, as AWS publishes them.
S3_FULL_V1 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}
S3_FULL_V2 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:*", "s3-object-lambda:*"], "Resource": "*"}],
}
LAMBDA_BASIC_V1 = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ],
}
APP_DATA_V1 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}
APP_DATA_V2 = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadData",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::app-data/*",
        }
    ],
}


def details_pages() -> list[dict[str, Any]]:
    """Two pages of `aws iam get-account-authorization-details --max-items` output."""
    ingest = role_entry(
        INGEST_ROLE,
        trust("lambda.amazonaws.com"),
        RolePolicyList=[
            {
                "PolicyName": "write-staging",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": {
                        "Effect": "Allow",
                        "Action": "s3:PutObject",
                        "Resource": "arn:aws:s3:::staging/*",
                    },
                },
            }
        ],
        AttachedManagedPolicies=[
            {"PolicyName": "AmazonS3FullAccess", "PolicyArn": S3_FULL},
            {"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": LAMBDA_BASIC},
        ],
        PermissionsBoundary={
            "PermissionsBoundaryType": "Policy",
            "PermissionsBoundaryArn": BOUNDARY,
        },
    )
    ec2 = role_entry(
        EC2_ROLE,
        encoded(trust("ec2.amazonaws.com")),
        RolePolicyList=[{"PolicyName": "read-all", "PolicyDocument": encoded(S3_FULL_V1)}],
    )
    edge = role_entry(
        EDGE_ROLE,
        trust("edgelambda.amazonaws.com", "lambda.amazonaws.com"),
        AttachedManagedPolicies=[{"PolicyName": "app-data", "PolicyArn": APP_DATA}],
    )
    orphan = role_entry(
        ORPHAN_ROLE,
        trust("lambda.amazonaws.com"),
        AttachedManagedPolicies=[
            {"PolicyName": "gone", "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/gone"}
        ],
        PermissionsBoundary={
            "PermissionsBoundaryType": "Policy",
            "PermissionsBoundaryArn": f"arn:aws:iam::{ACCOUNT}:policy/not-exported",
        },
    )
    first = {
        "UserDetailList": [],
        "GroupDetailList": [],
        "RoleDetailList": [ingest, ec2],
        "Policies": [
            policy_entry(
                S3_FULL, [version("v2", S3_FULL_V2, True), version("v1", S3_FULL_V1, False)], "v2"
            ),
        ],
        "IsTruncated": True,
        "Marker": "AAEAAQ==",
    }
    boundary_document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:*", "logs:*"], "Resource": "*"}],
    }
    second = {
        "UserDetailList": [],
        "GroupDetailList": [],
        "RoleDetailList": [edge, orphan],
        "Policies": [
            policy_entry(LAMBDA_BASIC, [version("v1", LAMBDA_BASIC_V1, True)], "v1"),
            # Versions without IsDefaultVersion: DefaultVersionId decides; URL-encoded text.
            policy_entry(
                APP_DATA,
                [version("v1", encoded(APP_DATA_V1), None), version("v2", APP_DATA_V2, None)],
                "v2",
            ),
            policy_entry(BOUNDARY, [version("v1", boundary_document, True)], "v1"),
        ],
        "IsTruncated": False,
    }
    return [first, second]


def merged_output() -> dict[str, Any]:
    """What the AWS CLI prints when it paginates by itself: one object, lists joined."""
    first, second = details_pages()
    return {
        key: first[key] + second[key]
        for key in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
    }


@pytest.fixture
def snapshot_file(tmp_path: Path) -> Path:
    path = tmp_path / "iam-details.json"
    path.write_text(json.dumps(merged_output(), indent=4))
    return path


def test_cli_output_gives_roles_with_their_policies(snapshot_file: Path) -> None:
    snapshot = load_snapshot_file(snapshot_file)
    assert sorted(snapshot.roles) == sorted([INGEST_ROLE, EDGE_ROLE, EC2_ROLE, ORPHAN_ROLE])
    ingest = snapshot.roles[INGEST_ROLE]
    assert (ingest.name, ingest.path) == ("ingest-role", "/service-role/")
    assert ingest.role_id is not None and ingest.role_id.startswith("AROA")
    assert list(ingest.inline_policies) == ["write-staging"]
    assert [p.arn for p in ingest.managed_policies] == sorted([S3_FULL, LAMBDA_BASIC])
    assert [label for label, _ in ingest.policy_sources] == ["write-staging", S3_FULL, LAMBDA_BASIC]
    assert len(ingest.policies) == 3
    assert isinstance(ingest.permissions_boundary, ManagedPolicy)
    assert ingest.permissions_boundary.arn == BOUNDARY
    assert ingest.boundary_document is not None
    assert ingest.missing_policies == ()
    assert snapshot.source == str(snapshot_file)


def test_managed_policies_are_read_in_their_default_version(snapshot_file: Path) -> None:
    snapshot = load_snapshot_file(snapshot_file)
    s3_full = snapshot.managed_policies[S3_FULL]
    assert s3_full.version_id == "v2" and s3_full.name == "AmazonS3FullAccess"
    ingest, edge = snapshot.roles[INGEST_ROLE], snapshot.roles[EDGE_ROLE]
    # Only v2 of AmazonS3FullAccess grants S3 Object Lambda.
    assert is_allowed(ingest.policies, "s3-object-lambda:GetObject", "arn:aws:s3-object-lambda:x")
    assert is_allowed(ingest.policies, "s3:DeleteObject", "arn:aws:s3:::any/key")
    assert is_allowed(ingest.policies, "logs:PutLogEvents", "arn:aws:logs:us-east-1:1:log-group:g")
    # app-data's default is v2 (DefaultVersionId), which reads one bucket; v1 granted s3:*.
    assert snapshot.managed_policies[APP_DATA].version_id == "v2"
    assert is_allowed(edge.policies, "s3:GetObject", "arn:aws:s3:::app-data/k")
    assert evaluate(edge.policies, "s3:PutObject", "arn:aws:s3:::app-data/k") is (
        Decision.IMPLICIT_DENY
    )


def test_url_encoded_documents_are_decoded(snapshot_file: Path) -> None:
    ec2 = load_snapshot_file(snapshot_file).roles[EC2_ROLE]
    assert ec2.trust_policy is not None
    assert ec2.trust_policy.statements[0].principal == {"Service": "ec2.amazonaws.com"}
    assert is_allowed(ec2.policies, "s3:ListBucket", "arn:aws:s3:::b")


def test_lambda_roles_are_those_lambda_can_assume(snapshot_file: Path) -> None:
    snapshot = load_snapshot_file(snapshot_file)
    assert [role.arn for role in snapshot.lambda_roles()] == sorted(
        [INGEST_ROLE, EDGE_ROLE, ORPHAN_ROLE]
    )
    assert not snapshot.roles[EC2_ROLE].is_lambda_role


def test_attached_policies_missing_from_the_snapshot_are_listed(snapshot_file: Path) -> None:
    orphan = load_snapshot_file(snapshot_file).roles[ORPHAN_ROLE]
    assert orphan.missing_policies == (f"arn:aws:iam::{ACCOUNT}:policy/gone",)
    assert orphan.managed_policies == ()
    assert orphan.permissions_boundary == f"arn:aws:iam::{ACCOUNT}:policy/not-exported"
    assert orphan.boundary_document is None


@pytest.mark.parametrize("layout", ["back-to-back", "newline-separated", "list"])
def test_pages_in_any_layout_merge_into_the_same_snapshot(
    tmp_path: Path, snapshot_file: Path, layout: str
) -> None:
    first, second = details_pages()
    text = {
        "back-to-back": json.dumps(first) + json.dumps(second),
        "newline-separated": json.dumps(first, indent=2) + "\n" + json.dumps(second, indent=2),
        "list": json.dumps([first, second]),
    }[layout]
    paged = tmp_path / "paged.json"
    paged.write_text(text + "\n")
    from_pages = load_snapshot_file(paged)
    whole = load_snapshot_file(snapshot_file)
    assert from_pages.roles == whole.roles
    assert from_pages.managed_policies == whole.managed_policies


def test_find_role_by_arn_or_name(snapshot_file: Path) -> None:
    snapshot = load_snapshot_file(snapshot_file)
    assert snapshot.find_role(INGEST_ROLE).name == "ingest-role"
    assert snapshot.find_role("Ingest-Role").arn == INGEST_ROLE
    with pytest.raises(PolicyError, match="'billing' is not in the IAM snapshot"):
        snapshot.find_role("billing")


def test_a_role_is_named_by_its_arn_or_its_name_in_any_case() -> None:
    arn = "arn:aws:iam::111122223333:role/service-role/Thumbnailer-Role"
    assert names_role(arn, arn)
    assert names_role("thumbnailer-role", arn) and names_role("THUMBNAILER-ROLE", arn)
    assert not names_role("role", arn)  # a suffix of the name is another role
    assert not names_role("service-role/Thumbnailer-Role", arn)  # the path is not the name
    assert not names_role(arn.replace("111122223333", "444455556666"), arn)


def test_missing_file_says_how_to_make_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(PolicyError, match="get-account-authorization-details") as caught:
        load_snapshot_file(path)
    assert str(path) in str(caught.value) and "not found" in str(caught.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"RoleDetailList": [}', "not valid JSON (line 1 column 21"),
        ("", "is empty"),
        ("[1]", "page 1 is not a JSON object"),
        ('{"Functions": []}', "no RoleDetailList"),
        ('{"RoleDetailList": [{"RoleName": "x"}]}', "a role entry has no Arn"),
    ],
)
def test_unreadable_snapshots_name_the_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "iam.json"
    path.write_text(content)
    with pytest.raises(PolicyError, match=r"iam\.json") as caught:
        load_snapshot_file(path)
    assert message in str(caught.value)


def test_malformed_policy_names_the_file_role_and_policy(tmp_path: Path) -> None:
    broken = merged_output()
    broken["RoleDetailList"][0]["RolePolicyList"][0]["PolicyDocument"]["Statement"].pop("Effect")
    path = tmp_path / "iam.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(PolicyError) as caught:
        load_snapshot_file(path)
    message = str(caught.value)
    assert str(path) in message
    assert "inline policy write-staging of role ingest-role" in message
    assert "has no Effect" in message


def test_lambda_functions_file_pages_attach_to_roles(tmp_path: Path, snapshot_file: Path) -> None:
    page = {
        "Functions": [
            {"FunctionName": "ingest-orders", "Role": INGEST_ROLE, "Runtime": "python3.12"},
            {"FunctionName": "ingest-returns", "Role": INGEST_ROLE, "Runtime": "python3.12"},
        ],
        "NextMarker": "m1",
    }
    second_region = {
        "Functions": [
            {"FunctionName": "ingest-orders", "Role": INGEST_ROLE},
            # Lambda keeps the role ARN as given; this one leaves out the path.
            {"FunctionName": "edge-rewrite", "Role": f"arn:aws:iam::{ACCOUNT}:role/EDGE-role"},
            {"FunctionName": "elsewhere", "Role": "arn:aws:iam::999999999999:role/other"},
        ]
    }
    path = tmp_path / "functions.json"
    path.write_text(json.dumps(page, indent=2) + json.dumps(second_region))
    mapping = load_lambda_functions_file(path)
    assert mapping[INGEST_ROLE] == ["ingest-orders", "ingest-returns"]
    snapshot = attach_functions(load_snapshot_file(snapshot_file), mapping)
    assert snapshot.roles[INGEST_ROLE].functions == ("ingest-orders", "ingest-returns")
    assert snapshot.roles[EDGE_ROLE].functions == ("edge-rewrite",)
    assert snapshot.roles[EC2_ROLE].functions == ()
    assert snapshot.unmatched_functions == {"arn:aws:iam::999999999999:role/other": ("elsewhere",)}


def test_functions_file_of_the_wrong_kind_is_refused(snapshot_file: Path) -> None:
    with pytest.raises(PolicyError, match="no Functions list"):
        load_lambda_functions_file(snapshot_file)


# --- live account on the local moto server -------------------------------------------------


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def test_load_live_reads_roles_policies_and_functions(moto: str) -> None:
    session = boto3.Session(region_name="us-east-1")
    iam = setup_client(session.client("iam"))
    role = iam.create_role(
        RoleName="ingest-role",
        Path="/service-role/",
        AssumeRolePolicyDocument=json.dumps(trust("lambda.amazonaws.com")),
    )["Role"]
    iam.create_role(
        RoleName="ec2-role", AssumeRolePolicyDocument=json.dumps(trust("ec2.amazonaws.com"))
    )
    iam.put_role_policy(
        RoleName="ingest-role", PolicyName="write-staging", PolicyDocument=json.dumps(APP_DATA_V2)
    )
    policy_arn = iam.create_policy(
        PolicyName="app-data", Path="/app/", PolicyDocument=json.dumps(APP_DATA_V1)
    )["Policy"]["Arn"]
    iam.create_policy_version(
        PolicyArn=policy_arn, PolicyDocument=json.dumps(APP_DATA_V2), SetAsDefault=True
    )
    iam.attach_role_policy(RoleName="ingest-role", PolicyArn=policy_arn)
    iam.put_role_permissions_boundary(RoleName="ingest-role", PermissionsBoundary=policy_arn)
    for region, name in (("us-east-1", "ingest-orders"), ("eu-west-1", "ingest-eu")):
        setup_client(session.client("lambda", region_name=region)).create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role["Arn"],
            Handler="index.handler",
            Code={"ZipFile": _zip()},
        )

    snapshot = load_live(session, regions=["us-east-1", "eu-west-1"])
    ingest = snapshot.roles[role["Arn"]]
    assert ingest.arn.endswith(":role/service-role/ingest-role")
    assert ingest.functions == ("ingest-eu", "ingest-orders")
    assert [r.name for r in snapshot.lambda_roles()] == ["ingest-role"]
    assert list(ingest.inline_policies) == ["write-staging"]
    (managed,) = ingest.managed_policies
    assert (managed.arn, managed.version_id) == (policy_arn, "v2")
    assert isinstance(ingest.permissions_boundary, ManagedPolicy)
    assert is_allowed(ingest.policies, "s3:GetObject", "arn:aws:s3:::app-data/k")
    assert not is_allowed(ingest.policies, "s3:PutObject", "arn:aws:s3:::app-data/k")
    # Only the session's region by default: the eu-west-1 function is not seen.
    default_region = load_live(session)
    assert default_region.roles[role["Arn"]].functions == ("ingest-orders",)
    assert isinstance(default_region, AccountSnapshot)


def test_load_live_without_credentials_names_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance endpoint
    with pytest.raises(SourceError, match="no AWS credentials to call iam:GetAccount"):
        load_live(boto3.Session(region_name="us-east-1"))


class _DenyingIam(http.server.BaseHTTPRequestHandler):
    """Answers every IAM query the way IAM does when the caller lacks the permission."""

    body = (
        '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error>'
        "<Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::"
        f"{ACCOUNT}:user/auditor is not authorized to perform: "
        "iam:GetAccountAuthorizationDetails on resource: *</Message></Error>"
        "<RequestId>4f1c0b5e-0000-4000-8000-000000000000</RequestId></ErrorResponse>"
    ).encode()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(403)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return


@pytest.fixture
def denying_endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _DenyingIam)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_load_live_access_denied_names_the_permission(
    monkeypatch: pytest.MonkeyPatch, denying_endpoint: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", denying_endpoint)
    with pytest.raises(SourceError) as caught:
        load_live(boto3.Session(region_name="us-east-1"))
    message = str(caught.value)
    assert "access denied calling iam:GetAccountAuthorizationDetails" in message
    assert "--iam-details FILE" in message and "\n" not in message


def test_trust_policy_decides_lambda_roles() -> None:
    def role_trusting(statements: list[dict[str, Any]], functions: tuple[str, ...] = ()) -> Role:
        document = parse_policy({"Version": "2012-10-17", "Statement": statements})
        return Role(arn=INGEST_ROLE, name="ingest-role", trust_policy=document, functions=functions)

    lambda_principal = {"Service": ["LAMBDA.amazonaws.com"]}
    allow = {"Effect": "Allow", "Principal": lambda_principal, "Action": "sts:AssumeRole"}
    deny = {"Effect": "Deny", "Principal": lambda_principal, "Action": "sts:*"}
    tag_session = {"Effect": "Allow", "Principal": lambda_principal, "Action": "sts:TagSession"}
    assert role_trusting([allow]).is_lambda_role
    assert not role_trusting([allow, deny]).is_lambda_role
    assert not role_trusting([tag_session]).is_lambda_role
    assert role_trusting([tag_session], functions=("f",)).is_lambda_role
    assert not Role(arn=EC2_ROLE, name="ec2-role").is_lambda_role
