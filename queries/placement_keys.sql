-- placement_keys: the keys of some of one role's placement groups (queries/placement_groups.sql),
-- for the groups that today's grants do not cover whole, to be placed one by one.
--
-- Parameters:
--   $role_arn  the role
--   $kind      'used' or 'companion'
-- Reads: the staging tables used_keys and companion_keys, and the temp table
--   wanted_groups(action, object_base, suffix, fragile) naming the groups.
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
    1 AS keys,
    p.calls,
    p.first_seen,
    p.last_seen,
    p.resource_arn,
    p.object_key,
    p.functions,
    p.example_event_id
FROM placed AS p
INNER JOIN wanted_groups AS w
    ON
        w.action = p.action
        AND w.object_base = p.object_base
        AND w.suffix = p.suffix
        AND w.fragile = p.fragile
WHERE p.kind = $kind AND p.role_arn = $role_arn
