-- watch_iam_events: how many IAM events the store holds before the window end. None means the
-- trail's IAM management events (global service events, logged in us-east-1) never reached
-- the store, so no policy change could be seen (rightsizer.watch.denied says so).
--
-- Parameters: $window_end  TIMESTAMP (UTC)
-- Reads: events.
SELECT count(*) AS iam_events
FROM events AS e
WHERE e.event_time < $window_end
    AND e.event_source = 'iam.amazonaws.com'
