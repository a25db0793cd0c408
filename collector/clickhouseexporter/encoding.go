package clickhouseexporter

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"time"

	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"
	"go.opentelemetry.io/collector/pdata/ptrace"
	pdatareq "go.opentelemetry.io/collector/pdata/xpdata/request"
)

// The persistent queue stores a rowsRequest as its columns:
//
//	magic (4 bytes: 0x00 'S' 'W' 'R'), format version (1 byte),
//	spans (uvarint), then the span, fact and batch-close columns, each set as
//	rows (uvarint), columns (uvarint), and per column its field name, kind
//	(1 byte), payload length (uvarint) and payload.
//
// Columns are found by name when read, so a later version that adds a
// column reads an older queue (the column comes back empty) and one that
// drops a column skips it: a queue survives an upgrade. A request queued by
// a collector from before rows were queued is an OTLP request (its first
// byte is a protobuf tag, never 0x00) and is converted when it is read.
var rowsMagic = [4]byte{0x00, 'S', 'W', 'R'}

const rowsFormat = 1

// Column kinds, by Go type.
const (
	kindStrings byte = iota + 1
	kindUint64s
	kindInt64s
	kindUint8s
	kindTimes // UTC, as Unix nanoseconds
	kindStringArrays
	kindUint64Arrays
	kindUint32s
)

// rowsEncoding is the queue's encoding of rowsRequest (QueueBatchEncoding).
type rowsEncoding struct {
	// legacy converts a request queued as OTLP by an earlier version.
	legacy func(context.Context, ptrace.Traces) *rowsRequest
}

func (rowsEncoding) Marshal(_ context.Context, req xexporterhelper.Request) ([]byte, error) {
	r, ok := req.(*rowsRequest)
	if !ok {
		return nil, fmt.Errorf("settlewatch exporter: cannot queue a %T", req)
	}
	return encodeRows(r), nil
}

func (e rowsEncoding) Unmarshal(b []byte) (context.Context, xexporterhelper.Request, error) {
	if len(b) < len(rowsMagic) || [4]byte(b[:4]) != rowsMagic {
		ctx, td, err := pdatareq.UnmarshalTraces(b)
		if errors.Is(err, pdatareq.ErrInvalidFormat) {
			td, err = (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
		}
		if err != nil {
			return context.Background(), nil, fmt.Errorf("settlewatch exporter: queued OTLP request: %w", err)
		}
		return ctx, e.legacy(ctx, td), nil
	}
	r, err := decodeRows(b)
	if err != nil {
		return context.Background(), nil, fmt.Errorf("settlewatch exporter: queued rows: %w", err)
	}
	return context.Background(), r, nil
}

// colSets are a request's column sets in the order they are encoded.
func colSets(r *rowsRequest) []any { return []any{r.spans, r.facts, r.batches} }

func encodeRows(r *rowsRequest) []byte {
	b := make([]byte, 0, encodedLen(r))
	b = append(b, rowsMagic[:]...)
	b = append(b, rowsFormat)
	b = binary.AppendUvarint(b, uint64(r.n))
	for _, set := range colSets(r) {
		b = encodeSet(b, set)
	}
	return b
}

// encodeSet appends one column set (a pointer to it).
func encodeSet(b []byte, set any) []byte {
	v := reflect.ValueOf(set).Elem()
	b = binary.AppendUvarint(b, uint64(v.Field(0).Len()))
	b = binary.AppendUvarint(b, uint64(v.NumField()))
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
		kind, size := columnLen(v.Field(i).Addr().Interface())
		b = append(b, kind)
		b = binary.AppendUvarint(b, uint64(size))
		b = appendColumn(b, v.Field(i).Addr().Interface())
	}
	return b
}

