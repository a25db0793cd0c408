-- settlewatch's privileges, settings and quota as SQL access entities, for
-- ClickHouse 24.x and later when you manage users with SQL (CREATE USER)
-- rather than with users.d files. The same privileges for the XML users are
-- in users.d/settlewatch-grants.xml (used by the compose stack);
-- deploy/deploytest keeps the two identical, checks that every table named
-- here exists in the schema, and that the limits match users.d/settlewatch.xml.
-- Written for 24.x syntax; this repository's tests run ClickHouse 18.16,
-- which has no SQL access control, so the file is checked, not run, here.
--
-- Run it as a user with access management, once and after each upgrade of
-- settlewatch (every statement can run again):
--
--   clickhouse-client --user <admin> --ask-password --multiquery < grants.sql
--
-- then create the users with passwords of your own and give each its role:
--
--   CREATE USER settlewatch_collector IDENTIFIED WITH sha256_password BY '...' DEFAULT ROLE settlewatch_collector_role;
--   CREATE USER settlewatch_analytics IDENTIFIED WITH sha256_password BY '...' DEFAULT ROLE settlewatch_analytics_role;
--   CREATE USER grafana IDENTIFIED WITH sha256_password BY '...' DEFAULT ROLE settlewatch_grafana_role;
--
-- The schema owner that runs `settlewatch migrate` needs all privileges on
-- the database: GRANT ALL ON settlewatch.* TO <owner> (plus CLUSTER ON *.*
-- for ON CLUSTER migrations). Names differ from the XML ones (_role, _sql)
-- so that both can be installed on one server.

-- The collector: writes its ingest tables, reads them back to assemble
-- transactions, writes transaction_versions (transactions_by_time and
-- recent_fact_counts_by_hash are filled by the materialized views on
-- transaction_versions and payment_facts_by_arrival).
CREATE ROLE IF NOT EXISTS settlewatch_collector_role;
GRANT SELECT, INSERT ON settlewatch.spans TO settlewatch_collector_role;
GRANT SELECT, INSERT ON settlewatch.payment_facts_by_arrival TO settlewatch_collector_role;
GRANT SELECT, INSERT ON settlewatch.recent_fact_counts_by_hash TO settlewatch_collector_role;
GRANT SELECT, INSERT ON settlewatch.batch_closes TO settlewatch_collector_role;
GRANT INSERT ON settlewatch.transaction_versions TO settlewatch_collector_role;
GRANT INSERT ON settlewatch.transactions_by_time TO settlewatch_collector_role;

-- The analytics daemon: reads everything, writes its job tables and
-- transaction_versions (the settlement sweep), and stages a rollup window in a
-- temporary table of its session (without it the rollup reads each window
-- once per dimension, about twice as slow).
CREATE ROLE IF NOT EXISTS settlewatch_analytics_role;
GRANT SELECT ON settlewatch.* TO settlewatch_analytics_role;
GRANT CREATE TEMPORARY TABLE ON *.* TO settlewatch_analytics_role;
GRANT INSERT ON settlewatch.transaction_versions TO settlewatch_analytics_role;
GRANT INSERT ON settlewatch.transactions_by_time TO settlewatch_analytics_role;
GRANT INSERT ON settlewatch.job_runs TO settlewatch_analytics_role;
GRANT INSERT ON settlewatch.rollups TO settlewatch_analytics_role;
GRANT INSERT ON settlewatch.unsettled_aging TO settlewatch_analytics_role;
GRANT INSERT ON settlewatch.incidents TO settlewatch_analytics_role;
GRANT INSERT ON settlewatch.auth_latency TO settlewatch_analytics_role;
GRANT INSERT ON settlewatch.timeout_advice TO settlewatch_analytics_role;

-- The Grafana data source: reads only.
CREATE ROLE IF NOT EXISTS settlewatch_grafana_role;
GRANT SELECT ON settlewatch.* TO settlewatch_grafana_role;

-- Writers never run DDL; Grafana reads with bounded queries (readonly=2 so
-- that it may send max_execution_time, within the MAX given here).
CREATE SETTINGS PROFILE OR REPLACE settlewatch_writer_sql
    SETTINGS allow_ddl = 0
    TO settlewatch_collector_role, settlewatch_analytics_role;
CREATE SETTINGS PROFILE OR REPLACE settlewatch_grafana_sql
    SETTINGS readonly = 2,
             max_execution_time = 60 MAX 300,
             max_result_rows = 1000000 MAX 1000000,
             result_overflow_mode = 'throw',
             max_memory_usage = 4000000000 MAX 4000000000,
             max_concurrent_queries_for_user = 20 MAX 20
    TO settlewatch_grafana_role;
CREATE QUOTA OR REPLACE settlewatch_grafana_sql
    KEYED BY user_name
    FOR INTERVAL 60 second MAX queries = 1200, errors = 120, result_rows = 100000000
    TO settlewatch_grafana_role;
