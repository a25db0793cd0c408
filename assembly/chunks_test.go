package assembly

import (
	"slices"
	"strings"
	"testing"
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
		{id: "fresh-1", lo: now - h/2, hi: now - h/2, any: true},
		{id: "old", lo: now - 24*h, hi: now - 24*h, any: true},
		{id: "fresh-2", lo: now - h/4, hi: now, any: true},
		{id: "both", lo: now - 30*h, hi: now - h/8, any: true},
	})
	if len(groups) != 2 {
		t.Fatalf("%d groups, want 2: %+v", len(groups), groups)
	}
	fresh, old := groups[0], groups[1]
	if !slices.Equal(fresh.ids, []string{"fresh-1", "fresh-2"}) || fresh.lo != now-h/2 || fresh.hi != now {
		t.Errorf("fresh group %+v", fresh)
	}
	if !slices.Equal(old.ids, []string{"old", "both"}) || old.lo != now-30*h || old.hi != now-h/8 {
		t.Errorf("old group %+v", old)
	}
	if g := byRecency([]foreignRange{{id: "x", lo: 5, hi: 9, any: true}}); len(g) != 1 || g[0].lo != 5 || g[0].hi != 9 {
		t.Errorf("one range: %+v", g)
	}
}
