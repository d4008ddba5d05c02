-- companion_keys: staging for the set-wise placement of companions. Each companion permission
-- of a role (the rows of queries/companions.sql, without their event names and reasons) with
-- its resource's object key when the resource is an object one of the role's used permissions
-- names (queries/used_perms.sql), so it generalizes as that key does; else the resource is its
-- own target (object_base, object_key, depth and folder NULL).
--
-- Parameters: none.
-- Reads: the staging tables s3_calls and used_perms, and the temp table s3_event_actions.
-- Columns: role_arn, action, resource_arn, calls, object_base, object_key, depth, folder (as in
--   used_perms).
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
    min(o.object_base) AS object_base,
    min(o.object_key) AS object_key,
    min(o.depth) AS depth,
    min(o.folder) AS folder
FROM companions AS c
-- used_perms has a row per action on an object, each with the same key and folder.
LEFT JOIN used_perms AS o
    ON
        o.role_arn = c.role_arn
        AND o.resource_arn = c.resource_arn
        AND o.object_key IS NOT NULL
GROUP BY c.role_arn, c.action, c.resource_arn, c.calls
