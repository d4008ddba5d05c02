-- watch_history: how far back the store knows each Lambda role in scope, and the store itself:
-- one row per role with a call before the window end (the row with role_arn NULL is the
-- store: its first event at all). `first-seen` judges a role only when it has calls before
-- the recent period (rightsizer.watch.first_seen), and the usual rate of denied calls is
-- counted from the role's first call (rightsizer.watch.denied).
--
-- Parameters: $recent_start, $window_end  TIMESTAMP (UTC): the recent period [start, end)
-- Reads: events, and the temp table scope_roles(role_arn).
-- Columns: role_arn, first_call, calls_before_recent.
SELECT
    e.role_arn,
    min(e.event_time) AS first_call,
    count(*) FILTER (WHERE e.event_time < $recent_start) AS calls_before_recent
FROM events AS e
WHERE e.event_time < $window_end
    AND e.role_arn IN (SELECT s.role_arn FROM scope_roles AS s)
GROUP BY e.role_arn
UNION ALL
SELECT
    NULL AS role_arn,
    min(e.event_time) AS first_call,
    count(*) FILTER (WHERE e.event_time < $recent_start) AS calls_before_recent
FROM events AS e
WHERE e.event_time < $window_end
ORDER BY role_arn NULLS FIRST
