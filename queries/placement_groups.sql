-- placement_groups: staging for the set-wise placement. Every role's used (and companion)
-- permissions folded by action and generalized target: one row per role × kind × action ×
-- object base × suffix × fragile, so the rows are bounded by the folders the keys collapse
-- into, not by the keys. A group of one key names it. Staged once for all roles: one pass over
-- the keys, however many roles (queries/role_groups.sql reads one role's).
--
-- Parameters: none.
-- Reads: the staging tables role_perms and key_folders.
-- Columns: role_arn, kind ('used' | 'companion'), action, object_base, base_key (object_base,
--   '' for none), suffix, fragile, keys, calls, first_seen, last_seen, resource_arn and
--   object_key (of a group of one key), functions, example_event_id.
WITH targeted AS NOT MATERIALIZED (
    -- The key's folder's suffix, else the key itself (queries/placement_keys.sql does the same).
    -- Not materialized: both steps below read it, and joining the few folders again is far
    -- cheaper than a copy of every key (DuckDB would spill it).
    SELECT
        p.role_arn,
        p.kind,
        p.action,
        p.resource_arn,
        p.calls,
        p.first_seen,
        p.last_seen,
        p.object_base,
        p.object_key,
        p.functions,
        p.example_event_id,
        coalesce(p.object_base, '') AS base_key,  -- object_base is NULL for a bucket or `*`
        CASE
            WHEN p.object_key IS NULL THEN p.resource_arn
            ELSE coalesce(
                f.suffix,
                replace(replace(replace(p.object_key, '$', '${$}'), '*', '${*}'), '?', '${?}')
            )
        END AS suffix,
        coalesce(f.fragile, FALSE) AS fragile
    FROM role_perms AS p
    LEFT JOIN key_folders AS f
        ON
            f.role_arn = p.role_arn
            AND f.object_base = p.object_base
            AND f.depth = p.depth
            AND f.folder = p.folder
),

group_functions AS (
    -- The functions of each group, one row each: a group's list is built from these few rows,
    -- never from a list per key (one group can hold millions of keys, in memory DuckDB
    -- cannot spill).
    SELECT
        m.role_arn,
        m.kind,
        m.action,
        m.base_key,
        m.suffix,
        m.fragile,
        list_sort(list(m.function_name)) AS functions
    FROM (
        SELECT DISTINCT
            t.role_arn,
            t.kind,
            t.action,
            t.base_key,
            t.suffix,
            t.fragile,
            f.function_name
        FROM targeted AS t, unnest(t.functions) AS f(function_name)
    ) AS m
    GROUP BY m.role_arn, m.kind, m.action, m.base_key, m.suffix, m.fragile
),

groups AS (
    SELECT
        t.role_arn,
        t.kind,
        t.action,
        t.object_base,
        t.base_key,
        t.suffix,
        t.fragile,
        count(*) AS keys,
        CAST(sum(t.calls) AS BIGINT) AS calls,
        min(t.first_seen) AS first_seen,
        max(t.last_seen) AS last_seen,
        CASE WHEN count(*) = 1 THEN min(t.resource_arn) END AS resource_arn,
        CASE WHEN count(*) = 1 THEN min(t.object_key) END AS object_key,
        min(t.example_event_id) AS example_event_id
    FROM targeted AS t
    GROUP BY t.role_arn, t.kind, t.action, t.object_base, t.base_key, t.suffix, t.fragile
)

SELECT
    g.role_arn,
    g.kind,
    g.action,
    g.object_base,
    g.base_key,
    g.suffix,
    g.fragile,
    g.keys,
    g.calls,
    g.first_seen,
    g.last_seen,
    g.resource_arn,
    g.object_key,
    coalesce(f.functions, CAST([] AS VARCHAR [])) AS functions,
    g.example_event_id
FROM groups AS g
LEFT JOIN group_functions AS f
    ON
        f.role_arn = g.role_arn
        AND f.kind = g.kind
        AND f.action = g.action
        AND f.base_key = g.base_key
        AND f.suffix = g.suffix
        AND f.fragile = g.fragile
