package assembly

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/chtest"
	"github.com/settlewatch/settlewatch/domain"
)

// A transaction first assembled from its settlement alone, then from its root
// span a day earlier: Explain finds both versions among its facts' hours, and
// the newer version's tombstone at the settlement's hour that hides the older.
func TestExplainListsVersionsAndTombstones(t *testing.T) {
	db := chtest.Migrated(t)
	a := newAssembler(db)
	ctx := context.Background()
	settle := saleSettlement()
	insertFacts(t, db, settle)
	if _, err := a.AssembleTxns(ctx, []string{saleID}); err != nil {
		t.Fatal(err)
	}
	insertFacts(t, db, saleRoot(), saleGateway())
	if _, err := a.AssembleTxns(ctx, []string{saleID}); err != nil {
		t.Fatal(err)
	}
	lines, err := a.Explain(ctx, saleID)
	if err != nil {
		t.Fatal(err)
	}
	var rows, tombstones, facts int
	settleHour := time.Unix(0, settle.StartNs).UTC().Truncate(time.Hour).Format(time.RFC3339)
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "row ") && strings.Contains(l, "tombstone at hour "+settleHour):
			tombstones++
		case strings.HasPrefix(l, "row "):
			rows++
		case strings.HasPrefix(l, "fact "):
			facts++
		}
	}
	if rows != 2 || tombstones != 1 || facts != 3 {
		t.Errorf("explain: %d rows, %d tombstones at %s, %d facts; want 2, 1, 3:\n%s", rows, tombstones, settleHour, facts, strings.Join(lines, "\n"))
	}
	if got := current(t, db, saleID); got.outcome != string(domain.OutcomeSettled) || got.version.Facts != 3 {
		t.Errorf("current: %+v, want settled from 3 facts", got)
	}
}
