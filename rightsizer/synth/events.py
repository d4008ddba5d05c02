"""The synthetic traffic: who calls what, hour by hour (the story is in `rightsizer.synth`).

`Traffic.hour(start)` emits the calls of one hour of the scenario through a `Recorder`.
Identities are built once per session and shared, so a record costs a few dict literals and a
handful of random draws.

One class of some 600 lines on purpose: each method is one actor's calls, all drawing from the
one seeded RNG in a fixed order (the data set is byte-for-byte reproducible), and `hour` reads
as the scenario's timetable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from random import Random
from typing import Any
from urllib.parse import quote

from rightsizer.synth import scenario as sc
from rightsizer.synth.records import (
    CLI_AGENT,
    Emit,
    Record,
    Recorder,
    bucket_resource,
    object_resource,
    prefix_resource,
    session_arn,
    ts,
)

# Relative call volume per UTC hour (business hours busier).
_DIURNAL = (
    0.4, 0.3, 0.3, 0.3, 0.4, 0.5, 0.7, 0.9, 1.2, 1.5, 1.6, 1.6,
    1.5, 1.5, 1.6, 1.6, 1.5, 1.3, 1.1, 0.9, 0.8, 0.7, 0.6, 0.5,
)  # fmt: skip
_SESSION_SECONDS = 6 * 3600  # Lambda refreshes the execution-role session every few hours
_KERNEL = "5.10.224-233.891.amzn2.x86_64"
_USER_AGENTS = {
    "python3.12": (
        "Boto3/1.34.145 md/Botocore#1.34.145 ua/2.0 os/linux#{k} md/arch#x86_64 "
        "lang/python#3.12.4 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 "
        "cfg/retry-mode#legacy Botocore/1.34.145"
    ),
    "nodejs20.x": (
        "aws-sdk-js/3.583.0 ua/2.0 os/linux#{k} lang/js md/nodejs#20.14.0 api/s3#3.583.0 "
        "exec-env/AWS_Lambda_nodejs20.x"
    ),
    "java21": (
        "aws-sdk-java/2.25.60 Linux/{k} OpenJDK_64-Bit_Server_VM/21.0.3+9-LTS Java/21.0.3 "
        "vendor/Amazon.com_Inc. md/internal exec-env/AWS_Lambda_java21 io/sync http/Apache "
        "cfg/retry-mode/legacy"
    ),
}
_EC2_AGENT = (
    "Boto3/1.34.101 md/Botocore#1.34.101 ua/2.0 os/linux#6.1.84-99.169.amzn2023.x86_64 "
    "md/arch#x86_64 lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.101"
)
_IP_PREFIX = {sc.HOME_REGION: "3.91", sc.EU_REGION: "34.245"}
_REPORT_NAMES = ("summary.csv", "sales report (eu).csv", "orders+returns.csv", "stock;levels.json")
_CONFIG_SERVICE_CALLS = (
    ("GetBucketAcl", "acl"),
    ("GetBucketPolicyStatus", "policyStatus"),
    ("GetBucketEncryption", "encryption"),
    ("GetBucketVersioning", "versioning"),
)


def _day(t: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(t))


@dataclass
class _Session:
    """A live execution-role session of one function: identity, address, user agent."""

    identity: Record
    fas_identity: Record  # the same session seen on S3's forward-access KMS calls
    lambda_identity: Record  # the same session on Lambda's own env-var KMS calls
    ip: str
    user_agent: str
    s3_user_agent: str  # S3 data events wrap the agent in brackets
    expires: int


class Traffic:
    """Emits the scenario's CloudTrail records, one hour at a time."""

    def __init__(
        self, rng: Random, emit: Emit, *, scale: int, data_events: bool, window: tuple[int, int]
    ) -> None:
        self._rng = rng
        self._rec = Recorder(rng, emit, data_events=data_events)
        self._scale = scale
        self._start, self._end = window
        self._sessions: dict[str, _Session] = {}
        self.last_used: dict[str, tuple[int, str]] = {}

    def _count(self, rate: float) -> int:
        """A call count with mean `rate * scale` (whole part plus a coin for the fraction)."""
        expected = rate * self._scale
        whole = int(expected)
        return whole + (1 if self._rng.random() < expected - whole else 0)

    def _times(self, start: int, count: int) -> list[int]:
        return sorted(start + self._rng.randrange(3600) for _ in range(count))

    # ---- the hour ----------------------------------------------------------------------------

    def hour(self, start: int) -> None:
        """Emit every call of the hour `[start, start + 3600)`."""
        weight = _DIURNAL[(start // 3600) % 24]
        for t in self._times(start, self._count(2.0 * weight)):
            self._thumbnail(t)
        for t in self._times(start, self._count(1.0 * weight)):
            self._build_report(t, versioned_source=False)
        for t in self._times(start, self._count(1.0 * weight)):
            self._mail_report(t)
        for t in self._times(start, self._count(2.0)):
            self._read_config(t)
        for t in self._times(start, self._count(0.8 * weight)):
            self._export(t)
        for t in self._times(start, self._count(1.5 * weight)):
            self._eu_ingest(t)
        for t in self._times(start, self._count(0.15 * weight)):
            self._alice(t)
        for t in self._times(start, self._count(0.5)):
            self._config_service(t)
        self._daily(start)
        self._planted(start)

    def _daily(self, start: int) -> None:
        """The rare calls each day holds exactly once, at a fixed hour, inside the window."""
        hour = (start // 3600) % 24
        t = start + 600 + self._rng.randrange(1800)
        if start <= self._start < start + 3600:
            self._legacy_cleanup_before_window()
        if not self._start <= t < self._end:
            return
        if hour == 1:
            self._delete_raw_reports(t)
        elif hour == 3:
            self._multipart_preview(t)
        elif hour == 4:
            self._s3_service_kms(t)
        elif hour == 6:
            self._report_bucket_calls(t)
        elif hour in (7, 19):
            self._eu_bucket_location(t)
        elif hour == 9:
            self._denied_secret(t)
        elif hour == 12:
            self._build_report(t, versioned_source=True)
        elif hour == 14:
            self._missing_upload(t)

    def _planted(self, start: int) -> None:
        """The unusual calls planted for rightsizer.watch, each once, inside the window."""
        for before_end, plant in (
            (sc.LAPTOP_AT, self._laptop),
            (sc.NEW_BUCKET_AT, self._first_export_read),
            (sc.BURST_AT, self._denied_burst),
        ):
            t = self._end - before_end
            if start <= t < start + 3600 and self._start <= t:
                plant(t)

    # ---- sessions ----------------------------------------------------------------------------

    def _session(self, function: sc.FunctionSpec, t: int) -> _Session:
        """The function's session at `t`; a new one starts with Lambda's AssumeRole call."""
        self.last_used[function.role.name] = (t, function.region)
        session = self._sessions.get(function.name)
        if session is not None and t < session.expires:
            return session
        created = t - 1 - self._rng.randrange(5)
        key_id = "ASIA" + self._rec.hex(16)
        role = function.role
        identity: Record = {
            "type": "AssumedRole",
            "principalId": f"{role.role_id}:{function.name}",
            "arn": function.session_arn,
            "accountId": sc.ACCOUNT_ID,
            "accessKeyId": key_id,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role.role_id,
                    "arn": role.arn,
                    "accountId": sc.ACCOUNT_ID,
                    "userName": role.name,
                },
                "attributes": {"creationDate": ts(created), "mfaAuthenticated": "false"},
            },
        }
        agent = _USER_AGENTS[function.runtime].format(k=_KERNEL)
        octets = f"{self._rng.randrange(1, 255)}.{self._rng.randrange(1, 255)}"
        session = _Session(
            identity=identity,
            fas_identity={**identity, "invokedBy": "fas.s3.amazonaws.com"},
            lambda_identity={**identity, "invokedBy": sc.LAMBDA_SERVICE},
            ip=f"{_IP_PREFIX[function.region]}.{octets}",
            user_agent=agent,
            s3_user_agent=f"[{agent}]",
            expires=created + _SESSION_SECONDS + self._rng.randrange(3600),
        )
        self._sessions[function.name] = session
        self._rec.assume_role(created, function, key_id)
        if function is sc.EXPORTER:
            self._env_decrypt(created + 1, function, session)
        return session

    def _fn_s3(
        self, function: sc.FunctionSpec, t: int, name: str, bucket: str, key: str | None, **kw: Any
    ) -> None:
        """An S3 data event made by a Lambda function's code."""
        session = self._session(function, t)
        self._rec.s3_data(
            t,
            function.region,
            session.identity,
            session.ip,
            session.s3_user_agent,
            name,
            bucket,
            key,
            **kw,
        )

    def _list_objects(
        self,
        function: sc.FunctionSpec,
        t: int,
        bucket: str,
        prefix: str,
        option: dict[str, str],
        *,
        bytes_out: int,
    ) -> None:
        """A function's ListObjectsV2 of `prefix` (`option`: the SDK's one further parameter);
        the trail names the prefix and the bucket as its resources."""
        self._fn_s3(
            function,
            t,
            "ListObjects",
            bucket,
            None,
            read_only=True,
            params={"list-type": "2", "prefix": prefix, **option},
            resources=[prefix_resource(bucket, prefix), bucket_resource(bucket)],
            bytes_out=bytes_out,
        )

    # ---- the functions -----------------------------------------------------------------------

    def _thumbnail(self, t: int) -> None:
        """An upload from the EC2 app, then thumbnailer: Head, Get, Put with an ACL, table."""
        f = sc.THUMBNAILER
        image = self._rec.uuid()
        date = time.strftime("%Y/%m/%d", time.gmtime(t))
        upload_key = f"incoming/{date}/{image}.jpg"
        size = 200_000 + self._rng.randrange(3_000_000)
        self._ec2_upload(t - 2, upload_key, size)
        self._fn_s3(f, t, "HeadObject", sc.UPLOADS_BUCKET, upload_key, read_only=True)
        self._fn_s3(
            f, t + 1, "GetObject", sc.UPLOADS_BUCKET, upload_key, read_only=True, bytes_out=size
        )
        if self._rng.random() < 0.1:
            self._list_objects(
                f,
                t + 1,
                sc.UPLOADS_BUCKET,
                f"incoming/{date}/",
                {"encoding-type": "url"},
                bytes_out=1500 + self._rng.randrange(20_000),
            )
        thumb = size // 40
        self._fn_s3(
            f,
            t + 2,
            "PutObject",
            sc.THUMBNAILS_BUCKET,
            f"thumbs/{image}.jpg",
            read_only=False,
            params={"x-amz-acl": "bucket-owner-full-control", "Content-Type": "image/jpeg"},
            response={"x-amz-server-side-encryption": "AES256"},
            bytes_in=thumb,
            sse="Default_SSE_S3",
        )
        session = self._session(f, t + 3)
        self._rec.dynamodb(
            t + 3, session.identity, session.ip, session.user_agent, "PutItem", image
        )

    def _multipart_preview(self, t: int) -> None:
        """thumbnailer uploads a large preview video in three parts."""
        f = sc.THUMBNAILER
        key = f"previews/{self._rec.uuid()}.mp4"
        upload_id = self._rec.b64(48).replace("+", "-").replace("/", "_")
        bucket = sc.THUMBNAILS_BUCKET
        self._fn_s3(
            f,
            t,
            "CreateMultipartUpload",
            bucket,
            key,
            read_only=False,
            params={"uploads": "", "Content-Type": "video/mp4"},
            response={
                "InitiateMultipartUploadResult": {
                    "Bucket": bucket,
                    "Key": key,
                    "UploadId": upload_id,
                    "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                }
            },
        )
        for part in (1, 2, 3):
            self._fn_s3(
                f,
                t + part * 2,
                "UploadPart",
                bucket,
                key,
                read_only=False,
                params={"partNumber": str(part), "uploadId": upload_id},
                bytes_in=8_388_608 if part < 3 else 3_145_728,
            )
        self._fn_s3(
            f,
            t + 8,
            "CompleteMultipartUpload",
            bucket,
            key,
            read_only=False,
            params={"uploadId": upload_id},
            bytes_in=312,
            sse="Default_SSE_S3",
        )

    def _missing_upload(self, t: int) -> None:
        """thumbnailer reads an upload that is gone: NoSuchKey (usage, not a denial)."""
        key = f"incoming/{time.strftime('%Y/%m/%d', time.gmtime(t))}/{self._rec.uuid()}.jpg"
        self._fn_s3(
            sc.THUMBNAILER,
            t,
            "GetObject",
            sc.UPLOADS_BUCKET,
            key,
            read_only=True,
            error=("NoSuchKey", "The specified key does not exist."),
        )

    def _build_report(self, t: int, *, versioned_source: bool) -> None:
        """report-builder copies a raw report to final/ (SSE-KMS: Decrypt + GenerateDataKey)."""
        f = sc.REPORT_BUILDER
        name = self._rng.choice(_REPORT_NAMES)
        day = _day(t - 86400)
        source_key = f"daily/{day}/{name}"
        target_key = f"final/{day}/{name}"
        copy_source = quote(f"{sc.REPORTS_RAW_BUCKET}/{source_key}", safe="/")
        if self._rng.random() < 0.3:
            copy_source = "/" + copy_source  # some SDKs send a leading slash
        if versioned_source:
            copy_source += f"?versionId={self._rec.version_id()}"
        session = self._session(f, t)
        self._fn_s3(
            f,
            t,
            "CopyObject",
            sc.REPORTS_BUCKET,
            target_key,
            read_only=False,
            params={
                "x-amz-copy-source": copy_source,
                "x-amz-server-side-encryption": "aws:kms",
                "x-amz-server-side-encryption-aws-kms-key-id": sc.REPORTS_KMS_KEY_ARN,
            },
            resources=[
                object_resource(sc.REPORTS_BUCKET, target_key),
                bucket_resource(sc.REPORTS_BUCKET),
                object_resource(sc.REPORTS_RAW_BUCKET, source_key),
            ],
            response={
                "x-amz-server-side-encryption": "aws:kms",
                "x-amz-server-side-encryption-aws-kms-key-id": sc.REPORTS_KMS_KEY_ARN,
                "x-amz-version-id": self._rec.version_id(),
            },
            bytes_out=234,
            sse="SSE_KMS",
        )
        fas = "fas.s3.amazonaws.com"
        raw_context = {"aws:s3:arn": f"arn:aws:s3:::{sc.REPORTS_RAW_BUCKET}"}  # Bucket Key on
        self._rec.kms(t, session.fas_identity, "Decrypt", sc.REPORTS_KMS_KEY_ARN, raw_context, fas)
        context = {"aws:s3:arn": f"arn:aws:s3:::{sc.REPORTS_BUCKET}/{target_key}"}
        self._rec.kms(
            t, session.fas_identity, "GenerateDataKey", sc.REPORTS_KMS_KEY_ARN, context, fas
        )

    def _delete_raw_reports(self, t: int) -> None:
        """report-builder batch-deletes old raw reports: DeleteObjects logs no keys."""
        self._fn_s3(
            sc.REPORT_BUILDER,
            t,
            "DeleteObjects",
            sc.REPORTS_RAW_BUCKET,
            None,
            read_only=False,
            params={"delete": ""},
            resources=[
                prefix_resource(sc.REPORTS_RAW_BUCKET, ""),
                bucket_resource(sc.REPORTS_RAW_BUCKET),
            ],
            bytes_in=412 + self._rng.randrange(400),
            bytes_out=380,
        )

    def _report_bucket_calls(self, t: int) -> None:
        """report-builder's management calls: GetBucketLocation and ListBuckets."""
        f = sc.REPORT_BUILDER
        session = self._session(f, t)
        args = (f.region, session.identity, session.ip, session.user_agent)
        self._rec.s3_management(t, *args, "GetBucketLocation", sc.REPORTS_BUCKET, "location")
        self._rec.s3_management(t + 1, *args, "ListBuckets", None)

    def _mail_report(self, t: int) -> None:
        """report-mailer reads a final report, sometimes a given version; KMS Decrypt follows."""
        f = sc.REPORT_MAILER
        key = f"final/{_day(t - 86400)}/{self._rng.choice(_REPORT_NAMES)}"
        params = {"versionId": self._rec.version_id()} if self._rng.random() < 0.25 else None
        session = self._session(f, t)
        self._fn_s3(
            f,
            t,
            "GetObject",
            sc.REPORTS_BUCKET,
            key,
            read_only=True,
            params=params,
            bytes_out=20_000 + self._rng.randrange(200_000),
            sse="SSE_KMS",
        )
        context = {"aws:s3:arn": f"arn:aws:s3:::{sc.REPORTS_BUCKET}/{key}"}
        self._rec.kms(
            t,
            session.fas_identity,
            "Decrypt",
            sc.REPORTS_KMS_KEY_ARN,
            context,
            "fas.s3.amazonaws.com",
        )

    def _read_config(self, t: int) -> None:
        """config-reader: GetObject under app/, sometimes a ListObjects of app/."""
        f = sc.CONFIG_READER
        key = self._rng.choice(sc.CONFIG_KEYS)
        self._fn_s3(
            f,
            t,
            "GetObject",
            sc.CONFIG_BUCKET,
            key,
            read_only=True,
            bytes_out=800 + self._rng.randrange(4000),
        )
        if self._rng.random() < 0.25:
            self._list_objects(
                f, t + 1, sc.CONFIG_BUCKET, "app/", {"encoding-type": "url"}, bytes_out=2400
            )

    def _export(self, t: int) -> None:
        """exporter writes CSV parts to acme-exports/out/<date>/."""
        day = _day(t)
        for part in range(1 + self._rng.randrange(3)):
            self._fn_s3(
                sc.EXPORTER,
                t + part,
                "PutObject",
                sc.EXPORTS_BUCKET,
                f"out/{day}/part-{part:04d}.csv",
                read_only=False,
                params={"x-amz-server-side-encryption": "AES256", "Content-Type": "text/csv"},
                response={"x-amz-server-side-encryption": "AES256"},
                bytes_in=50_000 + self._rng.randrange(500_000),
                sse="SSE_S3",
            )

    def _denied_secret(self, t: int) -> None:
        """exporter tries a secret its permissions boundary does not allow: AccessDenied."""
        f = sc.EXPORTER
        message = (
            f"User: {f.session_arn} is not authorized to perform: s3:GetObject on resource: "
            f'"{sc.DENIED_OBJECT_ARN}" because no permissions boundary allows the s3:GetObject '
            "action"
        )
        self._fn_s3(
            f,
            t,
            "GetObject",
            sc.SECRETS_BUCKET,
            sc.DENIED_KEY,
            read_only=True,
            error=("AccessDenied", message),
        )

    def _denied_burst(self, t: int) -> None:
        """exporter tries the secret again and again for a quarter of an hour: a burst."""
        for n in range(sc.BURST_CALLS):
            self._denied_secret(t + 30 * n)

    def _first_export_read(self, t: int) -> None:
        """report-builder reads an export once: the role's first call on acme-exports."""
        key = f"out/{_day(t - 86400)}/part-0000.csv"
        self._fn_s3(
            sc.REPORT_BUILDER,
            t,
            "GetObject",
            sc.EXPORTS_BUCKET,
            key,
            read_only=True,
            bytes_out=50_000 + self._rng.randrange(500_000),
            sse="SSE_S3",
        )

    def _laptop(self, t: int) -> None:
        """report-mailer's live session used from a laptop: the AWS CLI on macOS, a public IP."""
        session = self._session(sc.REPORT_MAILER, t)
        identity = session.identity
        agent = CLI_AGENT.format(c="s3.ls")
        self._rec.s3_management(
            t, sc.HOME_REGION, identity, sc.LAPTOP_IP, agent, "ListBuckets", None
        )
        key = f"final/{_day(t - 86400)}/summary.csv"
        self._rec.s3_data(
            t + 45, sc.HOME_REGION, identity, sc.LAPTOP_IP, f"[{CLI_AGENT.format(c='s3.cp')}]",
            "GetObject", sc.REPORTS_BUCKET, key, read_only=True, bytes_out=48_213, sse="SSE_KMS",
        )  # fmt: skip
        context = {"aws:s3:arn": f"arn:aws:s3:::{sc.REPORTS_BUCKET}/{key}"}
        fas = "fas.s3.amazonaws.com"
        self._rec.kms(t + 45, session.fas_identity, "Decrypt", sc.REPORTS_KMS_KEY_ARN, context, fas)

    def _env_decrypt(self, t: int, function: sc.FunctionSpec, session: _Session) -> None:
        """Lambda decrypts the function's environment variables at a cold start."""
        context = {"aws:lambda:FunctionArn": function.arn}
        identity = session.lambda_identity
        self._rec.kms(t, identity, "Decrypt", sc.LAMBDA_ENV_KMS_KEY_ARN, context, sc.LAMBDA_SERVICE)

    def _eu_ingest(self, t: int) -> None:
        """eu-ingest (eu-west-1): list a landing batch, read it, write it normalized, delete."""
        f = sc.EU_INGEST
        day = _day(t)
        item = self._rec.uuid()
        landing_key = f"batches/{day}/{item}.json"
        self._list_objects(
            f, t, sc.EU_LANDING_BUCKET, f"batches/{day}/", {"max-keys": "100"}, bytes_out=900
        )
        size = 10_000 + self._rng.randrange(90_000)
        self._fn_s3(
            f, t + 1, "GetObject", sc.EU_LANDING_BUCKET, landing_key, read_only=True, bytes_out=size
        )
        self._fn_s3(
            f,
            t + 2,
            "PutObject",
            sc.EU_PROCESSED_BUCKET,
            f"normalized/{day}/{item}.parquet",
            read_only=False,
            bytes_in=size // 3,
            sse="Default_SSE_S3",
        )
        self._fn_s3(f, t + 3, "DeleteObject", sc.EU_LANDING_BUCKET, landing_key, read_only=False)

    def _eu_bucket_location(self, t: int) -> None:
        """eu-ingest's management call, visible even without data events."""
        f = sc.EU_INGEST
        session = self._session(f, t)
        self._rec.s3_management(
            t,
            f.region,
            session.identity,
            session.ip,
            session.user_agent,
            "GetBucketLocation",
            sc.EU_LANDING_BUCKET,
            "location",
        )

    def _legacy_cleanup_before_window(self) -> None:
        """legacy-cleanup's last run, 20 minutes before the window: it must not count."""
        t = self._start - 1200
        self._fn_s3(
            sc.LEGACY_CLEANUP,
            t,
            "DeleteObject",
            sc.LEGACY_BUCKET,
            "tmp/2019/export-old.csv",
            read_only=False,
        )

    # ---- principals that are not Lambda roles ------------------------------------------------

    def _ec2_upload(self, t: int, key: str, size: int) -> None:
        role = sc.EC2_APP_ROLE
        self.last_used[role.name] = (t, sc.HOME_REGION)
        identity = self._sessions_ec2()
        self._rec.s3_data(
            t,
            sc.HOME_REGION,
            identity,
            "10.0.12.47",
            f"[{_EC2_AGENT}]",
            "PutObject",
            sc.UPLOADS_BUCKET,
            key,
            read_only=False,
            params={"Content-Type": "image/jpeg"},
            bytes_in=size,
            sse="Default_SSE_S3",
        )

    def _sessions_ec2(self) -> Record:
        cached = self._sessions.get("ec2")
        if cached is None:
            role = sc.EC2_APP_ROLE
            identity: Record = {
                "type": "AssumedRole",
                "principalId": f"{role.role_id}:{sc.EC2_INSTANCE_ID}",
                "arn": session_arn(role, sc.EC2_INSTANCE_ID),
                "accountId": sc.ACCOUNT_ID,
                "accessKeyId": "ASIA" + self._rec.hex(16),
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "principalId": role.role_id,
                        "arn": role.arn,
                        "accountId": sc.ACCOUNT_ID,
                        "userName": role.name,
                    },
                    "attributes": {
                        "creationDate": ts(self._start - 7200),
                        "mfaAuthenticated": "false",
                    },
                    "ec2RoleDelivery": "2.0",
                },
            }
            cached = _Session(identity, identity, identity, "10.0.12.47", "", "", 0)
            self._sessions["ec2"] = cached
        return cached.identity

    def _alice(self, t: int) -> None:
        """An IAM user at a terminal: lists buckets, reads a report, looks at a function."""
        identity = {
            "type": "IAMUser",
            "principalId": sc.stable_id("AIDA", "alice"),
            "arn": sc.ALICE_ARN,
            "accountId": sc.ACCOUNT_ID,
            "accessKeyId": "AKIAEXAMPLEALICE0001",
            "userName": "alice",
        }
        ip = "198.51.100.23"
        choice = self._rng.randrange(4)
        if choice == 0:
            agent = CLI_AGENT.format(c="s3.ls")
            self._rec.s3_management(t, sc.HOME_REGION, identity, ip, agent, "ListBuckets", None)
        elif choice == 1:
            key = f"final/{_day(t - 86400)}/summary.csv"
            agent = f"[{CLI_AGENT.format(c='s3.cp')}]"
            self._rec.s3_data(
                t, sc.HOME_REGION, identity, ip, agent, "GetObject", sc.REPORTS_BUCKET, key,
                read_only=True, bytes_out=48_213, sse="SSE_KMS",
            )  # fmt: skip
        else:
            name = (
                "GetFunction20150331v2" if choice == 2 else "UpdateFunctionConfiguration20150331v2"
            )
            function = self._rng.choice(sc.FUNCTIONS)
            self._rec.lambda_management(t, identity, ip, name, function)

    def _config_service(self, t: int) -> None:
        """AWS Config inspects a bucket through its service-linked role."""
        role = sc.CONFIG_SERVICE_ROLE
        session = "AWSConfig-Describe"
        identity = {
            "type": "AssumedRole",
            "principalId": f"{role.role_id}:{session}",
            "arn": session_arn(role, session),
            "accountId": sc.ACCOUNT_ID,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role.role_id,
                    "arn": role.arn,
                    "accountId": sc.ACCOUNT_ID,
                    "userName": role.name,
                },
                "attributes": {"creationDate": ts(t - 30), "mfaAuthenticated": "false"},
            },
            "invokedBy": sc.CONFIG_SERVICE,
        }
        name, sub_resource = self._rng.choice(_CONFIG_SERVICE_CALLS)
        bucket = self._rng.choice(sc.BUCKETS)
        region = sc.EU_REGION if bucket.startswith("acme-eu-") else sc.HOME_REGION
        via = sc.CONFIG_SERVICE
        self._rec.s3_management(t, region, identity, via, via, name, bucket, sub_resource)

    def _s3_service_kms(self, t: int) -> None:
        """S3 itself refreshes a Bucket Key: an AWSService KMS call with no role to credit."""
        context = {"aws:s3:arn": f"arn:aws:s3:::{sc.REPORTS_RAW_BUCKET}"}
        identity = {"type": "AWSService", "invokedBy": "s3.amazonaws.com"}
        self._rec.kms(
            t, identity, "GenerateDataKey", sc.REPORTS_KMS_KEY_ARN, context, "s3.amazonaws.com"
        )
