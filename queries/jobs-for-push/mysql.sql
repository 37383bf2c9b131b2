-- Jobs of one push. MySQL/MariaDB variant of postgresql.sql. Epoch 0 means "not known yet".
SELECT j.id AS job_id,
       tm.task_id,
       tm.retry_id,
       jt.name AS label,
       jt.symbol AS job_symbol,
       jg.symbol AS group_symbol,
       mp.platform,
       GROUP_CONCAT(o.name ORDER BY o.name SEPARATOR ' ') AS platform_option,
       j.result,
       j.state,
       j.tier,
       fc.name AS classification,
       CASE WHEN j.submit_time > TIMESTAMP '1970-01-02 00:00:00' THEN j.submit_time END AS submit_time,
       CASE WHEN j.start_time > TIMESTAMP '1970-01-02 00:00:00' THEN j.start_time END AS start_time,
       CASE WHEN j.end_time > TIMESTAMP '1970-01-02 00:00:00' THEN j.end_time END AS end_time,
       CASE WHEN j.end_time > TIMESTAMP '1970-01-02 00:00:00' AND j.start_time > TIMESTAMP '1970-01-02 00:00:00'
            THEN CAST(TIMESTAMPDIFF(MICROSECOND, j.start_time, j.end_time) AS DOUBLE) / 1000000
       END AS duration_s
FROM job j
LEFT JOIN taskcluster_metadata tm ON tm.job_id = j.id
JOIN job_type jt ON jt.id = j.job_type_id
JOIN job_group jg ON jg.id = j.job_group_id
JOIN machine_platform mp ON mp.id = j.machine_platform_id
JOIN failure_classification fc ON fc.id = j.failure_classification_id
LEFT JOIN option_collection oc ON oc.option_collection_hash = j.option_collection_hash
LEFT JOIN `option` o ON o.id = oc.option_id
WHERE j.push_id = :push_id
GROUP BY j.id, tm.task_id, tm.retry_id, jt.name, jt.symbol, jg.symbol, mp.platform,
         j.result, j.state, j.tier, fc.name, j.submit_time, j.start_time, j.end_time
ORDER BY j.id
