package query

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/settlewatch/settlewatch/analytics/model"
)

// UnsettledQuery lists approved sales past their settlement window that never
// settled (outcome unsettled), with their age at AsOf.
type UnsettledQuery struct {
	Filters Filters
	// AsOf is the time ages are measured at (zero: now).
	AsOf time.Time
	// Lookback bounds how old a transaction may be (0: 90 days).
	Lookback time.Duration
	// Limit caps the listed transactions (0: the querier's row cap).
	Limit int
}

// UnsettledRow is one unsettled transaction.
type UnsettledRow struct {
	TxnID       string    `json:"txn_id"`
	Cause       string    `json:"cause"`
	AmountMinor int64     `json:"amount_minor"`
	Currency    string    `json:"currency"`
	AgeHours    float64   `json:"age_hours"`
	AgeBucket   string    `json:"age_bucket"`
	TxnTime     time.Time `json:"txn_time"`
	Gateway     string    `json:"gateway"`
	Merchant    string    `json:"merchant"`
	Terminal    string    `json:"terminal"`
	BatchNumber string    `json:"batch_number"`
}

// AgingRow is unsettled money by age bucket, cause and currency.
type AgingRow struct {
	AgeBucket    string `json:"age_bucket"`
	Cause        string `json:"cause"`
	Currency     string `json:"currency"`
	Transactions uint64 `json:"transactions"`
	AmountMinor  int64  `json:"amount_minor"`
}

// UnsettledResult has the list (oldest first) and the aging of all of them.
type UnsettledResult struct {
	AsOf  time.Time      `json:"as_of"`
	Rows  []UnsettledRow `json:"rows"`
	Aging []AgingRow     `json:"aging"`
	Meta  Meta           `json:"meta"`
}

// ageExpr buckets the age at the bound as-of time (seconds).
const ageExpr = "multiIf(age < 86400, '" + model.AgeUnder1d + "', age < 172800, '" + model.Age1to2d +
	"', age < 432000, '" + model.Age2to5d + "', '" + model.AgeOver5d + "')"

// Unsettled answers from the transactions table (the current state).
func (q *Querier) Unsettled(ctx context.Context, uq UnsettledQuery) (UnsettledResult, error) {
	if err := uq.Filters.Validate(); err != nil {
		return UnsettledResult{}, err
	}
	if len(uq.Filters.Outcomes) > 0 {
		return UnsettledResult{}, invalid("unsettled: an outcome filter makes no sense here (the outcome is unsettled)")
	}
	asOf := uq.AsOf
	if asOf.IsZero() {
		asOf = q.now()
	}
	lookback := uq.Lookback
	if lookback <= 0 {
		lookback = 90 * 24 * time.Hour
	}
	limit := uq.Limit
	if limit <= 0 || limit > q.maxRows() {
		limit = q.maxRows()
	}
	r := Range{From: asOf.Add(-lookback), To: asOf.Add(time.Second)}
	w := rawWhere(q.DB, r, uq.Filters, true)
	w.add("outcome = 'unsettled'")
	res := UnsettledResult{AsOf: asOf.UTC(), Meta: Meta{Source: string(SourceRaw)}}
	qctx, cancel := q.ctx(ctx)
	defer cancel()
	rows, err := q.Conn.Query(qctx, "SELECT txn_id, toString(cause), amount_minor, currency, txn_time, gateway_id, merchant_id, terminal_id, batch_number FROM "+
		w.from()+" ORDER BY txn_time, txn_id LIMIT ?", append(w.args, limit+1)...)
	if err != nil {
		return res, fmt.Errorf("unsettled: %w", err)
	}
	for rows.Next() {
		var u UnsettledRow
		if err := rows.Scan(&u.TxnID, &u.Cause, &u.AmountMinor, &u.Currency, &u.TxnTime, &u.Gateway, &u.Merchant, &u.Terminal, &u.BatchNumber); err != nil {
			rows.Close()
			return res, fmt.Errorf("unsettled: %w", err)
		}
		u.TxnTime = u.TxnTime.UTC()
		age := asOf.Sub(u.TxnTime)
		u.AgeHours = math.Round(age.Hours()*100) / 100
		u.AgeBucket = model.AgeBucket(age)
		res.Rows = append(res.Rows, u)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return res, fmt.Errorf("unsettled: %w", err)
	}
	if len(res.Rows) > limit {
		res.Rows, res.Meta.Truncated = res.Rows[:limit], true
	}
	aging, err := q.Conn.Query(qctx, "SELECT "+ageExpr+" AS ab, toString(cause) AS c, currency AS cur, count() AS n, sum(amount_minor) AS amt FROM"+
		" (SELECT toInt64(toUInt32(toDateTime(?))) - toInt64(toUInt32(txn_time)) AS age, cause, currency, amount_minor FROM "+
		w.from()+") GROUP BY ab, c, cur ORDER BY ab, n DESC, c, cur LIMIT ?",
		append(append([]any{asOf.Unix()}, w.args...), q.maxRows())...)
	if err != nil {
		return res, fmt.Errorf("unsettled aging: %w", err)
	}
	defer aging.Close()
	for aging.Next() {
		var a AgingRow
		if err := aging.Scan(&a.AgeBucket, &a.Cause, &a.Currency, &a.Transactions, &a.AmountMinor); err != nil {
			return res, fmt.Errorf("unsettled aging: %w", err)
		}
		res.Aging = append(res.Aging, a)
	}
	sortAging(res.Aging)
	return res, aging.Err()
}

func sortAging(a []AgingRow) {
	order := map[string]int{}
	for i, b := range model.AgeBuckets {
		order[b] = i
	}
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && order[a[j].AgeBucket] < order[a[j-1].AgeBucket]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}
