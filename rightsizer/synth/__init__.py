"""A realistic synthetic CloudTrail tree plus IAM snapshot, for the demo, tests and notebook.

The scenario (names in `rightsizer.synth.scenario`, re-exported here) is one account,
111122223333, with a multi-region trail `main` (home us-east-1, also eu-west-1):

Lambda functions (session name = function name, user agent with `exec-env/AWS_Lambda_<rt>`):

* `thumbnailer` (python3.12) on `/service-role/thumbnailer-role-x1y2z3`, which holds
  AmazonS3FullAccess + AWSLambdaBasicExecutionRole + an inline DynamoDB policy (over-privileged).
  Calls HeadObject/GetObject on `acme-uploads/incoming/<yyyy>/<mm>/<dd>/<uuid>.jpg`,
  ListObjects (`list-type` 2, prefix `incoming/<date>/`), PutObject to
  `acme-thumbnails/thumbs/<uuid>.jpg` with `x-amz-acl`, a daily three-part multipart upload to
  `acme-thumbnails/previews/`, a daily GetObject failing with NoSuchKey, DynamoDB PutItem.
* `report-builder` (java21) and `report-mailer` (nodejs20.x) share `report-role` (path `/`,
  inline `s3:*` on `*` plus kms Decrypt/GenerateDataKey on the reports key). The builder
  copies `acme-reports-raw/daily/<date>/<name>` to `acme-reports/final/<date>/<name>` (copy
  source URL-encoded, some with a leading `/`, one a day with `?versionId=`; names contain
  spaces, `+`, `(`, `;`), batch-deletes on acme-reports-raw daily (DeleteObjects, resource with
  `ARNPrefix`), and makes GetBucketLocation + ListBuckets (management) daily. The mailer reads
  final reports, a quarter of them with `versionId`. Each SSE-KMS read/write gives a KMS
  Decrypt/GenerateDataKey under the role's session with invokedBy `fas.s3.amazonaws.com`
  (acme-reports-raw has a Bucket Key: its encryption context is the bucket ARN).
* `config-reader` (python3.12) on `config-reader-role`: least privilege (GetObject on
  `acme-config/app/*`, ListBucket on `acme-config`) and uses exactly that: GetObject on the
  twelve `CONFIG_KEYS` under `app/`, ListObjects with prefix `app/`.
* `legacy-cleanup` on `legacy-cleanup-role` (managed `LegacyS3Access`, default version v2):
  idle in the window; its one DeleteObject is 20 minutes *before* the window start, delivered
  inside the first day folder (it must not count).
* `exporter` on `exporter-role` (inline PutObject on `acme-exports/*`, GetObject on `*`;
  permissions boundary `LambdaExportBoundary`): writes `acme-exports/out/<date>/part-<n>.csv`;
  once a day its GetObject on `acme-secrets/keys.txt` is denied (AccessDenied, the boundary).
  Lambda decrypts its environment at each cold start (KMS, invokedBy lambda.amazonaws.com).
* `eu-ingest` (nodejs20.x, eu-west-1) on `eu-ingest-role`: lists, reads and deletes
  `acme-eu-landing/batches/<date>/<uuid>.json`, writes `acme-eu-processed/normalized/...`,
  GetBucketLocation (management) twice a day.

Planted for rightsizer.watch, each once and inside the window when it reaches back that far
(`LAPTOP_AT`, `NEW_BUCKET_AT`, `BURST_AT`: seconds before its end): report-mailer's live session
used from a laptop (the AWS CLI on macOS, `LAPTOP_IP`: ListBuckets, then a GetObject of a final
report); report-builder's first read of `acme-exports` (first seen, two days before the end);
and `BURST_CALLS` more denied reads of `acme-secrets/keys.txt` by exporter within a quarter of an
hour, three days before the end. Nothing else in the traffic is unusual.

Not Lambda roles (never in results): IAM user `alice` (ListBuckets, GetObject, Lambda calls),
EC2 role `ec2-app-role` (session `i-0abc1234def567890`, uploads to acme-uploads), AWS Config's
service-linked role (bucket reads, invokedBy config.amazonaws.com), AWSService principals
(Lambda's AssumeRole per cold start, S3's own Bucket Key KMS calls).

`EXPECTED_S3_ACTIONS` holds the IAM actions each Lambda role's successful in-window S3 calls
need. With `data_events=False` the trail logs no data events at all (selectors without
DataResources): only management events (GetBucketLocation, ListBuckets, KMS, STS) remain.

The tree follows real delivery: files named by delivery time (several per hour per region),
records delayed 1–10 minutes (a few up to 18 hours, so some land in the next day's folder),
every 500th record delivered twice in two files, events from the hour before the window and
the hour after it, hourly digest files, and one Insight file. Every log file lies in the day
folders `Window.ending(until, days).delivery_days()` lists.

The package, in the order the data is made: `scenario` (names, roles, functions, the known
answers), `side_files` (today's policies, the IAM snapshot, function list and event selectors),
`records` (one CloudTrail record per call), `events` (`Traffic`: who calls what, hour by hour),
`delivery` (log files, digests, the Insight file) and `dataset` (`generate`, `demo_dataset`).
"""

