// Package chschema describes settlewatch's ClickHouse tables as Go data,
// generates their DDL for the server at hand, and applies versioned migrations.
//
// One description serves two worlds: a portable core that runs on ClickHouse
// 18.16 (the only server CI can install) and modern-only clauses (LowCardinality,
// codecs, TTL, skip indexes) that are added for servers >= 20. The same column
// lists build the INSERT statements of the collector and the assembler, so the
// DDL and the writers cannot drift apart. Golden files under testdata/golden pin
// the generated DDL for each dialect.
package chschema
