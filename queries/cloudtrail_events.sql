-- cloudtrail_events: staging. The store's `events` rows (same columns, same types, same rules
-- as rightsizer.records) from `cloudtrail_raw`, a table shaped like the CloudTrail table the
-- Athena User Guide documents ("Create the table for CloudTrail logs in Athena using partition
-- projection"): lower-case columns, eventtime and readonly as text, requestparameters as JSON
-- text, resources ARRAY<STRUCT<arn, accountid, type>>, the partition column "timestamp"
-- (yyyy/MM/dd, the delivery day folder) and Athena's hidden "$path" (the log file's URI).
--
-- Parameters:
--   $first_day, $last_day  VARCHAR 'yyyy/MM/dd', the delivery day folders to read (inclusive;
--                          Window.delivery_days: the same folders ingest lists)
-- Reads: cloudtrail_raw.
-- Rules, as ingest applies them: a record without an eventID, or whose eventtime is no time
-- (lenient ISO 8601, converted to UTC), is bad and left out; Insight records are left out; the
-- same eventID twice is kept once, from the first log file by key. readonly is parsed from
-- 'true'/'false'. The table has no managementEvent column: management_event is whether
-- eventcategory is 'Management' (CloudTrail writes both fields together, event version 1.07+).
-- Nor an ARNPrefix field in resources: arn_prefix is NULL (s3_calls reads it only for a bucket
-- no bucket ARN, object ARN or request parameter names).
WITH timed AS (
    -- Columns by name: Athena's "$path" is hidden from r.*.
    SELECT
        r.eventid,
        r.eventtime,
        r.eventversion,
        r.eventsource,
        r.eventname,
        r.eventtype,
        r.eventcategory,
        r.readonly,
        r.awsregion,
        r.recipientaccountid,
        r.useridentity,
        r.useragent,
        r.sourceipaddress,
        r.errorcode,
        r.errormessage,
        r.sharedeventid,
        r.requestparameters,
        r.resources,
        r."$path" AS log_path,
        -- The time without zone: yyyy-MM-dd[T ]HH:mm:ss[.fraction]; NULL when it is no time.
        nullif(
            regexp_extract(
                r.eventtime,
                '^\s*([0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]'
                || '([.,][0-9]+)?)\s*(Z|[+-][0-9]{2}:?[0-9]{2})?\s*$',
                1
            ),
            ''
        ) AS local_time,
        nullif(regexp_extract(r.eventtime, '([+-][0-9]{2}):?([0-9]{2})\s*$', 0), '') AS zone
    FROM cloudtrail_raw AS r
    WHERE r."timestamp" >= $first_day
        AND r."timestamp" <= $last_day
        AND r.eventid IS NOT NULL
        AND r.eventid <> ''
        AND r.eventtype IS DISTINCT FROM 'AwsCloudTrailInsight'
),

parsed AS (
    SELECT
        t.*,
        -- Microseconds: the fraction cut or padded to six digits; year 0 is no year.
        CASE WHEN substr(t.local_time, 1, 4) <> '0000' THEN
            try_cast(
                substr(t.local_time, 1, 10) || ' ' || substr(t.local_time, 12, 8) || '.'
                || substr(substr(t.local_time, 21) || '000000', 1, 6) AS TIMESTAMP
            )
            -- An offset +hh:mm is that far ahead of UTC.
            - CASE
                WHEN t.zone IS NULL THEN 0
                ELSE (CASE WHEN substr(t.zone, 1, 1) = '-' THEN -1 ELSE 1 END)
                    * (
                        CAST(substr(t.zone, 2, 2) AS INTEGER) * 60
                        + CAST(substr(t.zone, length(t.zone) - 1, 2) AS INTEGER)
                    )
            END * INTERVAL 1 MINUTE
        END AS event_time,
        -- The key below the trail's prefix, as the log sources name a file.
        coalesce(nullif(regexp_extract(t.log_path, '^(.*/)?(AWSLogs/.*)$', 2), ''), t.log_path)
            AS source_file
    FROM timed AS t
    WHERE t.local_time IS NOT NULL
),

ranked AS (
    SELECT
        p.*,
        row_number() OVER (
            PARTITION BY p.eventid
            ORDER BY p.source_file, p.event_time, p.requestparameters
        ) AS copy_number
    FROM parsed AS p
    WHERE p.event_time IS NOT NULL
)

SELECT
    k.eventid AS event_id,
    k.event_time,
    k.eventversion AS event_version,
    k.eventsource AS event_source,
    k.eventname AS event_name,
    k.eventtype AS event_type,
    k.eventcategory AS event_category,
    CASE WHEN k.eventcategory IS NOT NULL THEN k.eventcategory = 'Management' END
        AS management_event,
    CASE lower(trim(k.readonly)) WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END AS read_only,
    k.awsregion AS aws_region,
    k.recipientaccountid AS recipient_account,
    k.useridentity.type AS principal_type,
    k.useridentity.arn AS principal_arn,
    k.useridentity.accountid AS principal_account,
    CASE
        WHEN k.useridentity.sessioncontext.sessionissuer.type = 'Role'
            THEN k.useridentity.sessioncontext.sessionissuer.arn
    END AS role_arn,
    CASE
        WHEN strpos(k.useridentity.arn, ':assumed-role/') > 0
            THEN regexp_extract(k.useridentity.arn, '/([^/]*)$', 1)
        WHEN strpos(k.useridentity.principalid, ':') > 0
            THEN substr(k.useridentity.principalid, strpos(k.useridentity.principalid, ':') + 1)
    END AS session_name,
    k.useridentity.invokedby AS invoked_by,
    k.useragent AS user_agent,
    k.sourceipaddress AS source_ip,
    k.errorcode AS error_code,
    k.errormessage AS error_message,
    k.sharedeventid AS shared_event_id,
    -- JSON in the store; engines without a JSON type keep the text (rightsizer.engine.base).
    CAST(nullif(k.requestparameters, 'null') AS JSON) AS request_parameters,
    list_transform(
        k.resources,
        lambda x: CAST(
            {'arn': x.arn, 'arn_prefix': NULL, 'account_id': x.accountid, 'type': x.type}
            AS STRUCT(arn VARCHAR, arn_prefix VARCHAR, account_id VARCHAR, type VARCHAR)
        )
    ) AS resources,
    k.source_file
FROM ranked AS k
WHERE k.copy_number = 1