from __future__ import annotations

from rightsizer.synth.dataset import (
    DEMO_MANIFEST,
    RECORDS_PER_DAY_PER_SCALE,
    SynthDataset,
    demo_dataset,
    generate,
    scale_for,
)
from rightsizer.synth.delivery import MAX_RECORDS_PER_FILE
from rightsizer.synth.scenario import (
    ACCOUNT_ID,
    ALICE_ARN,
    BUCKETS,
    BURST_CALLS,
    CONFIG_BUCKET,
    CONFIG_KEYS,
    CONFIG_READER,
    CONFIG_READER_ROLE,
    CONFIG_SERVICE_ROLE,
    DENIED_OBJECT_ARN,
    EC2_APP_ROLE,
    EU_INGEST,
    EU_INGEST_ROLE,
    EU_LANDING_BUCKET,
    EU_PROCESSED_BUCKET,
    EU_REGION,
    EXPECTED_S3_ACTIONS,
    EXPECTED_S3_MANAGEMENT_ACTIONS,
    EXPORTER,
    EXPORTER_ROLE,
    EXPORTS_BUCKET,
    FUNCTIONS,
    HOME_REGION,
    LAMBDA_ROLES,
    LAPTOP_IP,
    LEGACY_BUCKET,
    LEGACY_CLEANUP,
    LEGACY_CLEANUP_ROLE,
    NON_LAMBDA_PRINCIPAL_ARNS,
    ORG_ID,
    REGIONS,
    REPORT_BUILDER,
    REPORT_MAILER,
    REPORT_ROLE,
    REPORTS_BUCKET,
    REPORTS_KMS_KEY_ARN,
    REPORTS_RAW_BUCKET,
    SECRETS_BUCKET,
    THUMBNAILER,
    THUMBNAILER_ROLE,
    THUMBNAILS_BUCKET,
    TRAIL_BUCKET,
    TRAIL_NAME,
    UPLOADS_BUCKET,
    FunctionSpec,
    RoleSpec,
)

__all__ = [
    "ACCOUNT_ID",
    "ALICE_ARN",
    "BUCKETS",
    "BURST_CALLS",
    "CONFIG_BUCKET",
    "CONFIG_KEYS",
    "CONFIG_READER",
    "CONFIG_READER_ROLE",
    "CONFIG_SERVICE_ROLE",
    "DEMO_MANIFEST",
    "DENIED_OBJECT_ARN",
    "EC2_APP_ROLE",
    "EU_INGEST",
    "EU_INGEST_ROLE",
    "EU_LANDING_BUCKET",
    "EU_PROCESSED_BUCKET",
    "EU_REGION",
    "EXPECTED_S3_ACTIONS",
    "EXPECTED_S3_MANAGEMENT_ACTIONS",
    "EXPORTER",
    "EXPORTER_ROLE",
    "EXPORTS_BUCKET",
    "FUNCTIONS",
    "HOME_REGION",
    "LAMBDA_ROLES",
    "LAPTOP_IP",
    "LEGACY_BUCKET",
    "LEGACY_CLEANUP",
    "LEGACY_CLEANUP_ROLE",
    "MAX_RECORDS_PER_FILE",
    "NON_LAMBDA_PRINCIPAL_ARNS",
    "ORG_ID",
    "RECORDS_PER_DAY_PER_SCALE",
    "REGIONS",
    "REPORTS_BUCKET",
    "REPORTS_KMS_KEY_ARN",
    "REPORTS_RAW_BUCKET",
    "REPORT_BUILDER",
    "REPORT_MAILER",
    "REPORT_ROLE",
    "SECRETS_BUCKET",
    "THUMBNAILER",
    "THUMBNAILER_ROLE",
    "THUMBNAILS_BUCKET",
    "TRAIL_BUCKET",
    "TRAIL_NAME",
    "UPLOADS_BUCKET",
    "FunctionSpec",
    "RoleSpec",
    "SynthDataset",
    "demo_dataset",
    "generate",
    "scale_for",
]
