package clickhouseexporter

import (
	"reflect"
	"sort"
)

// A column set (spanCols, factCols, batchCols, traceCols) is a struct whose
// every field is one column: a slice with one element per row. These walk
// the fields, so that merging, splitting and encoding need no list of
// columns of their own that could fall out of step with the struct.

// reserve gives every column of c (a pointer to a column set) room for n
// rows.
func reserve(c any, n int) {
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		f.Set(reflect.MakeSlice(f.Type(), 0, n))
	}
}

// appendCols appends src's rows to dst's.
func appendCols[T any](dst, src *T) {
	d, s := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem()
	for i := range d.NumField() {
		d.Field(i).Set(reflect.AppendSlice(d.Field(i), s.Field(i)))
	}
}

// sliceCols returns rows [from, to) of c. The columns share c's arrays but
// end at to, so that appending to them never overwrites rows after to.
func sliceCols[T any](c *T, from, to int) *T {
	out := new(T)
	v, o := reflect.ValueOf(c).Elem(), reflect.ValueOf(out).Elem()
	for i := range v.NumField() {
		o.Field(i).Set(v.Field(i).Slice3(from, to, to))
	}
	return out
}

// firstFrom is the index of the first row of spanRows (ascending span
// indexes) that came from span k or later.
func firstFrom(spanRows []uint32, k int) int {
	return sort.Search(len(spanRows), func(i int) bool { return int(spanRows[i]) >= k })
}

// shifted returns spanRows with delta added to each, in a new slice.
func shifted(spanRows []uint32, delta int) []uint32 {
	out := make([]uint32, len(spanRows))
	for i, s := range spanRows {
		out[i] = uint32(int(s) + delta)
	}
	return out
}
