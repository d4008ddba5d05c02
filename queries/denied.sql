-- denied: calls that failed authorization (AccessDenied, AllAccessDisabled, ...), grouped per
-- role, function, region, eventName, error and the action/resource the error message names.
-- They are reported, never counted as usage. `needs` is what the mapping table says the call
-- needed.
--
-- Parameters: none.
-- Reads: the staging table s3_calls (queries/s3_calls.sql, materialized first).
WITH denied_calls AS (
    SELECT
        c.role_arn,
        c.function_name,
        c.region,
        c.event_name,
        c.error_code,
        -- S3 names the action and resource in the message: "... not authorized to perform:
        -- s3:ListBucket on resource: "arn:aws:s3:::B" because ...".
        nullif(regexp_extract(c.error_message, 'to perform: ([^ ]+)', 1), '') AS denied_action,
        nullif(
            regexp_extract(c.error_message, 'on resource: "?([^" ]+)"?', 1), ''
        ) AS denied_resource,
        c.needs,
        c.event_time
    FROM s3_calls AS c
    WHERE c.denied
)

SELECT
    d.role_arn,
    d.function_name,
    d.region,
    d.event_name,
    d.error_code,
    d.denied_action,
    d.denied_resource,
    d.needs,
    count(*) AS calls,
    min(d.event_time) AS first_seen,
    max(d.event_time) AS last_seen
FROM denied_calls AS d
GROUP BY
    d.role_arn, d.function_name, d.region, d.event_name, d.error_code, d.denied_action,
    d.denied_resource, d.needs
ORDER BY
    d.role_arn, d.function_name, d.region, d.event_name, d.error_code, d.denied_action,
    d.denied_resource, first_seen
