"""The CloudTrail table Athena reads: its columns, as the Athena User Guide documents them.

"Create the table for CloudTrail logs in Athena using partition projection" gives the table
`queries/cloudtrail_events.sql` reads (as `cloudtrail_raw`): lower-case columns, the JSON
documents `requestparameters`, `responseelements`, `additionaleventdata` and
`serviceeventdetails` as text, `eventtime` and `readonly` as text, and a partition column
`timestamp` (the delivery day folder, yyyy/MM/dd). The Athena engine creates the table from
this list; the tests build the same shape in DuckDB from it.
"""

from __future__ import annotations

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
