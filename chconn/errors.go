package chconn

import (
	"errors"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// CodeUnknownTable is ClickHouse's UNKNOWN_TABLE: a table that a migration
// creates is missing (not yet migrated, or dropped by an operator).
const CodeUnknownTable = 60

// CodeTableIsDropped is ClickHouse's TABLE_IS_DROPPED: a query was reading
// a table when another session dropped it.
const CodeTableIsDropped = 218

// IsCode reports whether err is an exception the server returned with code.
func IsCode(err error, code int32) bool {
	var ex *clickhouse.Exception
	return errors.As(err, &ex) && ex.Code == code
}