// encodedLen is the length encodeRows gives r, within a few bytes per
// column.
func encodedLen(r *rowsRequest) int {
	n := len(rowsMagic) + 1 + binary.MaxVarintLen64
	for _, set := range colSets(r) {
		v := reflect.ValueOf(set).Elem()
		n += 2 * binary.MaxVarintLen64
		for i := range v.NumField() {
			_, size := columnLen(v.Field(i).Addr().Interface())
			n += len(v.Type().Field(i).Name) + 1 + 2*binary.MaxVarintLen64 + size
		}
	}
	return n
}

// columnLen is a column's kind and the length of its payload.
func columnLen(col any) (byte, int) {
	strs := func(ss []string) int {
		n := 0
		for _, s := range ss {
			n += uvarintLen(len(s)) + len(s)
		}
		return n
	}
	switch c := col.(type) {
	case *[]string:
		return kindStrings, strs(*c)
	case *[]uint64:
		return kindUint64s, 8 * len(*c)
	case *[]int64:
		return kindInt64s, 8 * len(*c)
	case *[]uint8:
		return kindUint8s, len(*c)
	case *[]time.Time:
		return kindTimes, 8 * len(*c)
	case *[]uint32:
		return kindUint32s, 4 * len(*c)
	case *[][]string:
		n := 0
		for _, row := range *c {
			n += uvarintLen(len(row)) + strs(row)
		}
		return kindStringArrays, n
	case *[][]uint64:
		n := 0
		for _, row := range *c {
			n += uvarintLen(len(row)) + 8*len(row)
		}
		return kindUint64Arrays, n
	}
	panic(fmt.Sprintf("settlewatch exporter: no encoding for a column of %T", col))
}

func uvarintLen(n int) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

