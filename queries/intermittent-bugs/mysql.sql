-- Most frequent intermittent bugs. MySQL/MariaDB variant of postgresql.sql.
WITH bounds AS (
    SELECT COALESCE(CAST(:until AS DATETIME(6)), (SELECT max(time) FROM push)) AS until_time
)
SELECT b.id AS bug_id,
       b.bugzilla_id,
       b.summary,
       COUNT(DISTINCT bjm.job_id) AS failures,
       COUNT(DISTINCT j.push_id) AS pushes,
       COUNT(DISTINCT j.machine_platform_id) AS platforms,
       MIN(p.time) AS first_seen,
       MAX(p.time) AS last_seen
FROM bug_job_map bjm
JOIN bugscache b ON b.id = bjm.bug_id
JOIN job j ON j.id = bjm.job_id
JOIN push p ON p.id = j.push_id
JOIN repository r ON r.id = p.repository_id
CROSS JOIN bounds bd
WHERE r.name IN :repositories
  AND p.time > bd.until_time - INTERVAL :days DAY
  AND p.time <= bd.until_time
GROUP BY b.id, b.bugzilla_id, b.summary
ORDER BY failures DESC, b.id
LIMIT :limit
