package chbatch

import "unsafe"

// Column is a column held in another form than a slice. Insert takes each
// block's values from it as a slice the driver appends.
type Column interface {
	// Len is how many rows the column holds.
	Len() int
	// Block returns rows [from, to) as a slice ([]string, [][]string, …),
	// valid until the next call.
	Block(from, to int) any
	// Bytes is how many bytes of strings rows [from, to) hold.
	Bytes(from, to int) int
	// Slice returns rows [from, to) without copying them.
	Slice(from, to int) Column
}

// Strings is a String column held as its values' bytes end to end and
// where each ends: no pointer per value, so the garbage collector has
// nothing in it to scan, and 8 bytes of overhead a value instead of a
// string header's 16 and its own allocation. Values read back (At, Block)
// point into its bytes, which are never written twice.
type Strings struct {
	buf     []byte
	ends    []int
	first   int      // where value 0 starts in buf (a slice of a longer column)
	scratch []string // Block's
}

// NewStrings returns an empty column with room for rows values of about
// bytes bytes in all.
func NewStrings(rows, bytes int) *Strings {
	return &Strings{buf: make([]byte, 0, bytes), ends: make([]int, 0, rows)}
}

// Append adds one value.
func (s *Strings) Append(v string) { appendValue(s, v) }

// AppendBytes adds one value given as bytes, which it copies: a caller
// holding an id as an array appends it without making a string first.
func (s *Strings) AppendBytes(v []byte) { appendValue(s, v) }

func appendValue[T string | []byte](s *Strings, v T) {
	s.buf = append(s.buf, v...)
	s.ends = append(s.ends, len(s.buf))
}

func (s *Strings) Len() int { return len(s.ends) }

func (s *Strings) start(i int) int {
	if i == 0 {
		return s.first
	}
	return s.ends[i-1]
}

// At returns value i.
func (s *Strings) At(i int) string {
	from, to := s.start(i), s.ends[i]
	if from == to {
		return ""
	}
	return unsafe.String(&s.buf[from], to-from)
}

func (s *Strings) Block(from, to int) any { return block(&s.scratch, from, to, s.At) }

// block fills scratch with values [from, to) read by at.
func block(scratch *[]string, from, to int, at func(int) string) []string {
	*scratch = (*scratch)[:0]
	for i := from; i < to; i++ {
		*scratch = append(*scratch, at(i))
	}
	return *scratch
}

func (s *Strings) Bytes(from, to int) int {
	if from >= to {
		return 0
	}
	return s.ends[to-1] - s.start(from)
}

func (s *Strings) Slice(from, to int) Column {
	return &Strings{buf: s.buf, ends: s.ends[from:to:to], first: s.start(from)}
}

// StringArrays is an Array(String) column held as Strings of all its
// elements and where each row's elements end.
type StringArrays struct {
	elems    Strings
	rowEnds  []int
	firstRow int // where row 0's elements start in elems
	scratch  [][]string
}

// NewStringArrays returns an empty column with room for rows rows of about
// elems elements and bytes bytes in all.
func NewStringArrays(rows, elems, bytes int) *StringArrays {
	return &StringArrays{elems: *NewStrings(elems, bytes), rowEnds: make([]int, 0, rows)}
}

// Add adds one element to the row being built; EndRow ends it.
func (a *StringArrays) Add(v string) { a.elems.Append(v) }

// EndRow ends the row being built (with no Add since the last, an empty
// array).
func (a *StringArrays) EndRow() { a.rowEnds = append(a.rowEnds, a.elems.Len()) }

// AppendRow adds one row of vs.
func (a *StringArrays) AppendRow(vs []string) {
	for _, v := range vs {
		a.elems.Append(v)
	}
	a.EndRow()
}

func (a *StringArrays) Len() int { return len(a.rowEnds) }

func (a *StringArrays) rowStart(i int) int {
	if i == 0 {
		return a.firstRow
	}
	return a.rowEnds[i-1]
}

// Row returns row i's elements in a new slice.
func (a *StringArrays) Row(i int) []string {
	out := make([]string, 0, a.rowEnds[i]-a.rowStart(i))
	for e := a.rowStart(i); e < a.rowEnds[i]; e++ {
		out = append(out, a.elems.At(e))
	}
	return out
}

func (a *StringArrays) Block(from, to int) any {
	if from >= to {
		return [][]string{}
	}
	flat := a.elems.Block(a.rowStart(from), a.rowEnds[to-1]).([]string)
	base := a.rowStart(from)
	a.scratch = a.scratch[:0]
	for i := from; i < to; i++ {
		lo, hi := a.rowStart(i)-base, a.rowEnds[i]-base
		a.scratch = append(a.scratch, flat[lo:hi:hi])
	}
	return a.scratch
}

func (a *StringArrays) Bytes(from, to int) int {
	if from >= to {
		return 0
	}
	return a.elems.Bytes(a.rowStart(from), a.rowEnds[to-1])
}

func (a *StringArrays) Slice(from, to int) Column {
	return &StringArrays{elems: a.elems, rowEnds: a.rowEnds[from:to:to], firstRow: a.rowStart(from)}
}

// Picked is a String column whose values are rows of another: a table whose
// rows repeat another's values (a payment fact its span's ids and name)
// holds the row numbers alone.
type Picked struct {
	from    *Strings
	rows    []int32
	scratch []string
}

// Pick returns the column of from's rows, in that order.
func Pick(from *Strings, rows []int32) *Picked { return &Picked{from: from, rows: rows} }

func (p *Picked) Len() int { return len(p.rows) }

// At returns value i.
func (p *Picked) At(i int) string { return p.from.At(int(p.rows[i])) }

func (p *Picked) Block(from, to int) any { return block(&p.scratch, from, to, p.At) }

func (p *Picked) Bytes(from, to int) int {
	n := 0
	for i := from; i < to; i++ {
		r := int(p.rows[i])
		n += p.from.Bytes(r, r+1)
	}
	return n
}

func (p *Picked) Slice(from, to int) Column { return &Picked{from: p.from, rows: p.rows[from:to:to]} }
