-- placement_groups: one role's used (or companion) permissions folded by action and
-- generalized target: one row per action × object base × suffix × fragile, so the rows are
-- bounded by the folders the keys collapse into, not by the keys. A group of one key names it.
--
-- Parameters:
--   $role_arn  the role
--   $kind      'used' (queries/used_keys.sql) or 'companion' (queries/companion_keys.sql)
-- Reads: the staging tables used_keys and companion_keys.
WITH placed AS (
    SELECT 'used' AS kind, u.* FROM used_keys AS u
    UNION ALL
    SELECT 'companion' AS kind, c.* FROM companion_keys AS c
),

mine AS (
    SELECT
        p.*,
        coalesce(p.object_base, '') AS base_key  -- object_base is NULL for a bucket or `*`
    FROM placed AS p
    WHERE p.kind = $kind AND p.role_arn = $role_arn
),

group_functions AS (
    -- The functions of each group, one row each: a group's list is built from these few rows,
    -- never from a list per key (one group can hold millions of keys, in memory DuckDB
    -- cannot spill).
    SELECT
        m.action,
        m.base_key,
        m.suffix,
        m.fragile,
        list_sort(list(m.function_name)) AS functions
    FROM (
        SELECT DISTINCT
            k.action,
            k.base_key,
            k.suffix,
            k.fragile,
            f.function_name
        FROM mine AS k, unnest(k.functions) AS f(function_name)
    ) AS m
    GROUP BY m.action, m.base_key, m.suffix, m.fragile
),

groups AS (
    SELECT
        m.action,
        m.object_base,
        m.base_key,
        m.suffix,
        m.fragile,
        count(*) AS keys,
        CAST(sum(m.calls) AS BIGINT) AS calls,
        min(m.first_seen) AS first_seen,
        max(m.last_seen) AS last_seen,
        CASE WHEN count(*) = 1 THEN min(m.resource_arn) END AS resource_arn,
        CASE WHEN count(*) = 1 THEN min(m.object_key) END AS object_key,
        min(m.example_event_id) AS example_event_id
    FROM mine AS m
    GROUP BY m.action, m.object_base, m.base_key, m.suffix, m.fragile
)

SELECT
    g.action,
    g.object_base,
    g.suffix,
    g.fragile,
    g.keys,
    g.calls,
    g.first_seen,
    g.last_seen,
    g.resource_arn,
    g.object_key,
    f.functions,
    g.example_event_id
FROM groups AS g
LEFT JOIN group_functions AS f
    ON
        f.action = g.action
        AND f.base_key = g.base_key
        AND f.suffix = g.suffix
        AND f.fragile = g.fragile
ORDER BY g.action, g.object_base, g.suffix, g.fragile
