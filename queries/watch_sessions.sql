-- watch_sessions: the calls made with the sessions of the Lambda roles in scope, grouped by
-- where they came from (session name, source IP, user agent), for "credentials used outside
-- Lambda" (rightsizer.watch.sessions). Calls an AWS service made on the role's behalf
-- (invokedBy set, a source named like fas.s3.amazonaws.com, or AWS Internal) are left out:
-- they never come from a function's code.
--
-- Parameters: $window_start, $window_end  TIMESTAMP, the half-open window [start, end) in UTC
--   $every_source  BOOLEAN; false = only the groups whose user agent lacks the Lambda mark or
--   whose session name is no known function of the role (true when source IPs are checked)
-- Reads: events, and the temp tables scope_roles(role_arn) and
--   scope_functions(role_arn, function_name) (roles whose functions are known, and those).
-- Columns: role_arn, session_name, source_ip, user_agent, lambda_agent (the user agent says
--   exec-env/AWS_Lambda), known_session (the session name is a function of the role; NULL when
--   the role's functions are not known), calls, first_seen, last_seen, first_event_id,
--   last_event_id, event_names.
WITH role_calls AS (
    SELECT
        e.role_arn,
        coalesce(e.session_name, '') AS session_name,
        coalesce(e.source_ip, '') AS source_ip,
        coalesce(e.user_agent, '') AS user_agent,
        e.event_id,
        e.event_time,
        split_part(e.event_source, '.', 1) || ':' || e.event_name AS event_name
    FROM events AS e
    WHERE e.event_time >= $window_start
        AND e.event_time < $window_end
        AND e.role_arn IN (SELECT s.role_arn FROM scope_roles AS s)
        AND e.invoked_by IS NULL
        AND coalesce(e.source_ip, '') NOT LIKE '%.amazonaws.com'
        AND coalesce(e.source_ip, '') <> 'AWS Internal'
),

sources AS (
    SELECT
        c.role_arn,
        c.session_name,
        c.source_ip,
        c.user_agent,
        count(*) AS calls,
        min(c.event_time) AS first_seen,
        max(c.event_time) AS last_seen,
        min_by(c.event_id, c.event_time) AS first_event_id,
        max_by(c.event_id, c.event_time) AS last_event_id,
        array_agg(DISTINCT c.event_name) AS event_names
    FROM role_calls AS c
    GROUP BY c.role_arn, c.session_name, c.source_ip, c.user_agent
),

judged AS (
    SELECT
        s.*,
        strpos(s.user_agent, 'exec-env/AWS_Lambda') > 0 AS lambda_agent,
        CASE
            WHEN s.role_arn IN (SELECT f.role_arn FROM scope_functions AS f)
                THEN EXISTS (
                    SELECT 1
                    FROM scope_functions AS f
                    WHERE f.role_arn = s.role_arn AND f.function_name = s.session_name
                )
        END AS known_session
    FROM sources AS s
)

SELECT
    j.role_arn,
    j.session_name,
    j.source_ip,
    j.user_agent,
    j.lambda_agent,
    j.known_session,
    j.calls,
    j.first_seen,
    j.last_seen,
    j.first_event_id,
    j.last_event_id,
    j.event_names
FROM judged AS j
WHERE $every_source OR NOT j.lambda_agent OR NOT coalesce(j.known_session, TRUE)
ORDER BY j.role_arn, j.session_name, j.source_ip, j.user_agent
