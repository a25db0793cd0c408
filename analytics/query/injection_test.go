package query_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/analytics/query"
)

// hostile are values an attacker might put in a filter, a variable, a
// transaction id or a trace id; each is distinctive enough not to occur in our
// own SQL, so the query log can be searched for it.
var hostile = []string{
	"x' OR 1=1 --", "x\\' OR 1=1 --", "'; DROP TABLE transactions; --", "gw-1') OR ('1'='1",
	"1; SELECT * FROM system.users", "x\" OR \"1\"=\"1", "$__all' OR 1", "${gateway}'", "gw-1\x00' OR 1=1",
	"gw-1 UNION ALL SELECT password FROM users", "' || sleep(3) || '", "`transactions_zz`", "gw-1/*", "*/ OR 1=1 /*",
	"zz\\", "zz'", "%27%20OR%201%3D1", "gw-1\n) OR (1=1", strings.Repeat("A", 5000),
}

// Every hostile value is refused with ErrInvalid or answered as an ordinary
// value with correct (empty) results, and system.query_log shows that none
// reached the server as SQL text: rejected ones never reached it at all,
// accepted ones only inside a quoted literal.
func TestHostileValuesNeverReachSQLAsText(t *testing.T) {
	began := time.Now()
	f := setup(t)
	ctx := context.Background()
	r := query.Range{From: day0, To: day0.Add(48 * time.Hour)}
	marker := "injection-probe-" + f.db.Name
	for _, v := range hostile {
		for _, dim := range []string{"gateway", "merchant", "terminal", "issuer"} {
			res, err := f.q.CauseBreakdown(ctx, query.CausesQuery{Range: r, By: dim, Source: query.SourceRaw,
				Filters: query.Filters{Dims: map[string][]string{dim: {v, marker}}}})
			switch {
			case errors.Is(err, query.ErrInvalid):
			case err != nil:
				t.Fatalf("%s=%q: a server error leaked: %v", dim, v, err)
			case len(res.Rows) != 0 || res.Failures != 0:
				t.Errorf("%s=%q: %d rows, %d failures for a value no transaction has", dim, v, len(res.Rows), res.Failures)
			}
		}
		if _, err := f.q.Transactions(ctx, query.TransactionsQuery{Range: r, Filters: query.Filters{Dims: map[string][]string{"merchant": {v}}}}); err != nil && !errors.Is(err, query.ErrInvalid) {
			t.Errorf("transactions merchant=%q: %v", v, err)
		}
		if _, err := f.q.Txn(ctx, v); !errors.Is(err, query.ErrInvalid) && !errors.Is(err, query.ErrNotFound) {
			t.Errorf("txn %q: %v", v, err)
		}
		if _, err := f.q.TxnByTrace(ctx, v); !errors.Is(err, query.ErrInvalid) {
			t.Errorf("trace %q: %v", v, err)
		}
	}
	// A value that passes validation still filters exactly: one real merchant.
	m := f.txns[0].Merchant
	res, err := f.q.Transactions(ctx, query.TransactionsQuery{Range: query.Range{From: day0, To: day0.Add(96 * time.Hour)}, Filters: query.Filters{Dims: map[string][]string{"merchant": {m}}}, Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range res.Rows {
		if row.Merchant != m {
			t.Fatalf("merchant filter %s returned %s", m, row.Merchant)
		}
	}

	f.db.Exec(t, "SYSTEM FLUSH LOGS")
	// The probe marker proves the log holds this test's queries.
	if n := f.db.Count(t, "SELECT count() FROM system.query_log WHERE type = 2 AND position(query, ?) > 0", marker); n == 0 {
		t.Fatal("system.query_log has none of this test's queries: is log_queries on?")
	}
	for _, v := range hostile {
		if !strings.ContainsAny(v, "'\\\"`;\n\x00") {
			continue // plain text: harmless even verbatim
		}
		// (Not counting these checks themselves: the driver inlines the
		// bound value, escaped, and the log may flush while they run. Only
		// this test's queries, which all name its database: the log is the
		// server's, and other tests' random binary ids can hold "zz'".)
		if n := f.db.Count(t, "SELECT count() FROM system.query_log WHERE position(query, ?) > 0 AND position(query, 'system.query_log') = 0"+
			" AND position(query, ?) > 0 AND event_time >= toDateTime(?)", v, f.db.Name, began.Unix()-1); n != 0 {
			t.Errorf("%q appears verbatim in %d logged queries", v, n)
		}
	}
}
