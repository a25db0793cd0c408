// Package chconn holds the ClickHouse connection settings that every settlewatch
// program shares (flags and environment), opens native-protocol connections, and
// reads the server version that chschema uses to pick its DDL dialect.
//
// The driver is used under the rules that hold on ClickHouse 18.16 as well as on
// modern servers: native protocol only, only int/bool settings through the
// context, and every deadline paired with max_execution_time (WithQuerySettings).
package chconn
