-- companion_keys: staging for the set-wise placement of companions. Each companion permission
-- of a role (the rows of queries/companions.sql, without their event names and reasons) with
-- its resource's generalized key when the resource is an object one of the role's used
-- permissions names (queries/used_keys.sql); else the resource is its own target (object_base
-- and object_key NULL, suffix the resource).
--
-- Parameters: none.
-- Reads: the staging tables s3_calls and used_keys, and the temp table s3_event_actions.
-- Columns: those of used_keys (first_seen, last_seen and example_event_id NULL, fragile
--   false, no functions).
WITH companion_targets AS (
    SELECT
        c.role_arn,
        m.action,
        CASE m.resource
            WHEN 'object' THEN c.auth_object_arn
            WHEN 'copy_source' THEN c.copy_source_arn
            WHEN 'bucket_objects' THEN c.auth_objects_base || '/*'
            WHEN 'bucket' THEN c.auth_bucket_arn
            WHEN 'account' THEN '*'
        END AS resource_arn
    FROM s3_calls AS c
    INNER JOIN s3_event_actions AS m
        ON m.event_name = c.event_name AND m.condition = 'companion'
    WHERE c.event_source = 's3.amazonaws.com' AND NOT c.denied
),

companions AS (
    SELECT
        t.role_arn,
        t.action,
        t.resource_arn,
        count(*) AS calls
    FROM companion_targets AS t
    WHERE t.resource_arn IS NOT NULL
    GROUP BY t.role_arn, t.action, t.resource_arn
)

SELECT
    c.role_arn,
    c.action,
    c.resource_arn,
    c.calls,
    CAST(NULL AS TIMESTAMP) AS first_seen,
    CAST(NULL AS TIMESTAMP) AS last_seen,
    min(o.object_base) AS object_base,
    min(o.object_key) AS object_key,
    coalesce(min(o.suffix), c.resource_arn) AS suffix,
    FALSE AS fragile,
    CAST([] AS VARCHAR []) AS functions,
    CAST(NULL AS VARCHAR) AS example_event_id
FROM companions AS c
-- used_keys has a row per action on an object, each with the same key and suffix.
LEFT JOIN used_keys AS o
    ON
        o.role_arn = c.role_arn
        AND o.resource_arn = c.resource_arn
        AND o.object_key IS NOT NULL
GROUP BY c.role_arn, c.action, c.resource_arn, c.calls
