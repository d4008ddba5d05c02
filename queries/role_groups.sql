-- role_groups: one role's used (or companion) permissions folded by action and generalized
-- target (the rows of the staging table queries/placement_groups.sql), in a fixed order.
--
-- Parameters:
--   $role_arn  the role
--   $kind      'used' or 'companion'
-- Reads: the staging table placement_groups.
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
    g.functions,
    g.example_event_id
FROM placement_groups AS g
WHERE g.role_arn = $role_arn AND g.kind = $kind
ORDER BY g.action, g.object_base, g.suffix, g.fragile
