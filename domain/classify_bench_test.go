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

// BenchmarkSortFacts orders one transaction's five facts, received newest
// first, as assembly does for every transaction it classifies.
func BenchmarkSortFacts(b *testing.B) {
	facts := txn(failAt("host", "timeout"))
	for i, j := 0, len(facts)-1; i < j; i, j = i+1, j-1 {
		facts[i], facts[j] = facts[j], facts[i]
	}
	buf := make([]Fact, len(facts))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, facts)
		if got := SortFacts(buf); len(got) != len(facts) || !inOrder(got) {
			b.Fatal("not sorted")
		}
	}
}
