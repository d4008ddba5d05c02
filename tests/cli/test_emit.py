"""`analyze --out DIR --emit terraform,cloudformation,cli`: deployable forms, end to end.

The synthetic data set is analyzed through the CLI twice: at prefix granularity (every
recommendation fits one inline policy) and at object granularity (some are over IAM's inline
limit and are split into managed policies). Every CloudFormation file is checked by cfn-lint,
every Terraform file is parsed by python-hcl2, every script by `bash -n`, and the scripts of two
roles are run with the AWS CLI against the moto server: apply, then rollback.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import hcl2
import pytest
from aws_guard import setup_client
from cfnlint.api import lint_file
from conftest import skip_or_fail
from hcl2.utils import SerializationOptions

from rightsizer import synth
from rightsizer.cli import main
from rightsizer.emit.forms import MANAGED_POLICIES_PER_ROLE
from rightsizer.fitting import INLINE_POLICY_LIMIT, MANAGED_POLICY_LIMIT
from rightsizer.iam.policy import policy_size
from rightsizer.render import OUT_MANIFEST
from rightsizer.synth.scenario import ACCOUNT_ID, LEGACY_CLEANUP_ROLE, THUMBNAILER_ROLE

FORMS = "terraform,cloudformation,cli"
AWS_MANAGED = "arn:aws:iam::aws:policy/"
COPIED_MANAGED = f"arn:aws:iam::{ACCOUNT_ID}:policy/aws/"


def _analyze(
    ds: synth.SynthDataset, db: Path, out: Path, details: Path, *extra: str
) -> dict[str, Any]:
    args = [
        "analyze",
        "--db",
        str(db),
        "--iam-details",
        str(details),
        "--until",
        ds.until.isoformat(),
        "--days",
        str(ds.days),
        "--format",
        "json",
        "--out",
        str(out),
        *extra,
    ]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(args) == 0
    return json.loads(buffer.getvalue())


@pytest.fixture(scope="module")
def copied(dataset: synth.SynthDataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The IAM snapshot with AWS's managed policies copied into the account: moto holds none of
    AWS's own, so the scripts are run against roles of this snapshot."""
    path = tmp_path_factory.mktemp("moto") / "iam-details.json"
    path.write_text(dataset.iam_details.read_text().replace(AWS_MANAGED, COPIED_MANAGED))
    return path


@pytest.fixture(scope="module")
def outs(
    dataset: synth.SynthDataset, copied: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, dict[str, Any]]]:
    """granularity → (the --out folder, the analysis JSON); "moto-" + granularity: the same
    from the `copied` snapshot."""
    db = tmp_path_factory.mktemp("db") / "r.duckdb"
    ingest = ["--source", str(dataset.source_dir)]
    result = {}
    for details, prefix in ((dataset.iam_details, ""), (copied, "moto-")):
        for granularity in ("prefix", "object"):
            out = tmp_path_factory.mktemp(granularity)
            extra = [*ingest, "--granularity", granularity, "--emit", FORMS]
            result[prefix + granularity] = (out, _analyze(dataset, db, out, details, *extra))
            ingest = []
    return result


def _words(path: Path) -> str:
    """A file's words, comment markers left out: its wrapped comment lines read as one."""
    return " ".join(word for word in path.read_text().split() if word != "#")


