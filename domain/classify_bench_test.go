package domain

import "testing"

// BenchmarkClassify is one transaction of five spans with a failure chain.
func BenchmarkClassify(b *testing.B) {
	r := DefaultRules()
	in := Input{Facts: txn(failAt("host", "timeout"), failAt("issuer", "database_error")), AsOf: t0}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if r.Classify(in).Cause != CauseSystem {
			b.Fatal("wrong cause")
		}
	}
}
