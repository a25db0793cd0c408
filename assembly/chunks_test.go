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
