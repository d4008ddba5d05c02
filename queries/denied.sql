-- denied: calls that failed authorization (AccessDenied, AllAccessDisabled, ...), grouped per
-- role, function, eventName, error and the action/resource the error message names. They
-- are reported, never counted as usage. `actions`/`resources` are what the mapping table says
-- the call needed (parallel lists, sorted).
--
-- Parameters: none.
-- Reads: the staging table s3_calls (queries/s3_calls.sql, materialized first).
WITH per_call AS (
    SELECT
        c.role_arn,
        c.function_name,
        c.event_name,
        c.error_code,
        -- S3 names the action and resource in the message: "... not authorized to perform:
        -- s3:ListBucket on resource: "arn:aws:s3:::B" because ...".
        nullif(regexp_extract(c.error_message, 'to perform: ([^ ]+)', 1), '') AS denied_action,
        nullif(
            regexp_extract(c.error_message, 'on resource: "?([^" ]+)"?', 1), ''
        ) AS denied_resource,
        c.event_id,
        c.event_time,
        list(c.action ORDER BY c.action, c.resource_arn)
            FILTER (WHERE c.status = 'needed') AS actions,
        list(c.resource_arn ORDER BY c.action, c.resource_arn)
            FILTER (WHERE c.status = 'needed') AS resources
    FROM s3_calls AS c
    WHERE c.denied
    GROUP BY
        c.role_arn, c.function_name, c.event_name, c.error_code, c.error_message, c.event_id,
        c.event_time
)

SELECT
    p.role_arn,
    p.function_name,
    p.event_name,
    p.error_code,
    p.denied_action,
    p.denied_resource,
    coalesce(p.actions, []) AS actions,
    coalesce(p.resources, []) AS resources,
    count(*) AS calls,
    min(p.event_time) AS first_seen,
    max(p.event_time) AS last_seen
FROM per_call AS p
GROUP BY
    p.role_arn, p.function_name, p.event_name, p.error_code, p.denied_action,
    p.denied_resource, p.actions, p.resources
ORDER BY
    p.role_arn, p.function_name, p.event_name, p.error_code, p.denied_action,
    p.denied_resource, first_seen
