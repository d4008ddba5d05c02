-- companions: permissions no logged call needed but that a role relying on these calls may
-- still need on a rare path (s3:AbortMultipartUpload after a failed multipart upload,
-- s3:ListBucket for 404-instead-of-403 on a missing key, ...; the mapping rows with condition
-- 'companion', docs/s3-event-actions.md). Keep them when the role holds them today; never add them.
--
-- Parameters: none.
-- Reads: the staging table s3_calls (queries/s3_calls.sql, materialized first) and the temp
--   table s3_event_actions.
WITH companion_targets AS (
    SELECT
        c.role_arn,
        c.event_name,
        m.action,
        m.source AS reason,
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
)

SELECT
    t.role_arn,
    t.action,
    t.resource_arn,
    -- Not list(DISTINCT ... ORDER BY ...): DuckDB cannot spill such an aggregate, one per object.
    list_sort(list_distinct(list(t.event_name))) AS event_names,
    min(t.reason) AS reason,
    count(*) AS calls
FROM companion_targets AS t
WHERE t.resource_arn IS NOT NULL
GROUP BY t.role_arn, t.action, t.resource_arn
ORDER BY t.role_arn, t.action, t.resource_arn
