// Package clustertest holds the ClickHouse cluster-mode integration test: two
// ClickHouse servers replicating one shard through ZooKeeper on loopback
// ports, configured from deploy/clickhouse-cluster/, the schema migrated ON
// CLUSTER, the real collector writing simulator traffic through Distributed
// tables, analytics reading through them, and one replica stopped and
// restarted without losing rows.
//
// The test runs only when SETTLEWATCH_CLUSTER_TEST is set (it needs Java and
// Debian's zookeeper package); deploy/clickhouse-cluster/test.sh installs
// what is missing and runs it.
package clustertest
