-- Pushes and their job outcomes. MySQL/MariaDB variant of postgresql.sql.
WITH bounds AS (
    SELECT COALESCE(CAST(:until AS DATETIME(6)), (SELECT max(time) FROM push)) AS until_time
)
SELECT p.id AS push_id,
       p.revision,
       p.author,
       p.time AS push_time,
       COUNT(j.id) AS jobs,
       COUNT(CASE WHEN j.result = 'success' THEN 1 END) AS succeeded,
       COUNT(CASE WHEN j.result IN ('testfailed', 'busted') THEN 1 END) AS failed,
       COUNT(CASE WHEN j.result = 'exception' THEN 1 END) AS exceptions,
       COUNT(CASE WHEN j.result = 'retry' THEN 1 END) AS retried,
       COUNT(CASE WHEN j.state <> 'completed' THEN 1 END) AS unfinished
FROM push p
JOIN repository r ON r.id = p.repository_id
CROSS JOIN bounds b
LEFT JOIN job j ON j.push_id = p.id AND j.tier <= :max_tier
WHERE r.name = :repository
  AND p.time > b.until_time - INTERVAL :days DAY
  AND p.time <= b.until_time
GROUP BY p.id, p.revision, p.author, p.time
ORDER BY p.time DESC, p.id DESC
