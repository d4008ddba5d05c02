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
)

SELECT
    p.action,
    p.object_base,
    p.suffix,
    p.fragile,
    count(*) AS keys,
    CAST(sum(p.calls) AS BIGINT) AS calls,
    min(p.first_seen) AS first_seen,
    max(p.last_seen) AS last_seen,
    CASE WHEN count(*) = 1 THEN min(p.resource_arn) END AS resource_arn,
    CASE WHEN count(*) = 1 THEN min(p.object_key) END AS object_key,
    list_sort(list_distinct(flatten(list(p.functions)))) AS functions,
    min(p.example_event_id) AS example_event_id
FROM placed AS p
WHERE p.kind = $kind AND p.role_arn = $role_arn
GROUP BY p.action, p.object_base, p.suffix, p.fragile
ORDER BY p.action, p.object_base, p.suffix, p.fragile
