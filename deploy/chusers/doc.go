// Package chusers proves settlewatch's ClickHouse users on a real server. Its
// tests start a private ClickHouse (chtest.StartServer) with the shipped
// users.d/settlewatch.xml and legacy/settlewatch-databases.xml of
// deploy/compose/clickhouse installed, the passwords in its environment, and
// check what each user may and may not do: the schema owner migrates, the
// writers insert but run no DDL, Grafana reads with its own settings but
// writes nothing and meets its quota. The grants overlay for 24.x servers is
// checked (not run) by deploy/deploytest. Its code edits users files the way
// an operator would, for these tests and the collector's fault tests.
package chusers
