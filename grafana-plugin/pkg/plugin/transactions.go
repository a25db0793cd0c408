package plugin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/settlewatch/settlewatch/analytics/query"
	"github.com/settlewatch/settlewatch/domain"
)

// ErrNeedsQueryLayer marks a question the query layer cannot answer yet.
// The plugin never writes SQL of its own: the CLI and the dashboards must
// read through the same code.
var ErrNeedsQueryLayer = errors.New("not available in the query layer yet")

// txnRow is one listed transaction.
type txnRow struct {
	Time                        time.Time
	ID, Outcome, Cause          string
	AmountMinor                 int64
	Currency                    string
	AgeHours                    float64
	AgeBucket                   string
	Gateway, Merchant, Terminal string
	BatchNumber                 string
}

// transactions lists failed, declined or unsettled transactions with their
// money, newest or oldest first, each linked to its trace.
func (d *Datasource) transactions(ctx context.Context, r *request, st Store) (data.Frames, error) {
	status := r.Status
	if status == "" {
		status = "failures"
	}
	if !slices.Contains(TxnStatuses, status) {
		return nil, bad("transactions: status %q: want one of %s", clip(status), strings.Join(TxnStatuses, ", "))
	}
	if status != string(domain.OutcomeUnsettled) {
		return d.classifiedTransactions(ctx, r, st, status)
	}
	f := r.Filters
	empty := r.Empty
	if len(f.Outcomes) > 0 {
		empty = empty || !slices.Contains(f.Outcomes, string(domain.OutcomeUnsettled))
		f.Outcomes = nil
	}
	if empty {
		fr := txnFrame(nil, true)
		fr.AppendNotices(emptyNotice())
		return data.Frames{fr}, nil
	}
	asOf := d.now()
	if r.Range.To.Before(asOf) {
		asOf = r.Range.To
	}
	if !r.Range.From.Before(asOf) {
		return data.Frames{txnFrame(nil, true)}, nil
	}
	res, err := st.Unsettled(ctx, query.UnsettledQuery{Filters: f, AsOf: asOf, Lookback: asOf.Sub(r.Range.From), Limit: r.limit(d.settings.MaxRows)})
	if err != nil {
		return nil, err
	}
	rows := make([]txnRow, len(res.Rows))
	for i, u := range res.Rows {
		rows[i] = txnRow{Time: u.TxnTime, ID: u.TxnID, Outcome: string(domain.OutcomeUnsettled), Cause: u.Cause, AmountMinor: u.AmountMinor,
			Currency: u.Currency, AgeHours: u.AgeHours, AgeBucket: u.AgeBucket, Gateway: u.Gateway, Merchant: u.Merchant, Terminal: u.Terminal, BatchNumber: u.BatchNumber}
	}
	fr := txnFrame(rows, true)
	d.traceLink(r, fr)
	describe(fr, fmt.Sprintf("unsettled transactions as of %s, oldest first", res.AsOf.Format(time.RFC3339)), res.Meta, r.limit(d.settings.MaxRows))
	return data.Frames{fr}, nil
}

// classifiedTransactions lists declined, failed or settlement-rejected
// transactions (or all failures), newest first.
func (d *Datasource) classifiedTransactions(ctx context.Context, r *request, st Store, status string) (data.Frames, error) {
	f := r.Filters
	if status != "failures" {
		if len(f.Outcomes) > 0 && !slices.Contains(f.Outcomes, status) {
			fr := txnFrame(nil, false)
			fr.AppendNotices(emptyNotice())
			return data.Frames{fr}, nil
		}
		f.Outcomes = []string{status}
	}
	if r.Empty {
		fr := txnFrame(nil, false)
		fr.AppendNotices(emptyNotice())
		return data.Frames{fr}, nil
	}
	res, err := st.Transactions(ctx, query.TransactionsQuery{Range: r.Range, Filters: f, Limit: r.limit(d.settings.MaxRows)})
	if err != nil {
		return nil, err
	}
	rows := make([]txnRow, len(res.Rows))
	for i, t := range res.Rows {
		rows[i] = txnRow{Time: t.TxnTime, ID: t.TxnID, Outcome: t.Outcome, Cause: t.Cause, AmountMinor: t.AmountMinor, Currency: t.Currency,
			Gateway: t.Gateway, Merchant: t.Merchant, Terminal: t.Terminal, BatchNumber: t.BatchNumber}
	}
	fr := txnFrame(rows, false)
	d.traceLink(r, fr)
	describe(fr, status+" transactions, newest first", res.Meta, r.limit(d.settings.MaxRows))
	return data.Frames{fr}, nil
}

func txnFrame(rows []txnRow, aging bool) *data.Frame {
	n := len(rows)
	times := make([]time.Time, n)
	ids, outcomes, causes, classes := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	gws, merchants, terminals, batches := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	ages, buckets := make([]float64, n), make([]string, n)
	m := newMoney(n)
	for i, r := range rows {
		times[i], ids[i], outcomes[i], causes[i], classes[i] = r.Time, r.ID, r.Outcome, r.Cause, causeClass(r.Cause)
		gws[i], merchants[i], terminals[i], batches[i] = r.Gateway, r.Merchant, r.Terminal, r.BatchNumber
		ages[i], buckets[i] = r.AgeHours, r.AgeBucket
		m.add(i, r.Currency, r.AmountMinor)
	}
	f := data.NewFrame("transactions",
		withDisplay(data.NewField("txn_time", nil, times), "Time"),
		withDisplay(data.NewField("txn_id", nil, ids), "Transaction"),
		withDisplay(data.NewField("outcome", nil, outcomes), "Outcome"),
		withDisplay(data.NewField("cause", nil, causes), "Cause"),
		withDisplay(data.NewField("class", nil, classes), "Class"),
	)
	if aging {
		age := data.NewField("age_hours", nil, ages)
		age.Config = &data.FieldConfig{DisplayNameFromDS: "Age", Unit: "h"}
		f.Fields = append(f.Fields, age, withDisplay(data.NewField("age_bucket", nil, buckets), "Age bucket"))
	}
	f.Fields = append(f.Fields, m.fields("amount_minor", "Amount")...)
	f.Fields = append(f.Fields,
		withDisplay(data.NewField("gateway", nil, gws), "Gateway"),
		withDisplay(data.NewField("merchant", nil, merchants), "Merchant"),
		withDisplay(data.NewField("terminal", nil, terminals), "Terminal"),
		withDisplay(data.NewField("batch_number", nil, batches), "Batch"),
	)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return f
}

// traceLink links every transaction id to its trace.
func (d *Datasource) traceLink(r *request, f *data.Frame) {
	l := d.links(r)
	if !l.ok() {
		return
	}
	i := fieldIndex(f, "txn_id")
	f.Fields[i].Config.Links = []data.DataLink{l.to("Trace of this transaction", map[string]any{"queryType": TypeTrace, "txnId": "${__value.raw}"})}
}
