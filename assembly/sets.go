package assembly

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Sets of ids reach the server as external tables sent beside the query
// (`WHERE txn_id IN sw_txn_ids`), not written into its text: a few
// thousand ids as literals cost 18.16 40-60 ms of parsing per query, a
// quarter of its CPU during ingest, against 1-4 ms as a column
// (docs/benchmarks.md, "Where ClickHouse's CPU goes"). The primary key
// prunes by the set as it does by a literal list, and a Distributed table
// passes the set on to its shards.

// idSet is a set of ids and the name a query tests it by.
type idSet struct {
	name   string // what the query calls it
	typ    string // the type of the column it is compared with
	ids    []string
	hashes []uint64 // instead of ids, for a UInt64 column
}

func txnSet(ids []string) idSet { return idSet{name: "sw_txn_ids", typ: "String", ids: ids} }
func traceSet(ids []string) idSet {
	return idSet{name: "sw_trace_ids", typ: "FixedString(16)", ids: ids}
}
func termSet(ids []string) idSet { return idSet{name: "sw_terminal_ids", typ: "String", ids: ids} }
func numSet(ids []string) idSet  { return idSet{name: "sw_batch_numbers", typ: "String", ids: ids} }

// txnHashSet is the transactions' chschema.TxnHash values.
func txnHashSet(hashes []uint64) idSet {
	return idSet{name: "sw_txn_hashes", typ: "UInt64", hashes: hashes}
}

// withSets returns ctx carrying sets as the query's external tables.
func withSets(ctx context.Context, sets ...idSet) (context.Context, error) {
	if len(sets) == 0 {
		return ctx, nil
	}
	tables := make([]*ext.Table, 0, len(sets))
	for _, s := range sets {
		t, err := ext.NewTable(s.name, ext.Column("id", column.Type(s.typ)))
		if err != nil {
			return nil, fmt.Errorf("id set %s: %w", s.name, err)
		}
		for _, id := range s.ids {
			if err := t.Append(id); err != nil {
				return nil, fmt.Errorf("id set %s: id %q: %w", s.name, id, err)
			}
		}
		for _, h := range s.hashes {
			if err := t.Append(h); err != nil {
				return nil, fmt.Errorf("id set %s: hash %d: %w", s.name, h, err)
			}
		}
		tables = append(tables, t)
	}
	return clickhouse.Context(ctx, clickhouse.WithExternalTable(tables...)), nil
}

// query runs sql within the assembler's query deadline, with sets sent
// beside it. done closes the rows and ends the deadline.
func (a *Assembler) query(ctx context.Context, sql string, sets []idSet, args ...any) (rows driver.Rows, done func(), err error) {
	qctx, cancel := a.queryCtx(ctx)
	if qctx, err = withSets(qctx, sets...); err != nil {
		cancel()
		return nil, nil, err
	}
	if rows, err = a.Conn.Query(qctx, sql, args...); err != nil {
		cancel()
		return nil, nil, err
	}
	return rows, func() { _ = rows.Close(); cancel() }, nil
}
