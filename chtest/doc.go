// Package chtest is the integration-test harness: a real ClickHouse server
// (the one CI started, named by SETTLEWATCH_TEST_CH_ADDR, or one started for
// the test binary) and a fresh database per test. It never mocks ClickHouse.
//
//	func TestMain(m *testing.M) { chtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		db := chtest.Migrated(t)
//		... db.Conn ...
//		if n := db.Count(t, "SELECT count() FROM "+db.Name+".spans"); n != 3 { ... }
//	}
//
// StartServer (server.go) is also used outside tests, by
// cmd/settlewatch-chserver, so that scripts start ClickHouse exactly as tests do.
package chtest
