package synth

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chschema"
)

// Dim returns a transaction's value of a dimension (model.Dimensions names;
// "all" gives "").
func (t *Txn) Dim(name string) string {
	switch name {
	case "gateway":
		return t.Gateway
	case "merchant":
		return t.Merchant
	case "terminal":
		return t.Terminal
	case "region":
		return t.Region
	case "acquirer":
		return t.Acquirer
	case "issuer":
		return t.Issuer
	case "card_scheme":
		return t.Scheme
	case "funding":
		return t.Funding
	case "entry_mode":
		return t.EntryMode
	case "response_code":
		return t.ResponseCode
	}
	return ""
}

// Key of a ground-truth cell.
type Key struct {
	Cause, Value, Currency string
	Bucket                 time.Time
}

// Cell of the ground truth.
type Cell struct {
	Transactions uint64
	Amount       int64
}

// Truth counts the latest versions by cause × dimension value × bucket of
// width step (e.g. time.Hour) × currency, for transactions in [from, to).
// Causes include "none".
func Truth(txns []Txn, dim string, step time.Duration, from, to time.Time) map[Key]Cell {
	out := map[Key]Cell{}
	for i := range txns {
		t := &txns[i]
		if t.Time.Before(from) || !t.Time.Before(to) {
			continue
		}
		k := Key{Cause: string(t.Cause), Value: t.Dim(dim), Currency: t.Currency, Bucket: t.Time.Truncate(step)}
		c := out[k]
		c.Transactions++
		c.Amount += t.Amount
		out[k] = c
	}
	return out
}

func spanID(s string) string {
	h := sha256.Sum256([]byte(s))
	return string(h[:8])
}

// InsertFacts writes, for every transaction, its pos.transaction fact (with
// the gateway) and its pos.host.request fact (the terminal-observed
// authorization latency; error.type timeout when the terminal gave up) into
// the facts table, as the exporter would.
func InsertFacts(ctx context.Context, conn driver.Conn, db string, txns []Txn) error {
	const batch = 50000
	for start := 0; start < len(txns); start += batch {
		part := txns[start:min(start+batch, len(txns))]
		cols, n := factColumns(part)
		qctx, cancel := chconn.WithQuerySettings(ctx, 5*time.Minute)
		err := chbatch.Insert(qctx, conn, db, chschema.PaymentFacts, cols, n)
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

func factColumns(txns []Txn) (chbatch.Columns, int) {
	cols := chbatch.Columns{}
	names := chschema.PaymentFacts.Columns()
	vals := map[string][]any{}
	n := 0
	for i := range txns {
		t := &txns[i]
		for _, root := range []bool{true, false} {
			n++
			row := map[string]any{
				"txn_id": t.ID, "trace_id": traceID(t.ID), "service_name": "pos-terminal", "start_time": t.Time,
				"start_ns": uint64(t.Time.UnixNano()), "status_code": "unset", "error_type": "", "response_code": "",
				"response_source": "", "txn_type": "", "amount_minor": int64(0), "amount_ok": uint8(0), "currency": "",
				"terminal_id": t.Terminal, "terminal_model": "PAX-A920", "merchant_id": t.Merchant, "region": t.Region,
				"gateway_id": "", "acquirer_id": "", "issuer_id": "", "card_scheme": "", "card_funding": "", "entry_mode": "",
				"card_bin": "", "batch_number": "", "settlement_status": "", "settlement_date": "", "server_address": "",
				"ingested_ns": uint64(t.Time.UnixNano()),
			}
			if root {
				row["span_id"] = spanID(t.ID + "/root")
				row["parent_span_id"] = "\x00\x00\x00\x00\x00\x00\x00\x00"
				row["name"] = "pos.transaction"
				row["kind"] = "internal"
				row["duration_ns"] = uint64(t.LatencyNs)
				row["response_code"] = t.ResponseCode
				row["error_type"] = t.ErrorType
				row["txn_type"] = t.Type
				row["amount_minor"], row["amount_ok"], row["currency"] = t.Amount, uint8(1), t.Currency
				row["gateway_id"] = t.Gateway
				row["card_scheme"], row["card_funding"], row["entry_mode"] = t.Scheme, t.Funding, t.EntryMode
				row["batch_number"] = t.BatchNumber
			} else {
				row["span_id"] = spanID(t.ID + "/host")
				row["parent_span_id"] = spanID(t.ID + "/root")
				row["name"] = "pos.host.request"
				row["kind"] = "client"
				row["start_ns"] = uint64(t.Time.UnixNano()) + 300e6
				row["duration_ns"] = uint64(t.HostLatencyNs)
				if t.HostTimeout {
					row["status_code"], row["error_type"] = "error", "timeout"
				}
			}
			for _, c := range names {
				vals[c] = append(vals[c], row[c])
			}
		}
	}
	for _, c := range names {
		cols[c] = typed(vals[c])
	}
	return cols, n
}

// typed turns []any of one Go type into a typed slice for columnar append.
func typed(v []any) any {
	if len(v) == 0 {
		return []string{}
	}
	switch v[0].(type) {
	case string:
		out := make([]string, len(v))
		for i := range v {
			out[i] = v[i].(string)
		}
		return out
	case uint64:
		out := make([]uint64, len(v))
		for i := range v {
			out[i] = v[i].(uint64)
		}
		return out
	case int64:
		out := make([]int64, len(v))
		for i := range v {
			out[i] = v[i].(int64)
		}
		return out
	case uint8:
		out := make([]uint8, len(v))
		for i := range v {
			out[i] = v[i].(uint8)
		}
		return out
	case time.Time:
		out := make([]time.Time, len(v))
		for i := range v {
			out[i] = v[i].(time.Time)
		}
		return out
	}
	panic("synth: no typed slice for column")
}
