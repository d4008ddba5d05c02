-- used_perms: staging for the set-wise placement. One row per role × IAM action × resource the
-- role's authorized calls needed (the rows of queries/usage.sql), with the object key the
-- resource names split off, for queries/key_folders.sql to generalize. Staged on its own: the
-- later steps read it, and this grouping of every call is the costly part.
--
-- Parameters: none.
-- Reads: the staging table s3_calls (queries/s3_calls.sql, materialized first).
-- Columns: role_arn, action, resource_arn, calls, first_seen, last_seen, functions,
--   example_event_id (as in usage.sql); object_base (the ARN the key hangs off:
--   `arn:P:s3:::bucket`, or an access point's `.../object`) and object_key, both NULL when the
--   resource names no single object (a bucket, `bucket/*`, `*`); depth (the slashes in the
--   key) and folder (the key before its last slash, '' at the root).
WITH used AS (
    SELECT
        c.role_arn,
        u.need.action AS action,
        u.need.resource AS resource_arn,
        count(*) AS calls,
        min(c.event_time) AS first_seen,
        max(c.event_time) AS last_seen,
        -- Not list(DISTINCT ... ORDER BY ...): DuckDB cannot spill such an aggregate, one per object.
        list_sort(list_distinct(list(c.function_name)
            FILTER (WHERE c.function_name IS NOT NULL))) AS functions,
        min(c.event_id) AS example_event_id
    FROM s3_calls AS c, unnest(c.needs) AS u(need)
    WHERE NOT c.denied
    GROUP BY c.role_arn, u.need.action, u.need.resource
),

based AS (
    -- rightsizer.iam.s3.S3Resource.parse: a bucket's object `arn:P:s3:::bucket/key`, else an
    -- access point's `arn:P:s3:R:A:accesspoint/NAME/object/key`.
    SELECT
        u.*,
        -- regexp_extract gives '' when the pattern does not match.
        coalesce(
            nullif(regexp_extract(u.resource_arn, '^(arn:[^:]*:s3:::[^/]*)/', 1), ''),
            regexp_extract(
                u.resource_arn, '^(arn:[^:]*:s3:[^:]*:[^:]*:accesspoint/[^/]*/object)/', 1
            )
        ) AS base_found
    FROM used AS u
),

located AS (
    SELECT
        b.role_arn,
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
