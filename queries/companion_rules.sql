-- companion_rules: for each role and companion action (the mapping rows with condition
-- 'companion', docs/s3-event-actions.md), the role's calls that make it one: their event names
-- and the mapping's reason. One row per role × action, so the evidence of a kept companion
-- never needs a row per object.
--
-- Parameters: none.
-- Reads: the staging table s3_calls (queries/s3_calls.sql, materialized first) and the temp
--   table s3_event_actions.
WITH events AS (
    SELECT
        c.role_arn,
        m.action,
        c.event_name,
        min(m.source) AS reason
    FROM s3_calls AS c
    INNER JOIN s3_event_actions AS m
        ON m.event_name = c.event_name AND m.condition = 'companion'
    WHERE
        c.event_source = 's3.amazonaws.com'
        AND NOT c.denied
        -- As queries/companions.sql: a call whose target resource is unknown places nothing.
        AND CASE m.resource
            WHEN 'object' THEN c.auth_object_arn
            WHEN 'copy_source' THEN c.copy_source_arn
            WHEN 'bucket_objects' THEN c.auth_objects_base
            WHEN 'bucket' THEN c.auth_bucket_arn
            WHEN 'account' THEN '*'
        END IS NOT NULL
    GROUP BY c.role_arn, m.action, c.event_name
)

SELECT
    e.role_arn,
    e.action,
    list_sort(list(e.event_name)) AS event_names,
    min(e.reason) AS reason
FROM events AS e
GROUP BY e.role_arn, e.action
ORDER BY e.role_arn, e.action
