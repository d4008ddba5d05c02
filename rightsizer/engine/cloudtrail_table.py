"""The CloudTrail table Athena reads: its columns, as the Athena User Guide documents them.

"Create the table for CloudTrail logs in Athena using partition projection" gives the table
`queries/cloudtrail_events.sql` reads (as `cloudtrail_raw`): lower-case columns, the JSON
documents `requestparameters`, `responseelements`, `additionaleventdata` and
`serviceeventdetails` as text, `eventtime` and `readonly` as text, and a partition column
`timestamp` (the delivery day folder, yyyy/MM/dd). The Athena engine creates the table from
this list; the tests build the same shape in DuckDB from it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rightsizer.errors import ConfigError

if TYPE_CHECKING:
    from rightsizer.sources.base import LogSource

# (name, Hive type) of each column, in the documented order.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("eventversion", "STRING"),
    (
        "useridentity",
        "STRUCT<type:STRING,principalid:STRING,arn:STRING,accountid:STRING,invokedby:STRING,"
        "accesskeyid:STRING,username:STRING,"
        "onbehalfof:STRUCT<userid:STRING,identitystorearn:STRING>,"
        "sessioncontext:STRUCT<"
        "attributes:STRUCT<mfaauthenticated:STRING,creationdate:STRING>,"
        "sessionissuer:STRUCT<type:STRING,principalid:STRING,arn:STRING,accountid:STRING,"
        "username:STRING>,"
        "ec2roledelivery:STRING,"
        "webidfederationdata:STRUCT<federatedprovider:STRING,attributes:MAP<STRING,STRING>>>>",
    ),
    ("eventtime", "STRING"),
    ("eventsource", "STRING"),
    ("eventname", "STRING"),
    ("awsregion", "STRING"),
    ("sourceipaddress", "STRING"),
    ("useragent", "STRING"),
    ("errorcode", "STRING"),
    ("errormessage", "STRING"),
    ("requestparameters", "STRING"),
    ("responseelements", "STRING"),
    ("additionaleventdata", "STRING"),
    ("requestid", "STRING"),
    ("eventid", "STRING"),
    ("readonly", "STRING"),
    ("resources", "ARRAY<STRUCT<arn:STRING,accountid:STRING,type:STRING>>"),
    ("eventtype", "STRING"),
    ("apiversion", "STRING"),
    ("recipientaccountid", "STRING"),
    ("serviceeventdetails", "STRING"),
    ("sharedeventid", "STRING"),
    ("vpcendpointid", "STRING"),
    ("vpcendpointaccountid", "STRING"),
    ("eventcategory", "STRING"),
    (
        "addendum",
        "STRUCT<reason:STRING,updatedfields:STRING,originalrequestid:STRING,"
        "originaleventid:STRING>",
    ),
    ("sessioncredentialfromconsole", "STRING"),
    ("edgedevicedetails", "STRING"),
    ("tlsdetails", "STRUCT<tlsversion:STRING,ciphersuite:STRING,clientprovidedhostheader:STRING>"),
)

# The partition column of the documented table: the day folder a file was delivered to.
DAY_PARTITION = "timestamp"
DAY_FORMAT = "%Y/%m/%d"


def create_table_ddl(
    table: str,
    database: str,
    location: str,
    accounts: list[str],
    regions: list[str],
    first_day: dt.date,
    organization: str | None = None,
) -> str:
    """CREATE EXTERNAL TABLE for the trail at `location` (s3://bucket/prefix), the User Guide's
    CloudTrail table with partition projection on account, region and delivery day.

    `accounts` and `regions` are the trail's folders (enum projections); `organization` is
    the o-... folder of an organization trail.
    """
    logs = f"{location.rstrip('/')}/AWSLogs/" + (f"{organization}/" if organization else "")
    columns = ",\n  ".join(f"`{name}` {kind}" for name, kind in COLUMNS)
    properties = {
        "projection.enabled": "true",
        "projection.account.type": "enum",
        "projection.account.values": ",".join(accounts),
        "projection.region.type": "enum",
        "projection.region.values": ",".join(regions),
        f"projection.{DAY_PARTITION}.type": "date",
        f"projection.{DAY_PARTITION}.format": "yyyy/MM/dd",
        f"projection.{DAY_PARTITION}.interval": "1",
        f"projection.{DAY_PARTITION}.interval.unit": "DAYS",
        f"projection.{DAY_PARTITION}.range": f"{first_day:{DAY_FORMAT}},NOW",
        "storage.location.template": logs
        + "${account}/CloudTrail/${region}/${"
        + DAY_PARTITION
        + "}",
    }
    listed = ",\n  ".join(f"'{key}'='{value}'" for key, value in properties.items())
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`{table}` (\n  {columns}\n)\n"
        f"PARTITIONED BY (`account` string, `region` string, `{DAY_PARTITION}` string)\n"
        "ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'\n"
        "STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'\n"
        "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'\n"
        f"LOCATION '{logs}'\n"
        f"TBLPROPERTIES (\n  {listed}\n)"
    )


# The first day a created table's projection covers: CloudTrail's launch year. Queries name
# their days; an early start costs nothing and serves any later window.
PROJECTION_START = dt.date(2013, 1, 1)
_REGION_FOLDER_RE = re.compile(
    r"^AWSLogs/(?:(?P<org>o-[a-z0-9]+)/)?(?P<account>\d{12})/CloudTrail/(?P<region>[a-z0-9-]+)/$"
)


def ensure_table(
    glue: Any,
    trail: LogSource | None,
    *,
    database: str,
    table: str,
    create: bool,
    run_ddl: Callable[[str], None],
) -> bool:
    """Check that the CloudTrail `table` exists in `database` (Glue Data Catalog); when it does
    not and `create` (the user's --athena-create-table) allows, create it over `trail`'s
    accounts and regions with `run_ddl` (the Athena engine's). True if it was created.

    ConfigError for a missing database, a missing table without consent, or a trail whose
    folders one table cannot cover (two organizations, or accounts inside and outside one).
    """
    try:
        glue.get_database(Name=database)
    except glue.exceptions.EntityNotFoundException:
        raise ConfigError(
            f"Athena database {database!r} does not exist; create it "
            f"(CREATE DATABASE {database}) or name another with --athena-database"
        ) from None
    try:
        glue.get_table(DatabaseName=database, Name=table)
        return False
    except glue.exceptions.EntityNotFoundException:
        pass
    if not create:
        raise ConfigError(
            f"Athena table {database}.{table} does not exist; name the trail's "
            "CloudTrail table with --athena-table, or let rightsizer create it over --source "
            "with --athena-create-table"
        )
    if trail is None or not trail.spec.startswith("s3://"):
        raise ConfigError("--athena-create-table needs the trail: --source s3://bucket/prefix")
    folders = [m for m in map(_REGION_FOLDER_RE.match, trail.region_folders()) if m]
    organizations = {m["org"] for m in folders}
    if not folders or len(organizations) > 1:
        found = "no log folders" if not folders else f"folders of {len(organizations)} layouts"
        raise ConfigError(
            f"{trail.spec} has {found} (one table covers one organization's or one account "
            "trail's AWSLogs/ folder); create the table by hand and name it with --athena-table"
        )
    run_ddl(
        create_table_ddl(
            table,
            database,
            trail.spec,
            accounts=sorted({m["account"] for m in folders}),
            regions=sorted({m["region"] for m in folders}),
            first_day=PROJECTION_START,
            organization=organizations.pop(),
        )
    )
    return True
