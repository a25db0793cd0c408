package chschema_test

import (
	"testing"

	"github.com/settlewatch/settlewatch/chtest"
)

// TestMain runs this package's tests against a real ClickHouse server.
func TestMain(m *testing.M) { chtest.Main(m) }
