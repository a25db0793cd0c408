package plugin

import (
	"context"

	"github.com/settlewatch/settlewatch/analytics/query"
)

// Store is what the plugin asks of the query layer. *query.Querier is the
// only real implementation: every number the plugin shows comes from the
// same code as the CLI's, so a dashboard and the CLI cannot disagree. Unit
// tests of the frame building use a fixed fake.
type Store interface {
	CauseBreakdown(ctx context.Context, cq query.CausesQuery) (query.CausesResult, error)
	OutcomeBreakdown(ctx context.Context, oq query.OutcomesQuery) (query.OutcomeResult, error)
	Trend(ctx context.Context, tq query.TrendQuery) (query.TrendResult, error)
	Series(ctx context.Context, sq query.SeriesQuery) (query.SeriesResult, error)
	Txn(ctx context.Context, id string) (query.TxnStory, error)
	Incidents(ctx context.Context, iq query.IncidentsQuery) ([]query.Incident, query.Meta, error)
	Unsettled(ctx context.Context, uq query.UnsettledQuery) (query.UnsettledResult, error)
	Transactions(ctx context.Context, tq query.TransactionsQuery) (query.TransactionsResult, error)
	TxnByTrace(ctx context.Context, traceID string) (string, error)
}

var _ Store = (*query.Querier)(nil)
