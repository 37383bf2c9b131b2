-- Failure rate per push and platform. MySQL/MariaDB variant of postgresql.sql.
WITH bounds AS (
    SELECT COALESCE(CAST(:until AS DATETIME(6)), (SELECT max(time) FROM push)) AS until_time
)
SELECT p.id AS push_id,
       p.revision,
       p.time AS push_time,
       mp.platform,
       COUNT(*) AS jobs,
       COUNT(CASE WHEN j.result IN ('testfailed', 'busted') THEN 1 END) AS failed,
       CAST(COUNT(CASE WHEN j.result IN ('testfailed', 'busted') THEN 1 END) AS DOUBLE)
           / CAST(COUNT(*) AS DOUBLE) AS failure_rate
FROM push p
JOIN repository r ON r.id = p.repository_id
JOIN job j ON j.push_id = p.id
JOIN machine_platform mp ON mp.id = j.machine_platform_id
CROSS JOIN bounds b
WHERE r.name = :repository
  AND p.time > b.until_time - INTERVAL :days DAY
  AND p.time <= b.until_time
  AND j.state = 'completed'
  AND j.result NOT IN ('retry', 'usercancel', 'superseded')
  AND j.tier <= 2
GROUP BY p.id, p.revision, p.time, mp.platform
HAVING COUNT(*) >= :min_jobs
ORDER BY p.time DESC, p.id DESC, mp.platform