func appendColumn(b []byte, col any) []byte {
	le := binary.LittleEndian
	switch c := col.(type) {
	case *[]string:
		for _, s := range *c {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
	case *[]uint64:
		for _, x := range *c {
			b = le.AppendUint64(b, x)
		}
	case *[]int64:
		for _, x := range *c {
			b = le.AppendUint64(b, uint64(x))
		}
	case *[]uint8:
		b = append(b, *c...)
	case *[]time.Time:
		for _, t := range *c {
			b = le.AppendUint64(b, uint64(t.UnixNano()))
		}
	case *[]uint32:
		for _, x := range *c {
			b = le.AppendUint32(b, x)
		}
	case *[][]string:
		for _, row := range *c {
			b = binary.AppendUvarint(b, uint64(len(row)))
			for _, s := range row {
				b = binary.AppendUvarint(b, uint64(len(s)))
				b = append(b, s...)
			}
		}
	case *[][]uint64:
		for _, row := range *c {
			b = binary.AppendUvarint(b, uint64(len(row)))
			for _, x := range row {
				b = le.AppendUint64(b, x)
			}
		}
	}
	return b
}

var errTruncated = errors.New("truncated")

// reader reads the encoding; its first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() int {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > 1<<40 {
		r.err = errTruncated
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = errTruncated
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func decodeRows(b []byte) (*rowsRequest, error) {
	in := &reader{b: b[len(rowsMagic):]}
	if v := in.bytes(1); in.err == nil && v[0] != rowsFormat {
		return nil, fmt.Errorf("format version %d, this collector reads %d (drain the queue with the version that wrote it)", v[0], rowsFormat)
	}
	r := &rowsRequest{n: in.uvarint(), spans: &spanCols{}, facts: &factCols{}, batches: &batchCols{}}
	for _, set := range colSets(r) {
		if err := decodeSet(in, set); err != nil {
			return nil, err
		}
	}
	if in.err != nil {
		return nil, in.err
	}
	if got := len(r.spans.TraceID); got != r.n {
		return nil, fmt.Errorf("%d span rows for %d spans", got, r.n)
	}
	return r, nil
}

// decodeSet reads one column set into set (a pointer to it): columns by
// name, unknown ones skipped, missing ones left with rows empty values.
func decodeSet(in *reader, set any) error {
	v := reflect.ValueOf(set).Elem()
	rows, cols := in.uvarint(), in.uvarint()
	if rows > len(in.b) {
		// Every row takes at least a byte of each column.
		return fmt.Errorf("%d rows in %d bytes", rows, len(in.b))
	}
	for range cols {
		name := string(in.bytes(in.uvarint()))
		kindB := in.bytes(1)
		payload := in.bytes(in.uvarint())
		if in.err != nil {
			return in.err
		}
		f := v.FieldByName(name)
		if !f.IsValid() {
			continue // a column this version does not have
		}
		col := f.Addr().Interface()
		if kind, _ := columnLen(col); kind != kindB[0] {
			return fmt.Errorf("column %s is of kind %d, expected %d", name, kindB[0], kind)
		}
		if err := decodeColumn(payload, rows, col); err != nil {
			return fmt.Errorf("column %s: %w", name, err)
		}
	}
	for i := range v.NumField() {
		if f := v.Field(i); f.Len() != rows {
			f.Set(reflect.MakeSlice(f.Type(), rows, rows)) // a column the writer did not have
		}
	}
	return in.err
}

// decodeColumn reads rows values into col. A column's strings are slices of
// one string holding its payload: one allocation per column, not per value.
func decodeColumn(payload []byte, rows int, col any) error {
	if rows > len(payload) {
		return fmt.Errorf("%d rows in %d bytes", rows, len(payload))
	}
	in := &reader{b: payload}
	all := ""
	str := func() string {
		n := in.uvarint()
		if in.err != nil || n > len(in.b) {
			in.err = errTruncated
			return ""
		}
		off := len(payload) - len(in.b)
		in.b = in.b[n:]
		return all[off : off+n]
	}
	fixed := func(size int) []byte {
		in.b = nil
		if len(payload) != size*rows {
			in.err = fmt.Errorf("%d bytes for %d rows", len(payload), rows)
			return nil
		}
		return payload
	}
	le := binary.LittleEndian
	switch c := col.(type) {
	case *[]string:
		all = string(payload)
		*c = make([]string, rows)
		for i := range *c {
			(*c)[i] = str()
		}
	case *[]uint64:
		p := fixed(8)
		*c = make([]uint64, rows)
		for i := range *c {
			if p != nil {
				(*c)[i] = le.Uint64(p[8*i:])
			}
		}
	case *[]int64:
		p := fixed(8)
		*c = make([]int64, rows)
		for i := range *c {
			if p != nil {
				(*c)[i] = int64(le.Uint64(p[8*i:]))
			}
		}
	case *[]uint8:
		if p := fixed(1); p != nil {
			*c = append([]uint8(nil), p...)
		}
	case *[]time.Time:
		p := fixed(8)
		*c = make([]time.Time, rows)
		for i := range *c {
			if p != nil {
				(*c)[i] = time.Unix(0, int64(le.Uint64(p[8*i:]))).UTC()
			}
		}
	case *[]uint32:
		p := fixed(4)
		*c = make([]uint32, rows)
		for i := range *c {
			if p != nil {
				(*c)[i] = le.Uint32(p[4*i:])
			}
		}
	case *[][]string:
		all = string(payload)
		*c = make([][]string, rows)
		for i := range *c {
			n := in.uvarint()
			if n == 0 || in.err != nil {
				continue
			}
			if n > len(in.b) {
				in.err = errTruncated
				break
			}
			row := make([]string, n)
			for j := range row {
				row[j] = str()
			}
			(*c)[i] = row
		}
	case *[][]uint64:
		*c = make([][]uint64, rows)
		for i := range *c {
			n := in.uvarint()
			if n == 0 || in.err != nil {
				continue
			}
			p := in.bytes(8 * n)
			if in.err != nil {
				break
			}
			row := make([]uint64, n)
			for j := range row {
				row[j] = le.Uint64(p[8*j:])
			}
			(*c)[i] = row
		}
	}
	if in.err == nil && len(in.b) > 0 {
		in.err = fmt.Errorf("%d bytes left over", len(in.b))
	}
	return in.err
}
