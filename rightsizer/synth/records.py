"""CloudTrail record builders for the synthetic data: S3, KMS, STS, DynamoDB and Lambda calls.

A `Recorder` draws every id from the seeded RNG and hands each finished record to the emit
callback as `(event_time, record)`. Shapes follow real trail records (CloudTrail User Guide,
record contents); identities are passed in, built once per session by the caller.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from random import Random
from typing import Any

from rightsizer.synth import scenario as sc

Record = dict[str, Any]
Emit = Callable[[int, Record], None]

_TLS = "TLS_AES_128_GCM_SHA256"
_KEY_MATERIAL = "b2f1c0d3e4a5968778695a4b3c2d1e0f1a2b3c4d5e6f708192a3b4c5d6e7f809"
CLI_AGENT = (
    "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/macos#23.4.0 md/arch#arm64 lang/python#3.11.8 "
    "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#{c}"
)


def ts(t: int) -> str:
    """CloudTrail's eventTime format for a UNIX time."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Recorder:
    """Builds records with ids from `rng` and emits them; skips data events when they are off."""

    def __init__(self, rng: Random, emit: Emit, *, data_events: bool) -> None:
        self._rng = rng
        self._emit = emit
        self._data_events = data_events

    def uuid(self) -> str:
        """A version-4 UUID from the seeded RNG."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def hex(self, digits: int) -> str:
        """Upper-case hex digits, as S3 request ids."""
        return f"{self._rng.getrandbits(digits * 4):0{digits}X}"

    def b64(self, size: int) -> str:
        """Base64 of `size` random bytes (x-amz-id-2, tokens)."""
        return base64.b64encode(self._rng.randbytes(size)).decode()

    def version_id(self) -> str:
        """An S3 object version id."""
        return base64.urlsafe_b64encode(self._rng.randbytes(24)).decode()

    def assume_role(self, t: int, function: sc.FunctionSpec, key_id: str) -> None:
        """Lambda assumes the execution role; the session name is the function name."""
        expiration = time.gmtime(t + 12 * 3600)
        stamp = time.strftime("%b {d}, %Y, {h}:%M:%S %p", expiration).format(
            d=expiration.tm_mday, h=(expiration.tm_hour % 12) or 12
        )
        self._emit(
            t,
            {
                "eventVersion": "1.08",
                "userIdentity": {"type": "AWSService", "invokedBy": sc.LAMBDA_SERVICE},
                "eventTime": ts(t),
                "eventSource": "sts.amazonaws.com",
                "eventName": "AssumeRole",
                "awsRegion": function.region,
                "sourceIPAddress": sc.LAMBDA_SERVICE,
                "userAgent": sc.LAMBDA_SERVICE,
                "requestParameters": {
                    "roleArn": function.role.arn,
                    "roleSessionName": function.name,
                },
                "responseElements": {
                    "credentials": {
                        "accessKeyId": key_id,
                        "sessionToken": "IQoJb3JpZ2luX2Vj" + self.b64(96),
                        "expiration": stamp,
                    }
                },
                "requestID": self.uuid(),
                "eventID": self.uuid(),
                "readOnly": True,
                "resources": [
                    {
                        "accountId": sc.ACCOUNT_ID,
                        "type": "AWS::IAM::Role",
                        "ARN": function.role.arn,
                    }
                ],
                "eventType": "AwsApiCall",
                "managementEvent": True,
                "recipientAccountId": sc.ACCOUNT_ID,
                "sharedEventID": self.uuid(),
                "eventCategory": "Management",
            },
        )

    def s3_data(
        self,
        t: int,
        region: str,
        identity: Record,
        ip: str,
        agent: str,
        name: str,
        bucket: str,
        key: str | None,
        *,
        read_only: bool,
        params: Record | None = None,
        resources: list[Record] | None = None,
        response: Record | None = None,
        error: tuple[str, str] | None = None,
        bytes_in: int = 0,
        bytes_out: int = 0,
        sse: str | None = None,
    ) -> None:
        """One S3 data event (skipped when the trail logs no data events)."""
        if not self._data_events:
            return
        host = f"{bucket}.s3.{region}.amazonaws.com"
        request: Record = {"bucketName": bucket, "Host": host}
        if key is not None:
            request["key"] = key
        if params:
            request.update(params)
        if resources is None:
            resources = [object_resource(bucket, key or ""), bucket_resource(bucket)]
        extra: Record = {
            "SignatureVersion": "SigV4",
            "CipherSuite": _TLS,
            "bytesTransferredIn": bytes_in,
            "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": self.b64(57),
            "bytesTransferredOut": bytes_out,
        }
        if sse:
            extra["SSEApplied"] = sse
        record: Record = {
            "eventVersion": "1.10",
            "userIdentity": identity,
            "eventTime": ts(t),
            "eventSource": "s3.amazonaws.com",
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": ip,
            "userAgent": agent,
        }
        if error:
            record["errorCode"], record["errorMessage"] = error
        record.update(
            {
                "requestParameters": request,
                "responseElements": response,
                "additionalEventData": extra,
                "requestID": self.hex(16),
                "eventID": self.uuid(),
                "readOnly": read_only,
                "resources": resources,
                "eventType": "AwsApiCall",
                "managementEvent": False,
                "recipientAccountId": sc.ACCOUNT_ID,
                "eventCategory": "Data",
                "tlsDetails": {
                    "tlsVersion": "TLSv1.3",
                    "cipherSuite": _TLS,
                    "clientProvidedHostHeader": host,
                },
            }
        )
        self._emit(t, record)

    def s3_management(
        self,
        t: int,
        region: str,
        identity: Record,
        ip: str,
        agent: str,
        name: str,
        bucket: str | None,
        sub_resource: str | None = None,
    ) -> None:
        """One S3 management event: a bucket-level call, or ListBuckets without a bucket."""
        if bucket is None:
            request: Record = {"Host": f"s3.{region}.amazonaws.com"}
            resources: list[Record] | None = None
        else:
            request = {"bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com"}
            if sub_resource:
                request[sub_resource] = ""
            resources = [bucket_resource(bucket)]
        record: Record = {
            "eventVersion": "1.09",
            "userIdentity": identity,
            "eventTime": ts(t),
            "eventSource": "s3.amazonaws.com",
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": ip,
            "userAgent": agent,
            "requestParameters": request,
            "responseElements": None,
            "additionalEventData": {
                "SignatureVersion": "SigV4",
                "CipherSuite": _TLS,
                "bytesTransferredIn": 0,
                "AuthenticationMethod": "AuthHeader",
                "x-amz-id-2": self.b64(57),
                "bytesTransferredOut": 0 if bucket is None else 137,
            },
            "requestID": self.hex(16),
            "eventID": self.uuid(),
            "readOnly": True,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": sc.ACCOUNT_ID,
            "eventCategory": "Management",
            "tlsDetails": {
                "tlsVersion": "TLSv1.3",
                "cipherSuite": _TLS,
                "clientProvidedHostHeader": request["Host"],
            },
        }
        if resources is not None:
            record["resources"] = resources
        self._emit(t, record)

    def kms(
        self,
        t: int,
        identity: Record,
        name: str,
        key_arn: str,
        context: Record,
        via: str,
        key_id: str | None = None,
    ) -> None:
        """A KMS management event (`via` is the address/agent: the service acting, or an IP)."""
        request: Record = {"encryptionContext": context, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
        if name == "GenerateDataKey":
            request = {
                "keyId": key_id or key_arn,
                "encryptionContext": context,
                "keySpec": "AES_256",
            }
        self._emit(
            t,
            {
                "eventVersion": "1.11",
                "userIdentity": identity,
                "eventTime": ts(t),
                "eventSource": "kms.amazonaws.com",
                "eventName": name,
                "awsRegion": key_arn.split(":")[3],
                "sourceIPAddress": via,
                "userAgent": via,
                "requestParameters": request,
                "responseElements": None,
                "additionalEventData": {"keyMaterialId": _KEY_MATERIAL},
                "requestID": self.uuid(),
                "eventID": self.uuid(),
                "readOnly": True,
                "resources": [
                    {"accountId": sc.ACCOUNT_ID, "type": "AWS::KMS::Key", "ARN": key_arn}
                ],
                "eventType": "AwsApiCall",
                "managementEvent": True,
                "recipientAccountId": sc.ACCOUNT_ID,
                "eventCategory": "Management",
            },
        )

    def dynamodb(
        self, t: int, identity: Record, ip: str, agent: str, name: str, image_id: str
    ) -> None:
        """A DynamoDB item call on the images table (a data event)."""
        if not self._data_events:
            return
        self._emit(
            t,
            {
                "eventVersion": "1.09",
                "userIdentity": identity,
                "eventTime": ts(t),
                "eventSource": "dynamodb.amazonaws.com",
                "eventName": name,
                "awsRegion": sc.HOME_REGION,
                "sourceIPAddress": ip,
                "userAgent": agent,
                "requestParameters": {"tableName": "acme-images", "key": {"image_id": image_id}},
                "responseElements": None,
                "requestID": self.hex(52),
                "eventID": self.uuid(),
                "readOnly": name == "GetItem",
                "resources": [
                    {
                        "accountId": sc.ACCOUNT_ID,
                        "type": "AWS::DynamoDB::Table",
                        "ARN": sc.TABLE_ARN,
                    }
                ],
                "eventType": "AwsApiCall",
                "apiVersion": "2012-08-10",
                "managementEvent": False,
                "recipientAccountId": sc.ACCOUNT_ID,
                "eventCategory": "Data",
                "tlsDetails": {
                    "tlsVersion": "TLSv1.3",
                    "cipherSuite": _TLS,
                    "clientProvidedHostHeader": "dynamodb.us-east-1.amazonaws.com",
                },
            },
        )

    def lambda_management(
        self, t: int, identity: Record, ip: str, name: str, function: sc.FunctionSpec
    ) -> None:
        """A Lambda control-plane call about `function` (a management event)."""
        request: Record = {"functionName": function.name}
        if name.startswith("Update"):
            request["timeout"] = 60
        self._emit(
            t,
            {
                "eventVersion": "1.08",
                "userIdentity": identity,
                "eventTime": ts(t),
                "eventSource": "lambda.amazonaws.com",
                "eventName": name,
                "awsRegion": function.region,
                "sourceIPAddress": ip,
                "userAgent": CLI_AGENT.format(c=f"lambda.{_kebab(name)}"),
                "requestParameters": request,
                "responseElements": None,
                "requestID": self.uuid(),
                "eventID": self.uuid(),
                "readOnly": name.startswith("Get"),
                "eventType": "AwsApiCall",
                "managementEvent": True,
                "recipientAccountId": sc.ACCOUNT_ID,
                "eventCategory": "Management",
            },
        )


def object_resource(bucket: str, key: str) -> Record:
    return {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"}


def prefix_resource(bucket: str, prefix: str) -> Record:
    return {"type": "AWS::S3::Object", "ARNPrefix": f"arn:aws:s3:::{bucket}/{prefix}"}


def bucket_resource(bucket: str) -> Record:
    return {"accountId": sc.ACCOUNT_ID, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}


def _kebab(event_name: str) -> str:
    """`GetFunction20150331v2` → `get-function`, as the CLI names its command."""
    words: list[str] = []
    for char in event_name.rstrip("v0123456789"):
        if char.isupper() and words:
            words.append("-")
        words.append(char.lower())
    return "".join(words)


def session_arn(role: sc.RoleSpec, session: str) -> str:
    return f"arn:aws:sts::{sc.ACCOUNT_ID}:assumed-role/{role.name}/{session}"
