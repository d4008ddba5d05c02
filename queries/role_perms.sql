-- role_perms: staging for the set-wise placement. One row per role × kind × IAM action ×
-- resource: the permissions the role's authorized calls needed (kind 'used', the rows of
-- queries/usage.sql) and their companions (kind 'companion', the rows of
-- queries/companions.sql without their event names and reasons), with the object key the
-- resource names split off, for queries/key_folders.sql to generalize. A companion's key is
-- split off only when a used permission of the role names that object, so it generalizes as
-- that key does; else the resource is its own target. Staged on its own: the later steps read
-- it, and this grouping of every call is the costly part.
--
-- Parameters: none.
-- Reads: the staging table s3_calls (queries/s3_calls.sql, materialized first) and the temp
--   table s3_event_actions.
-- Columns: role_arn, kind ('used' | 'companion'), action, resource_arn, calls; first_seen,
--   last_seen, functions and example_event_id (as in usage.sql; NULL, NULL, [] and NULL for a
--   companion); object_base (the ARN the key hangs off: `arn:P:s3:::bucket`, or an access
--   point's `.../object`) and object_key, both NULL when the resource names no single object
--   (a bucket, `bucket/*`, `*`); depth (the slashes in the key) and folder (the key before its
--   last slash, '' at the root).
WITH used AS (
    SELECT
        c.role_arn,
        u.need.action AS action,
        u.need.resource AS resource_arn,
        count(*) AS calls,
        min(c.event_time) AS first_seen,
        max(c.event_time) AS last_seen,
        -- Not list(DISTINCT ... ORDER BY ...): DuckDB cannot spill such an aggregate, one per
        -- object.
        list_sort(list_distinct(list(c.function_name)
            FILTER (WHERE c.function_name IS NOT NULL))) AS functions,
        min(c.event_id) AS example_event_id
    FROM s3_calls AS c, unnest(c.needs) AS u(need)
    WHERE NOT c.denied
    GROUP BY c.role_arn, u.need.action, u.need.resource
),

companion_targets AS (
    SELECT
        c.role_arn,
        m.action,
        CASE m.resource
            WHEN 'object' THEN c.auth_object_arn
            WHEN 'copy_source' THEN c.copy_source_arn
            WHEN 'bucket_objects' THEN c.auth_objects_base || '/*'
            WHEN 'bucket' THEN c.auth_bucket_arn
            WHEN 'account' THEN '*'
        END AS resource_arn,
        c.needs
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
        count(*) AS calls,
        -- Named by a need of the same call: with today's mapping table, every companion on an
        -- object is (its call needs that object too).
        bool_or(list_contains(list_transform(t.needs, lambda n: n.resource), t.resource_arn))
            AS named_by_its_call
    FROM companion_targets AS t
    WHERE t.resource_arn IS NOT NULL
    GROUP BY t.role_arn, t.action, t.resource_arn
),

named_elsewhere AS (
    -- The other companions' resources that another call of the role needed (few or none: a
    -- join on them, not on every used permission).
    SELECT DISTINCT
        n.role_arn,
        n.resource_arn
    FROM (
        SELECT
            c.role_arn,
            u.need.resource AS resource_arn
        FROM s3_calls AS c, unnest(c.needs) AS u(need)
        WHERE NOT c.denied
    ) AS n
    INNER JOIN companions AS o
        ON
            o.role_arn = n.role_arn
            AND o.resource_arn = n.resource_arn
            AND NOT o.named_by_its_call
),

perms AS (
    SELECT
        'used' AS kind,
        u.role_arn,
        u.action,
        u.resource_arn,
        u.calls,
        u.first_seen,
        u.last_seen,
        u.functions,
        u.example_event_id,
        TRUE AS named
    FROM used AS u
    UNION ALL
    SELECT
        'companion' AS kind,
        c.role_arn,
        c.action,
        c.resource_arn,
        c.calls,
        NULL AS first_seen,
        NULL AS last_seen,
        CAST([] AS VARCHAR []) AS functions,
        NULL AS example_event_id,
        c.named_by_its_call OR e.resource_arn IS NOT NULL AS named
    FROM companions AS c
    LEFT JOIN named_elsewhere AS e
        ON e.role_arn = c.role_arn AND e.resource_arn = c.resource_arn
),

based AS (
    -- rightsizer.iam.s3.S3Resource.parse: a bucket's object `arn:P:s3:::bucket/key`, else an
    -- access point's `arn:P:s3:R:A:accesspoint/NAME/object/key`.
    SELECT
        p.*,
        -- regexp_extract gives '' when the pattern does not match.
        CASE WHEN p.named THEN
            coalesce(
                nullif(regexp_extract(p.resource_arn, '^(arn:[^:]*:s3:::[^/]*)/', 1), ''),
                regexp_extract(
                    p.resource_arn, '^(arn:[^:]*:s3:[^:]*:[^:]*:accesspoint/[^/]*/object)/', 1
                )
            )
        ELSE ''
        END AS base_found
    FROM perms AS p
),

located AS (
    SELECT
        b.role_arn,
        b.kind,
        b.action,
        b.resource_arn,
        b.calls,
        b.first_seen,
        b.last_seen,
        b.functions,
        b.example_event_id,
        nullif(b.base_found, '') AS object_base,
        CASE
            WHEN b.base_found <> '' THEN substr(b.resource_arn, length(b.base_found) + 2)
        END AS object_key
    FROM based AS b
),

objects AS (
    SELECT
        l.role_arn,
        l.kind,
        l.action,
        l.resource_arn,
        l.calls,
        l.first_seen,
        l.last_seen,
        l.functions,
        l.example_event_id,
        CASE WHEN l.object_key <> '*' THEN l.object_base END AS object_base,
        CASE WHEN l.object_key <> '*' THEN l.object_key END AS object_key
    FROM located AS l
),

placed_keys AS (
    -- Each object key with the folder holding it: `depth` slashes deep, `folder` the path
    -- before its last slash ('' at the root), `leaf` its name there.
    SELECT
        o.*,
        length(o.object_key) - length(replace(o.object_key, '/', '')) AS depth,
        split_part(o.object_key, '/', -1) AS leaf
    FROM objects AS o
),

keyed AS (
    SELECT
        k.*,
        CASE
            WHEN k.depth = 0 THEN ''
            ELSE substr(k.object_key, 1, length(k.object_key) - length(k.leaf) - 1)
        END AS folder
    FROM placed_keys AS k
)

SELECT
    k.role_arn,
    k.kind,
    k.action,
    k.resource_arn,
    k.calls,
    k.first_seen,
    k.last_seen,
    k.functions,
    k.example_event_id,
    k.object_base,
    k.object_key,
    k.depth,
    k.folder
FROM keyed AS k
