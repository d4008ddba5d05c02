-- watch_first_seen: what each Lambda role in scope used in the recent period and never before
-- in the store: an action (service:eventName), a region, an S3 bucket, or an S3 prefix (the
-- key's first folder, `bucket/folder/`). Only the role's own calls that were not denied count
-- (calls a service made on its behalf, invokedBy set, do not).
--
-- Parameters: $recent_start, $window_end  TIMESTAMP (UTC): the recent period [start, end)
-- Reads: events, and the temp tables scope_roles(role_arn) and auth_error_codes(error_code)
--   (rightsizer.mapping.load_mapping_tables).
-- Columns: role_arn, kind (action | region | bucket | prefix), item, calls (in the recent
--   period), first_seen, last_seen, first_event_id, last_event_id, source_ip, user_agent,
--   session_name (those three of the first call).
WITH calls AS (
    SELECT
        e.role_arn,
        e.event_id,
        e.event_time,
        e.source_ip,
        e.user_agent,
        e.session_name,
        split_part(e.event_source, '.', 1) || ':' || e.event_name AS action,
        e.aws_region AS region,
        CASE
            WHEN e.event_source = 's3.amazonaws.com'
                THEN nullif(e.request_parameters ->> '$.bucketName', '')
        END AS bucket,
        CASE
            WHEN e.event_source = 's3.amazonaws.com'
                AND strpos(coalesce(e.request_parameters ->> '$.key', ''), '/') > 1
                THEN split_part(e.request_parameters ->> '$.key', '/', 1)
        END AS folder
    FROM events AS e
    WHERE e.event_time < $window_end
        AND e.role_arn IN (SELECT s.role_arn FROM scope_roles AS s)
        AND e.invoked_by IS NULL
        AND (
            e.error_code IS NULL
            OR e.error_code NOT IN (SELECT a.error_code FROM auth_error_codes AS a)
        )
),

items AS (
    SELECT c.*, 'action' AS kind, c.action AS item FROM calls AS c
    UNION ALL
    SELECT c.*, 'region' AS kind, c.region AS item FROM calls AS c WHERE c.region IS NOT NULL
    UNION ALL
    SELECT c.*, 'bucket' AS kind, c.bucket AS item FROM calls AS c WHERE c.bucket IS NOT NULL
    UNION ALL
    SELECT c.*, 'prefix' AS kind, c.bucket || '/' || c.folder || '/' AS item
    FROM calls AS c
    WHERE c.bucket IS NOT NULL AND c.folder IS NOT NULL
)

SELECT
    i.role_arn,
    i.kind,
    i.item,
    count(*) AS calls,
    min(i.event_time) AS first_seen,
    max(i.event_time) AS last_seen,
    min_by(i.event_id, i.event_time) AS first_event_id,
    max_by(i.event_id, i.event_time) AS last_event_id,
    min_by(i.source_ip, i.event_time) AS source_ip,
    min_by(i.user_agent, i.event_time) AS user_agent,
    min_by(i.session_name, i.event_time) AS session_name
FROM items AS i
GROUP BY i.role_arn, i.kind, i.item
HAVING min(i.event_time) >= $recent_start
ORDER BY i.role_arn, i.kind, i.item
