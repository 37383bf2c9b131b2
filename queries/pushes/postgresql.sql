-- Pushes and their job outcomes. Runs on PostgreSQL and DuckDB.
WITH bounds AS (
    SELECT COALESCE(CAST(:until AS timestamp), (SELECT max(time) FROM push)) AS until_time
)
SELECT p.id AS push_id,
       p.revision,
       p.author,
       p.time AS push_time,
       COUNT(j.id) AS jobs,
       COUNT(j.id) FILTER (WHERE j.result = 'success') AS succeeded,
       COUNT(j.id) FILTER (WHERE j.result IN ('testfailed', 'busted')) AS failed,
       COUNT(j.id) FILTER (WHERE j.result = 'exception') AS exceptions,
       COUNT(j.id) FILTER (WHERE j.result = 'retry') AS retried,
       COUNT(j.id) FILTER (WHERE j.state <> 'completed') AS unfinished
FROM push p
JOIN repository r ON r.id = p.repository_id
CROSS JOIN bounds b
LEFT JOIN job j ON j.push_id = p.id AND j.tier <= :max_tier
WHERE r.name = :repository
  AND p.time > b.until_time - :days * interval '1 day'
  AND p.time <= b.until_time
GROUP BY p.id, p.revision, p.author, p.time
ORDER BY p.time DESC, p.id DESC
