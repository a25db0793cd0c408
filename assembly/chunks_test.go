package assembly

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/settlewatch/settlewatch/domain"
)

// Chunks end at the id count or at chunkBytes of ids, whichever comes
// first, and an id longer than chunkBytes still gets a chunk of its own.
func TestChunksBoundCountAndBytes(t *testing.T) {
	a := &Assembler{ChunkSize: 3}
	big := strings.Repeat("x", chunkBytes/2+1)
	huge := strings.Repeat("y", chunkBytes+1)
	for _, tc := range []struct {
		ids  []string
		want []int // chunk lengths
	}{
		{nil, nil},
		{[]string{"a", "b", "c", "d", "e", "f", "g"}, []int{3, 3, 1}},
		{[]string{big, big, big}, []int{1, 1, 1}},
		{[]string{"a", huge, "b"}, []int{1, 1, 1}},
		{[]string{big, "a", "b", "c"}, []int{3, 1}},
	} {
		var got []int
		n := 0
		for _, c := range a.chunks(tc.ids) {
			got = append(got, len(c))
			n += len(c)
		}
		if !slices.Equal(got, tc.want) || n != len(tc.ids) {
			t.Errorf("chunks of %d ids: lengths %v, want %v", len(tc.ids), got, tc.want)
		}
	}
}

// Foreign rows stored moments before go in one ranged read, older ones in
// another, so that a settlement's day-old sale does not widen the range of
// the many transactions whose other half just arrived.
func TestByRecencySplitsFreshFromOld(t *testing.T) {
	const h = uint64(3600e9)
	now := 1000 * h
	groups := byRecency([]foreignRange{
		{id: "fresh-1", lo: now - h/2, hi: now - h/2, n: 1},
		{id: "old", lo: now - 24*h, hi: now - 24*h, n: 2},
		{id: "fresh-2", lo: now - h/4, hi: now, n: 3},
		{id: "both", lo: now - 30*h, hi: now - h/8, n: 4},
	})
	if len(groups) != 2 {
		t.Fatalf("%d groups, want 2: %+v", len(groups), groups)
	}
	fresh, old := groups[0], groups[1]
	if !slices.Equal(fresh.ids, []string{"fresh-1", "fresh-2"}) || fresh.lo != now-h/2 || fresh.hi != now || fresh.n != 4 {
		t.Errorf("fresh group %+v", fresh)
	}
	if !slices.Equal(old.ids, []string{"old", "both"}) || old.lo != now-30*h || old.hi != now-h/8 || old.n != 6 {
		t.Errorf("old group %+v", old)
	}
	if g := byRecency([]foreignRange{{id: "x", lo: 5, hi: 9, n: 1}}); len(g) != 1 || g[0].lo != 5 || g[0].hi != 9 || g[0].n != 1 {
		t.Errorf("one range: %+v", g)
	}
}

// The listing's counts per stamp decide how a transaction's facts are had:
// all the caller's, the caller's plus a ranged read of other stamps, or
// (when a stamp of the caller's is stored another number of times) read
// whole.
func TestForeignStamps(t *testing.T) {
	mine := []uint64{50, 50, 60}
	cases := []struct {
		name   string
		stamps []stampCount
		ok     bool
		want   foreignRange
	}{
		{"all the caller's", []stampCount{{50, 2}, {60, 1}}, true, foreignRange{id: "t"}},
		{"another writer's rows before and after", []stampCount{{20, 3}, {50, 2}, {60, 1}, {70, 1}}, true,
			foreignRange{id: "t", lo: 20, hi: 70, n: 4, foreign: []stampCount{{20, 3}, {70, 1}}}},
		{"a copy of the caller's merged away", []stampCount{{50, 1}, {60, 1}}, false, foreignRange{}},
		{"a writer with the caller's stamp", []stampCount{{50, 3}, {60, 1}}, false, foreignRange{}},
		{"a stamp of the caller's not stored", []stampCount{{50, 2}}, false, foreignRange{}},
		{"not stored, another writer's stored", []stampCount{{20, 1}, {50, 2}}, false, foreignRange{}},
	}
	for _, tc := range cases {
		got, ok := foreignStamps("t", mine, tc.stamps)
		if ok != tc.ok || (ok && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("%s: %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// Ids of more than one chunk are read in sorted stretches of the facts'
// key, those with facts to read back first; those taken from the caller's
// facts alone keep their order. The caller's slice keeps its order.
func TestReadOrderSortsTheIdsToReadBack(t *testing.T) {
	stored := KnownFacts{{Fact: domain.Fact{TxnID: "m2"}, IngestedNs: 7}, {Fact: domain.Fact{TxnID: "m1"}, IngestedNs: 7},
		{Fact: domain.Fact{TxnID: "r2"}, IngestedNs: 7}}
	known := newKnownFacts(stored)
	known.listed = map[string][]stampCount{
		"m2": {{ingested: 7, n: 1}},
		"m1": {{ingested: 7, n: 1}},
		"r2": {{ingested: 3, n: 2}, {ingested: 7, n: 1}}, // another writer's rows too
	}
	ids := []string{"m2", "z-unknown", "r2", "m1", "a-unknown"}
	got := readOrder(ids, known, 2)
	if want := []string{"a-unknown", "r2", "z-unknown", "m2", "m1"}; !slices.Equal(got, want) {
		t.Errorf("readOrder = %v, want %v", got, want)
	}
	if !slices.Equal(ids, []string{"m2", "z-unknown", "r2", "m1", "a-unknown"}) {
		t.Errorf("the caller's ids reordered: %v", ids)
	}
	if one := readOrder(ids[:2], known, 2); &one[0] != &ids[0] {
		t.Errorf("one chunk's ids copied")
	}
	// Without known facts (rebuilding from all facts) every id is read.
	if got := readOrder([]string{"c", "a", "b"}, knownFacts{}, 2); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("readOrder without known facts = %v", got)
	}
}

// A whole read is sized by the listed counts, capped per transaction, and
// by factsPerTxn for transactions not listed.
func TestExpectedRows(t *testing.T) {
	listed := map[string][]stampCount{
		"listed": {{ingested: 1, n: 3}, {ingested: 2, n: 2}},
		"stale":  {{ingested: 1, n: 40}},
	}
	if got, want := expectedRows([]string{"listed", "stale", "new"}, listed), 5+2*factsPerTxn+factsPerTxn; got != want {
		t.Errorf("expectedRows = %d, want %d", got, want)
	}
}
