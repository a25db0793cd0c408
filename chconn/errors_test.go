package chconn

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
)

func TestIsCode(t *testing.T) {
	missing := &clickhouse.Exception{Code: CodeUnknownTable, Message: "Table db.t doesn't exist"}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{missing, true},
		{fmt.Errorf("list facts: %w", missing), true},
		{&clickhouse.Exception{Code: 159}, false},
		{errors.New("connection refused"), false},
		{nil, false},
	} {
		if got := IsCode(tc.err, CodeUnknownTable); got != tc.want {
			t.Errorf("IsCode(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
