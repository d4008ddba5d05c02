-- watch_denied_hours: each Lambda role's denied calls (any service; the error codes of
-- auth_error_codes) per UTC hour, over everything the store holds before the window end:
-- the usual rate and the bursts of rightsizer.watch.denied. Hours without one are absent.
--
-- Parameters: $window_end  TIMESTAMP (UTC)
-- Reads: events, and the temp tables scope_roles(role_arn) and auth_error_codes(error_code).
-- Columns: role_arn, hour, calls, first_seen, last_seen, first_event_id, last_event_id,
--   source_ips, user_agents, sessions, event_names.
SELECT
    e.role_arn,
    date_trunc('hour', e.event_time) AS hour,
    count(*) AS calls,
    min(e.event_time) AS first_seen,
    max(e.event_time) AS last_seen,
    min_by(e.event_id, e.event_time) AS first_event_id,
    max_by(e.event_id, e.event_time) AS last_event_id,
    array_agg(DISTINCT coalesce(e.source_ip, '')) AS source_ips,
    array_agg(DISTINCT coalesce(e.user_agent, '')) AS user_agents,
    array_agg(DISTINCT coalesce(e.session_name, '')) AS sessions,
    array_agg(DISTINCT split_part(e.event_source, '.', 1) || ':' || e.event_name) AS event_names
FROM events AS e
WHERE e.event_time < $window_end
    AND e.role_arn IN (SELECT s.role_arn FROM scope_roles AS s)
    AND e.error_code IN (SELECT a.error_code FROM auth_error_codes AS a)
GROUP BY e.role_arn, date_trunc('hour', e.event_time)
ORDER BY e.role_arn, hour