def _roles(analysis: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {role["role_name"]: role for role in analysis["roles"]}


def _terraform(path: Path) -> dict[str, dict[str, Any]]:
    """resource type → name → body, as python-hcl2 reads the file."""
    options = SerializationOptions(strip_string_quotes=True, preserve_heredocs=False)
    with path.open(encoding="utf-8") as handle:
        parsed = hcl2.load(handle, serialization_options=options)
    resources: dict[str, dict[str, Any]] = {}
    for block in parsed["resource"]:
        for kind, named in block.items():
            resources.setdefault(kind, {}).update(named)
    return resources


def _terraform_text(value: str) -> str:
    """A Terraform string as Terraform reads it: `$${` and `%%{` are literal `${` and `%{`."""
    return value.replace("$${", "${").replace("%%{", "%{")


def _grants(statements: list[dict[str, Any]]) -> Counter[tuple[str, ...]]:
    """Each statement as its (effect, action, resource, condition) pairs, Sids left out."""

    def listed(value: Any) -> list[str]:
        return [value] if isinstance(value, str) else list(value or [None])

    return Counter(
        (
            st["Effect"],
            key,
            action,
            rkey,
            resource,
            json.dumps(st.get("Condition"), sort_keys=True),
        )
        for st in statements
        for key in ("Action", "NotAction")
        if key in st
        for action in listed(st[key])
        for rkey in ("Resource", "NotResource")
        if rkey in st
        for resource in listed(st[rkey])
    )


def test_every_form_is_written_per_role_and_listed_in_the_manifest(
    outs: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    out, analysis = outs["prefix"]
    manifest = set((out / OUT_MANIFEST).read_text().splitlines()[1:])
    for role in analysis["roles"]:
        name = role["role_name"]
        assert (out / f"{name}.policy.json").is_file()
        for form, extension in (("terraform", "tf"), ("cloudformation", "yaml"), ("cli", "sh")):
            if role["changed"] is False:  # no file would change the role, except in structure
                assert not (out / form / f"{name}.{extension}").exists()
                continue
            assert f"{form}/{name}.{extension}" in manifest
            text = _words(out / form / f"{name}.{extension}")
            # Each says which form and which IAM limit applies.
            assert "Form: one inline policy 'rightsized'" in text
            assert f"{INLINE_POLICY_LIMIT:,} characters for all inline policies" in text


def test_every_cloudformation_file_passes_cfn_lint(
    outs: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    templates = [path for out, _ in outs.values() for path in out.glob("cloudformation/*.yaml")]
    assert len(templates) >= 2 * 6
    for template in templates:
        assert lint_file(template) == [], template.name


def test_terraform_holds_the_same_policy_as_the_policy_json(
    outs: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    out, analysis = outs["prefix"]
    for name, role in _roles(analysis).items():
        if role["changed"] is False:
            continue  # no file
        resources = _terraform(out / "terraform" / f"{name}.tf")
        (policy,) = resources["aws_iam_role_policy"].values()
        assert policy["role"] == name
        document = json.loads(_terraform_text(policy["policy"]))
        assert document == json.loads((out / f"{name}.policy.json").read_text())
        assert document == role["recommended_policy"]
        # Today's policies are removed by the exclusive resources, not left to a comment.
        (inline,) = resources["aws_iam_role_policies_exclusive"].values()
        (managed,) = resources["aws_iam_role_policy_attachments_exclusive"].values()
        assert inline["role_name"] == managed["role_name"] == name
        assert managed["policy_arns"] == []
        assert len(inline["policy_names"]) == 1
        # Terraform removes today's policies only once the recommendation is in place: without
        # a dependency it would run the removals beside the put.
        added = [f"${{aws_iam_role_policy.{name}}}"]
        assert inline["depends_on"] == managed["depends_on"] == added


def test_a_policy_variable_is_escaped_for_terraform_and_read_back_as_itself(
    tmp_path: Path,
) -> None:
    from report_samples import sample_analysis

    from rightsizer.emit import Target, terraform
    from rightsizer.emit.forms import deployment
    from rightsizer.model import Analysis

    role = Analysis.from_json(sample_analysis()).roles[0]
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::home/${aws:username}/%{x}/*",
            }
        ],
    }
    target = Target(role, "r", deployment(role.role_name, document), ("header",))
    path = tmp_path / "r.tf"
    path.write_text(terraform.write(target))
    (policy,) = _terraform(path)["aws_iam_role_policy"].values()
    assert "$${aws:username}" in policy["policy"]  # else Terraform would interpolate it
    assert json.loads(_terraform_text(policy["policy"])) == document


def test_a_recommendation_over_the_inline_limit_is_split_into_managed_policies(
    outs: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    out, analysis = outs["object"]
    large = [
        r for r in analysis["roles"] if (r["recommended_policy_size"] or 0) > INLINE_POLICY_LIMIT
    ]
    assert large, "the object-granularity analysis should have a role over the inline limit"
    for role in large:
        name = role["role_name"]
        resources = _terraform(out / "terraform" / f"{name}.tf")
        assert "aws_iam_role_policy" not in resources
        parts = [
            json.loads(_terraform_text(p["policy"])) for p in resources["aws_iam_policy"].values()
        ]
        assert len(parts) >= 2
        assert all(policy_size(part) <= MANAGED_POLICY_LIMIT for part in parts)
        for part in parts:  # IAM refuses a document with a Sid twice
            sids = [st["Sid"] for st in part["Statement"] if "Sid" in st]
            assert len(sids) == len(set(sids))
        # Together the parts grant exactly what the recommendation does.
        statements = [st for part in parts for st in part["Statement"]]
        assert _grants(statements) == _grants(role["recommended_policy"]["Statement"])
        (attached,) = resources["aws_iam_role_policy_attachments_exclusive"].values()
        assert len(attached["policy_arns"]) == len(parts)
        # Today's policies are removed only once every part is attached.
        (removed,) = resources["aws_iam_role_policies_exclusive"].values()
        attachments = [
            f"${{aws_iam_role_policy_attachment.{resource}}}"
            for resource in resources["aws_iam_role_policy_attachment"]
        ]
        assert len(attachments) == len(parts)
        assert attached["depends_on"] == removed["depends_on"] == attachments
        text = _words(out / "cli" / f"{name}.sh")
        assert f"Form: {len(parts)} managed policies of" in text
        # Today's managed policies stay attached until the parts are: they count too.
        today = [p for p in role["current_policies"] if p["kind"] == "managed"]
        over = len(parts) + len(today) > MANAGED_POLICIES_PER_ROLE
        assert ("It cannot be applied as written" in text) == over
        template = (out / "cloudformation" / f"{name}.yaml").read_text()
        assert template.count("AWS::IAM::ManagedPolicy") == len(parts)


def test_a_statement_too_large_to_split_is_named() -> None:
    from rightsizer.emit.forms import deployment

    huge = "arn:aws:s3:::b/" + "k" * 7_000
    small = [f"arn:aws:s3:::b/{n:04}/*" for n in range(600)]
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Huge", "Effect": "Allow", "Action": "s3:GetObject", "Resource": huge},
            {"Sid": "Many", "Effect": "Allow", "Action": "s3:PutObject", "Resource": small},
        ],
    }
    deployed = deployment("r", document)
    assert deployed.form == "managed"
    assert "statement Huge alone is 7,123 characters" in deployed.problem
    assert "over the 6,144 of a managed policy" in deployed.problem
    many = [p for p in deployed.parts if p.document["Statement"][0]["Sid"].startswith("Many")]
    assert len(many) >= 2 and all(p.size <= MANAGED_POLICY_LIMIT for p in many)


def test_every_script_is_valid_bash_and_strict(
    outs: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    scripts = [path for out, _ in outs.values() for path in out.glob("cli/*.sh")]
    assert scripts
    for script in scripts:
        subprocess.run(["bash", "-n", str(script)], check=True)
        text = script.read_text()
        assert "set -euo pipefail" in text
        assert "AWS_SECRET" not in text and "aws_secret" not in text


def test_emit_without_out_or_with_an_unknown_form_is_a_one_line_error(
    dataset: synth.SynthDataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = [
        "analyze",
        "--db",
        str(tmp_path / "x.duckdb"),
        "--iam-details",
        str(dataset.iam_details),
    ]
    assert main([*base, "--emit", "terraform"]) == 2
    assert "give --out DIR" in capsys.readouterr().err
    assert main([*base, "--emit", "pulumi", "--out", str(tmp_path / "o")]) == 2
    assert "--emit pulumi is not one of terraform, cloudformation, cli" in capsys.readouterr().err


def test_a_rerun_without_emit_removes_the_deployable_files(
    dataset: synth.SynthDataset,
    outs: dict[str, tuple[Path, dict[str, Any]]],
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    shutil.copytree(outs["prefix"][0], out)
    (out / "terraform" / "mine.tf").write_text("# the user's own\n")
    db = tmp_path / "r.duckdb"
    _analyze(dataset, db, out, dataset.iam_details, "--source", str(dataset.source_dir))
    assert not list(out.glob("cli/*.sh")) and not list(out.glob("cloudformation/*"))
    assert [p.name for p in out.glob("terraform/*")] == ["mine.tf"]


# --- the scripts run against IAM on the moto server ----------------------------------------


def _account_session(moto: str) -> boto3.Session:
    """Credentials of the synthetic account (moto keeps one IAM per account)."""
    sts = setup_client(boto3.client("sts", region_name="us-east-1"))
    credentials = sts.assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/admin", RoleSessionName="setup"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name="us-east-1",
    )


def _create_roles(session: boto3.Session, details: dict[str, Any], names: list[str]) -> None:
    """The named roles of the IAM snapshot, with their policies, in the moto account."""
    iam = setup_client(session.client("iam"))
    for policy in details["Policies"]:
        if policy["Arn"].startswith(f"arn:aws:iam::{ACCOUNT_ID}:"):
            (version,) = [v for v in policy["PolicyVersionList"] if v["IsDefaultVersion"]]
            path = policy["Arn"].split(":policy", 1)[1].rsplit("/", 1)[0] + "/"
            iam.create_policy(
                PolicyName=policy["PolicyName"],
                Path=path,
                PolicyDocument=json.dumps(version["Document"]),
            )
    for role in details["RoleDetailList"]:
        if role["RoleName"] not in names:
            continue
        iam.create_role(
            RoleName=role["RoleName"],
            Path=role["Path"],
            AssumeRolePolicyDocument=json.dumps(role["AssumeRolePolicyDocument"]),
        )
        for inline in role.get("RolePolicyList", []):
            iam.put_role_policy(
                RoleName=role["RoleName"],
                PolicyName=inline["PolicyName"],
                PolicyDocument=json.dumps(inline["PolicyDocument"]),
            )
        for attached in role.get("AttachedManagedPolicies", []):
            iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=attached["PolicyArn"])


def _state(session: boto3.Session, role: str) -> dict[str, Any]:
    """The role's inline policies (name → document) and attached managed policy ARNs."""
    iam = setup_client(session.client("iam"))
    inline = {
        name: iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
    }
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    return {"inline": inline, "managed": sorted(p["PolicyArn"] for p in attached)}


def _run(
    script: Path, *args: str, session: boto3.Session, cwd: Path
) -> subprocess.CompletedProcess[str]:
    credentials = session.get_credentials()
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": credentials.access_key,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
        "AWS_SESSION_TOKEN": credentials.token or "",
    }
    return subprocess.run(
        ["bash", str(script), *args], cwd=cwd, env=env, capture_output=True, text=True
    )


@pytest.fixture
def aws_cli() -> str:
    found = shutil.which("aws")
    if found is None:
        skip_or_fail("the AWS CLI (aws) is not installed")
    return found


@pytest.mark.slow
def test_the_script_backs_up_applies_and_rolls_back_against_iam(
    aws_cli: str,
    moto: str,
    copied: Path,
    outs: dict[str, tuple[Path, dict[str, Any]]],
    tmp_path: Path,
) -> None:
    details = json.loads(copied.read_text())
    session = _account_session(moto)
    names = [THUMBNAILER_ROLE.name]  # inline and managed policies today
    _create_roles(session, details, names)
    out, analysis = outs["moto-prefix"]
    for name in names:
        before = _state(session, name)
        script = out / "cli" / f"{name}.sh"
        applied = _run(script, "apply", "backup", session=session, cwd=tmp_path)
        assert applied.returncode == 0, applied.stderr
        after = _state(session, name)
        assert after == {
            "inline": {"rightsized": _roles(analysis)[name]["recommended_policy"]},
            "managed": [],
        }
        # The backup holds today's documents.
        for policy, document in before["inline"].items():
            saved = json.loads((tmp_path / "backup" / f"inline-{policy}.json").read_text())
            assert saved == document
        saved_arns = (tmp_path / "backup" / "managed-policies.txt").read_text().split()
        assert saved_arns == before["managed"]
        rolled = _run(script, "rollback", "backup", session=session, cwd=tmp_path)
        assert rolled.returncode == 0, rolled.stderr
        assert _state(session, name) == before
        shutil.rmtree(tmp_path / "backup")


def test_the_script_changes_nothing_when_the_role_changed_since_the_analysis(
    aws_cli: str,
    moto: str,
    copied: Path,
    outs: dict[str, tuple[Path, dict[str, Any]]],
    tmp_path: Path,
) -> None:
    details = json.loads(copied.read_text())
    session = _account_session(moto)
    name = LEGACY_CLEANUP_ROLE.name
    _create_roles(session, details, [name])
    setup_client(session.client("iam")).put_role_policy(
        RoleName=name,
        PolicyName="added-later",
        PolicyDocument=json.dumps(details["Policies"][0]["PolicyVersionList"][0]["Document"]),
    )
    before = _state(session, name)
    result = _run(
        outs["moto-prefix"][0] / "cli" / f"{name}.sh", "apply", "b", session=session, cwd=tmp_path
    )
    assert result.returncode == 1
    assert "changed since the analysis" in result.stderr
    assert _state(session, name) == before
    assert not (tmp_path / "b").exists()


@pytest.mark.slow
def test_a_split_recommendation_is_applied_as_managed_policies_and_rolled_back(
    aws_cli: str,
    moto: str,
    copied: Path,
    outs: dict[str, tuple[Path, dict[str, Any]]],
    tmp_path: Path,
) -> None:
    out, analysis = outs["moto-object"]
    large = [
        r
        for r in analysis["roles"]
        if (r["recommended_policy_size"] or 0) > INLINE_POLICY_LIMIT
        and "cannot be applied" not in (out / "cli" / f"{r['role_name']}.sh").read_text()
    ]
    assert large
    role = large[0]
    name = role["role_name"]
    details = json.loads(copied.read_text())
    session = _account_session(moto)
    _create_roles(session, details, [name])
    before = _state(session, name)
    applied = _run(out / "cli" / f"{name}.sh", "apply", "backup", session=session, cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    after = _state(session, name)
    assert after["inline"] == {}
    iam = setup_client(session.client("iam"))
    parts = []
    for arn in after["managed"]:
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        parts.append(
            iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
        )
    assert len(parts) >= 2
    assert all(policy_size(part) <= MANAGED_POLICY_LIMIT for part in parts)
    statements = [st for part in parts for st in part["Statement"]]
    assert _grants(statements) == _grants(role["recommended_policy"]["Statement"])
    rolled = _run(out / "cli" / f"{name}.sh", "rollback", "backup", session=session, cwd=tmp_path)
    assert rolled.returncode == 0, rolled.stderr
    assert _state(session, name) == before


# --- an attached policy the snapshot does not hold ------------------------------------------

UNREAD = f"{COPIED_MANAGED}service-role/AWSLambdaBasicExecutionRole"


@pytest.fixture(scope="module")
def unread(
    dataset: synth.SynthDataset, copied: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    """The thumbnailer's role analyzed from the `copied` snapshot without the document of one
    of its attached managed policies (as `get-account-authorization-details --filter Role`
    leaves out the policies): the --out folder and the analysis JSON."""
    details = json.loads(copied.read_text())
    details["Policies"] = [p for p in details["Policies"] if p["Arn"] != UNREAD]
    path = tmp_path_factory.mktemp("unread") / "iam-details.json"
    path.write_text(json.dumps(details))
    out = tmp_path_factory.mktemp("unread-out")
    db = tmp_path_factory.mktemp("unread-db") / "r.duckdb"
    extra = ["--source", str(dataset.source_dir), "--role", THUMBNAILER_ROLE.name]
    return out, _analyze(dataset, db, out, path, *extra, "--emit", FORMS)


def test_an_attached_policy_the_snapshot_lacks_is_left_attached_by_every_form(
    unread: tuple[Path, dict[str, Any]],
) -> None:
    out, analysis = unread
    name = THUMBNAILER_ROLE.name
    role = _roles(analysis)[name]
    assert role["missing_policies"] == [UNREAD]
    (warning,) = [w for w in role["warnings"] if w["code"] == "missing-policy"]
    assert "keep them attached" in warning["message"]
    # Terraform's exclusive attachment lists it, so applying the file does not detach it.
    resources = _terraform(out / "terraform" / f"{name}.tf")
    (attached,) = resources["aws_iam_role_policy_attachments_exclusive"].values()
    assert attached["policy_arns"] == [UNREAD]
    # The script expects it attached (else it would stop as if the role had changed) and
    # never detaches it.
    script = (out / "cli" / f"{name}.sh").read_text()
    assert f"analyzed_managed='{COPIED_MANAGED}AmazonS3FullAccess {UNREAD}'" in script
    assert f"--policy-arn {UNREAD}" not in script
    assert f"--policy-arn {COPIED_MANAGED}AmazonS3FullAccess" in script
    for form, extension in (("terraform", "tf"), ("cloudformation", "yaml"), ("cli", "sh")):
        text = _words(out / form / f"{name}.{extension}")
        assert "It replaces the policies of the role that the IAM snapshot held:" in text
        assert (
            "It leaves attached, untouched, the managed policies the IAM snapshot did not "
            f"hold: managed policy {UNREAD} Their grants could not be read" in text
        )


@pytest.mark.slow
def test_the_script_applies_and_rolls_back_leaving_the_unread_policy_attached(
    aws_cli: str,
    moto: str,
    copied: Path,
    unread: tuple[Path, dict[str, Any]],
    tmp_path: Path,
) -> None:
    out, analysis = unread
    name = THUMBNAILER_ROLE.name
    session = _account_session(moto)
    _create_roles(session, json.loads(copied.read_text()), [name])
    before = _state(session, name)
    assert UNREAD in before["managed"]
    script = out / "cli" / f"{name}.sh"
    applied = _run(script, "apply", "backup", session=session, cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert _state(session, name) == {
        "inline": {"rightsized": _roles(analysis)[name]["recommended_policy"]},
        "managed": [UNREAD],
    }
    rolled = _run(script, "rollback", "backup", session=session, cwd=tmp_path)
    assert rolled.returncode == 0, rolled.stderr
    assert _state(session, name) == before


# --- a recommendation without statements ------------------------------------------------------


@pytest.mark.slow
def test_a_recommendation_without_statements_only_removes_todays_policies(
    aws_cli: str,
    moto: str,
    copied: Path,
    outs: dict[str, tuple[Path, dict[str, Any]]],
    tmp_path: Path,
) -> None:
    """IAM refuses a policy document without statements: no form puts one."""
    import dataclasses

    from rightsizer.emit import emit_files
    from rightsizer.model import Analysis

    analysis = Analysis.from_json(outs["moto-prefix"][1])
    name = THUMBNAILER_ROLE.name  # an inline and two managed policies today
    (role,) = [r for r in analysis.roles if r.role_name == name]
    empty = {"Version": "2012-10-17", "Statement": []}
    role = dataclasses.replace(role, recommended_policy=empty)
    for path, text in emit_files([(role, name)], FORMS.split(","), analysis.window).items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    resources = _terraform(tmp_path / "terraform" / f"{name}.tf")
    assert set(resources) == {
        "aws_iam_role_policies_exclusive",
        "aws_iam_role_policy_attachments_exclusive",
    }
    (inline,) = resources["aws_iam_role_policies_exclusive"].values()
    assert inline["policy_names"] == []
    template = tmp_path / "cloudformation" / f"{name}.yaml"
    assert lint_file(template) == []
    assert "AWS::IAM" not in template.read_text()
    for form, extension in (("terraform", "tf"), ("cloudformation", "yaml"), ("cli", "sh")):
        text = _words(tmp_path / form / f"{name}.{extension}")
        assert "Form: no policy: the recommendation holds no statement" in text
    # The script deletes and detaches today's policies, puts nothing, and rolls back.
    session = _account_session(moto)
    _create_roles(session, json.loads(copied.read_text()), [name])
    before = _state(session, name)
    script = tmp_path / "cli" / f"{name}.sh"
    applied = _run(script, "apply", "backup", session=session, cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert _state(session, name) == {"inline": {}, "managed": []}
    rolled = _run(script, "rollback", "backup", session=session, cwd=tmp_path)
    assert rolled.returncode == 0, rolled.stderr
    assert _state(session, name) == before


# --- adding the recommendation beside today's policies ---------------------------------------


def _keys_policy(put_resource: str) -> dict[str, Any]:
    """A policy of 230 exact keys and one put: just under IAM's inline limit on its own."""
    keys = [f"arn:aws:s3:::bk/cfg/app-config-{n:04d}.json" for n in range(230)]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": keys},
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": put_resource},
        ],
    }


@pytest.mark.slow
def test_a_recommendation_that_does_not_fit_beside_todays_inline_policies_is_managed(
    aws_cli: str,
    moto: str,
    copied: Path,
    outs: dict[str, tuple[Path, dict[str, Any]]],
    tmp_path: Path,
) -> None:
    """The recommendation is added before today's inline policy is deleted: both inline would
    be over the role's 10,240 characters, so IAM would refuse the first step; as managed
    policies it is added beside today's, which is removed only after."""
    import dataclasses

    from rightsizer.emit import emit_files
    from rightsizer.model import Analysis, CurrentPolicy

    today = _keys_policy("*")
    recommended = _keys_policy("arn:aws:s3:::out-bk/o/*")
    assert policy_size(recommended) <= INLINE_POLICY_LIMIT
    assert policy_size(today) + policy_size(recommended) > INLINE_POLICY_LIMIT
    analysis = Analysis.from_json(outs["moto-prefix"][1])
    name = "keys-role"
    role = dataclasses.replace(
        analysis.roles[0],
        role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/{name}",
        role_name=name,
        current_policies=(CurrentPolicy("p", "inline", None, today),),
        missing_policies=(),
        recommended_policy=recommended,
        changed=True,
    )
    for path, text in emit_files([(role, name)], FORMS.split(","), analysis.window).items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    resources = _terraform(tmp_path / "terraform" / f"{name}.tf")
    assert "aws_iam_role_policy" not in resources
    parts = [json.loads(_terraform_text(p["policy"])) for p in resources["aws_iam_policy"].values()]
    assert _grants([st for part in parts for st in part["Statement"]]) == _grants(
        recommended["Statement"]
    )
    text = _words(tmp_path / "cli" / f"{name}.sh")
    assert f"Form: {len(parts)} managed policies of" in text
    assert f"and the {policy_size(today):,} of today's inline policies" in text
    assert "It cannot be applied as written" not in text
    # Applied: the parts are attached, then today's inline policy is deleted; rolled back.
    session = _account_session(moto)
    iam = setup_client(session.client("iam"))
    trust = json.loads(copied.read_text())["RoleDetailList"][0]["AssumeRolePolicyDocument"]
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(today))
    before = _state(session, name)
    script = tmp_path / "cli" / f"{name}.sh"
    applied = _run(script, "apply", "backup", session=session, cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    after = _state(session, name)
    assert after["inline"] == {}
    assert after["managed"] == [
        f"arn:aws:iam::{ACCOUNT_ID}:policy/{name}-rightsized-{n}" for n in (1, 2)
    ]
    rolled = _run(script, "rollback", "backup", session=session, cwd=tmp_path)
    assert rolled.returncode == 0, rolled.stderr
    assert _state(session, name) == before


def test_managed_policies_that_do_not_fit_beside_todays_attachments_are_named() -> None:
    from rightsizer.emit.forms import deployment

    document = _keys_policy("*")
    document["Statement"] *= 2  # over the inline limit: managed policies
    parts = len(deployment("r", document).parts)
    room = MANAGED_POLICIES_PER_ROLE - parts
    assert deployment("r", document, attached=room).problem == ""
    deployed = deployment("r", document, attached=room + 1)
    assert f"holds its {parts} managed policies beside the {room + 1} attached today" in (
        deployed.problem
    )


# --- what apply finds, changes and rollback restores -----------------------------------------


def _emit_role(tmp_path: Path, role: Any, analysis: Any) -> dict[str, str]:
    """The files of one role, written under tmp_path; `<form>/<base>.<ext>` → text."""
    from rightsizer.emit import emit_files

    files = emit_files([(role, role.role_name)], FORMS.split(","), analysis.window)
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    return files


def _documents(session: boto3.Session, role: str) -> dict[str, Any]:
    """`_state`, with each attached managed policy's default version id and document."""
    iam = setup_client(session.client("iam"))
    state = _state(session, role)
    managed = {}
    for arn in state["managed"]:
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
        managed[arn] = (version, document["Document"])
    return {**state, "managed": managed}


def _versions(session: boto3.Session, arn: str) -> list[tuple[str, bool]]:
    iam = setup_client(session.client("iam"))
    listed = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    return sorted((v["VersionId"], v["IsDefaultVersion"]) for v in listed)


def _made_role(
    tmp_path: Path,
    analysis_json: dict[str, Any],
    copied: Path,
    session: boto3.Session,
    name: str,
    inline: dict[str, Any],
    managed: tuple[tuple[str, dict[str, Any]], ...] = (),
) -> Path:
    """A role `name` of one inline policy `p` (and the customer managed policies `managed`,
    by name) as IAM holds it, analyzed so, with a recommendation of 230 keys: its cli script."""
    import dataclasses

    from rightsizer.iam.policy import parse_policy, to_dict
    from rightsizer.model import Analysis, CurrentPolicy

    arn = f"arn:aws:iam::{ACCOUNT_ID}:policy/"
    analysis = Analysis.from_json(analysis_json)
    role = dataclasses.replace(
        analysis.roles[0],
        role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/{name}",
        role_name=name,
        current_policies=(
            CurrentPolicy("p", "inline", None, to_dict(parse_policy(inline), as_held=True)),
            *(CurrentPolicy(n, "managed", arn + n, doc) for n, doc in managed),
        ),
        missing_policies=(),
        recommended_policy=_keys_policy("arn:aws:s3:::out-bk/o/*"),
        changed=True,
    )
    _emit_role(tmp_path, role, analysis)
    iam = setup_client(session.client("iam"))
    trust = json.loads(copied.read_text())["RoleDetailList"][0]["AssumeRolePolicyDocument"]
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(inline))
    for n, doc in managed:
        iam.create_policy(PolicyName=n, PolicyDocument=json.dumps(doc))
        iam.attach_role_policy(RoleName=name, PolicyArn=arn + n)
    return tmp_path / "cli" / f"{name}.sh"


@pytest.mark.slow
def test_rollback_restores_the_version_of_a_policy_an_earlier_apply_left_attached(
    aws_cli: str,
    moto: str,
    copied: Path,
    outs: dict[str, tuple[Path, dict[str, Any]]],
    tmp_path: Path,
) -> None:
    """A role applied once holds `<role>-rightsized-1`; applying again gives that policy a new
    default version, and rollback gives it back the one it had (the role is as before)."""
    name = "again-role"
    earlier_arn = f"arn:aws:iam::{ACCOUNT_ID}:policy/{name}-rightsized-1"
    earlier = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::old/*"}
        ],
    }
    session = _account_session(moto)
    managed = ((f"{name}-rightsized-1", earlier),)
    script = _made_role(
        tmp_path, outs["moto-prefix"][1], copied, session, name, _keys_policy("*"), managed
    )
    before = _documents(session, name)
    versions = _versions(session, earlier_arn)
    applied = _run(script, "apply", "backup", session=session, cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    after = _documents(session, name)
    assert after["inline"] == {}
    assert after["managed"][earlier_arn][1] != earlier  # the first part of the recommendation
    rolled = _run(script, "rollback", "backup", session=session, cwd=tmp_path)
    assert rolled.returncode == 0, rolled.stderr
    assert _documents(session, name) == before
    assert _versions(session, earlier_arn) == versions  # the version apply made is deleted
    # What rollback says is true: the earlier policy is attached again, with its document; the
    # one apply created is detached.
    assert f"managed policy {earlier_arn} holds its version v1 again" in rolled.stderr
    assert f"{earlier_arn} is detached" not in rolled.stderr
    assert f"{name}-rightsized-2 is detached; it stays in the account" in rolled.stderr


@pytest.mark.slow
def test_apply_stops_when_a_document_changed_since_the_analysis(
    aws_cli: str,
    moto: str,
    copied: Path,
    outs: dict[str, tuple[Path, dict[str, Any]]],
    tmp_path: Path,
) -> None:
    """The same names and ARNs, but a statement added to an inline policy, or a new default
    version of a managed one: apply stops before any change and names the policy."""
    details = json.loads(copied.read_text())
    session = _account_session(moto)
    iam = setup_client(session.client("iam"))
    name = THUMBNAILER_ROLE.name  # an inline and two managed policies today
    _create_roles(session, details, [name])
    script = outs["moto-prefix"][0] / "cli" / f"{name}.sh"
    (inline,) = _state(session, name)["inline"]
    document = iam.get_role_policy(RoleName=name, PolicyName=inline)["PolicyDocument"]
    added = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::later/*"}
    widened = {**document, "Statement": [*document["Statement"], added]}
    iam.put_role_policy(RoleName=name, PolicyName=inline, PolicyDocument=json.dumps(widened))
    before = _documents(session, name)
    result = _run(script, "apply", "b", session=session, cwd=tmp_path)
    assert result.returncode == 1
    assert "documents of role" in result.stderr
    assert f"changed since the analysis: inline policy {inline};" in result.stderr
    assert _documents(session, name) == before
    assert not (tmp_path / "b").exists()
    # The inline policy as analyzed again, a managed policy's default version changed instead.
    iam.put_role_policy(RoleName=name, PolicyName=inline, PolicyDocument=json.dumps(document))
    arn = f"{COPIED_MANAGED}AmazonS3FullAccess"
    iam.create_policy_version(
        PolicyArn=arn,
        PolicyDocument=json.dumps({**document, "Statement": [added]}),
        SetAsDefault=True,
    )
    before = _documents(session, name)
    result = _run(script, "apply", "b", session=session, cwd=tmp_path)
    assert result.returncode == 1
    assert f"changed since the analysis: managed policy {arn};" in result.stderr
    assert _documents(session, name) == before
    assert not (tmp_path / "b").exists()


def test_a_role_that_needs_no_change_gets_no_file(
    outs: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    """No form restructures a role shown as "no change": none is written for it."""
    import dataclasses

    from rightsizer.emit import emit_files
    from rightsizer.model import Analysis

    out, data = outs["prefix"]
    unchanged_names = [r["role_name"] for r in data["roles"] if r["changed"] is False]
    assert unchanged_names, "the synthetic data set should have a role that needs no change"
    written = {path.stem for path in out.glob("*/*") if path.suffix in (".tf", ".yaml", ".sh")}
    assert written and not written & set(unchanged_names)
    analysis = Analysis.from_json(outs["moto-prefix"][1])
    (role,) = [r for r in analysis.roles if r.role_name == THUMBNAILER_ROLE.name]
    assert role.changed is True
    assert len(emit_files([(role, "r")], FORMS.split(","), analysis.window)) == 3
    unchanged = dataclasses.replace(role, changed=False)
    assert emit_files([(unchanged, "r")], FORMS.split(","), analysis.window) == {}


@pytest.mark.slow
def test_the_backup_keeps_two_managed_policies_of_one_name_apart(
    aws_cli: str,
    moto: str,
    copied: Path,
    outs: dict[str, tuple[Path, dict[str, Any]]],
    tmp_path: Path,
) -> None:
    import dataclasses

    from rightsizer.model import Analysis, CurrentPolicy

    name = "paths-role"
    documents = {
        f"/team-{team}/": {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{team}/*"}
            ],
        }
        for team in ("a", "b")
    }
    arns = [f"arn:aws:iam::{ACCOUNT_ID}:policy{path}EuShared" for path in documents]
    analysis = Analysis.from_json(outs["moto-prefix"][1])
    role = dataclasses.replace(
        analysis.roles[0],
        role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/{name}",
        role_name=name,
        current_policies=tuple(
            CurrentPolicy("EuShared", "managed", arn, document)
            for arn, document in zip(arns, documents.values(), strict=True)
        ),
        missing_policies=(),
        recommended_policy=documents["/team-a/"],
        changed=True,
    )
    _emit_role(tmp_path, role, analysis)
    session = _account_session(moto)
    iam = setup_client(session.client("iam"))
    trust = json.loads(copied.read_text())["RoleDetailList"][0]["AssumeRolePolicyDocument"]
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    for (path, document), arn in zip(documents.items(), arns, strict=True):
        iam.create_policy(PolicyName="EuShared", Path=path, PolicyDocument=json.dumps(document))
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    script = tmp_path / "cli" / f"{name}.sh"
    result = _run(script, "backup", "backup", session=session, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    saved = [
        json.loads(p.read_text()) for p in sorted((tmp_path / "backup").glob("managed-*.json"))
    ]
    assert saved == list(documents.values())


@pytest.mark.slow
def test_apply_takes_a_document_whose_condition_keys_are_not_sorted(
    aws_cli: str,
    moto: str,
    copied: Path,
    outs: dict[str, tuple[Path, dict[str, Any]]],
    tmp_path: Path,
) -> None:
    """IAM keeps a Condition's keys in the order they were written; the analysis reports them
    so, and apply finds the document unchanged."""
    name = "ordered-role"
    today = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::bk/*",
                "Condition": {
                    "StringEquals": {"aws:SourceVpce": "vpce-1", "aws:PrincipalTag/team": "a"},
                    "Bool": {"aws:SecureTransport": "true"},
                },
            }
        ],
    }
    session = _account_session(moto)
    script = _made_role(tmp_path, outs["moto-prefix"][1], copied, session, name, today)
    applied = _run(script, "apply", "b", session=session, cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert "p" not in _state(session, name)["inline"]  # replaced
