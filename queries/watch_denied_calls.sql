-- watch_denied_calls: the denied S3 calls of each Lambda role in scope in the window, with
-- where they came from, grouped as the analysis groups them (queries/denied.sql): per event
-- name, error, and the action and resource the error message names (else the bucket and key
-- of the request). The evidence of rightsizer.watch.denied's `denied-call` findings.
--
-- Parameters: $window_start, $window_end  TIMESTAMP, the half-open window [start, end) in UTC
-- Reads: events, and the temp tables scope_roles(role_arn) and auth_error_codes(error_code).
-- Columns: role_arn, event_name, error_code, denied_action, denied_resource, bucket,
--   object_key, calls, first_seen, last_seen, first_event_id, last_event_id, source_ips,
--   user_agents, sessions, error_message (one of them).
WITH denied AS (
    SELECT
        e.role_arn,
        e.event_name,
        e.error_code,
        nullif(regexp_extract(e.error_message, 'to perform: ([^ ]+)', 1), '') AS denied_action,
        nullif(
            regexp_extract(e.error_message, 'on resource: "?([^" ]+)"?', 1), ''
        ) AS denied_resource,
        e.request_parameters ->> '$.bucketName' AS bucket,
        e.request_parameters ->> '$.key' AS object_key,
        e.event_id,
        e.event_time,
        coalesce(e.source_ip, '') AS source_ip,
        coalesce(e.user_agent, '') AS user_agent,
        coalesce(e.session_name, '') AS session_name,
        e.error_message
    FROM events AS e
    WHERE e.event_time >= $window_start
        AND e.event_time < $window_end
        AND e.event_source = 's3.amazonaws.com'
        AND e.role_arn IN (SELECT s.role_arn FROM scope_roles AS s)
        AND e.error_code IN (SELECT a.error_code FROM auth_error_codes AS a)
)

SELECT
    d.role_arn,
    d.event_name,
    d.error_code,
    d.denied_action,
    d.denied_resource,
    d.bucket,
    d.object_key,
    count(*) AS calls,
    min(d.event_time) AS first_seen,
    max(d.event_time) AS last_seen,
    min_by(d.event_id, d.event_time) AS first_event_id,
    max_by(d.event_id, d.event_time) AS last_event_id,
    array_agg(DISTINCT d.source_ip) AS source_ips,
    array_agg(DISTINCT d.user_agent) AS user_agents,
    array_agg(DISTINCT d.session_name) AS sessions,
    max(d.error_message) AS error_message
FROM denied AS d
GROUP BY
    d.role_arn, d.event_name, d.error_code, d.denied_action, d.denied_resource, d.bucket,
    d.object_key
ORDER BY
    d.role_arn, d.event_name, d.error_code, d.denied_action, d.denied_resource, d.bucket,
    d.object_key
