package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/settlewatch/settlewatch/chtest"
	"github.com/settlewatch/settlewatch/simulator"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// compareTruth counts a transaction as equal only when its latest live
// version has the truth's outcome and cause: an older version with the right
// values, a tombstone or a missing row are differences, listed by id.
func TestCompareTruthJudgesTheLatestLiveVersion(t *testing.T) {
	db := chtest.Migrated(t)
	dir := t.TempDir()
	truth := []simulator.TruthRecord{
		{TxnID: "t1", Outcome: "pending", Cause: "none"},
		{TxnID: "t2", Outcome: "declined", Cause: "account"},
		{TxnID: "t3", Outcome: "failed", Cause: "timeout"}, // stored with another cause
		{TxnID: "t4", Outcome: "approved", Cause: "none"},  // never stored
		{TxnID: "t5", Outcome: "declined", Cause: "card"},  // right in version 2 of 2
		{TxnID: "t6", Outcome: "failed", Cause: "gateway"}, // right in version 1 only
		{TxnID: "t7", Outcome: "pending", Cause: "none"},   // deleted
	}
	f, err := os.Create(filepath.Join(dir, simulator.TruthFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := simulator.WriteTruthJSONL(f, truth); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// Rows as the collector writes them (18.16 takes no expressions in
	// VALUES over the native protocol, so each is an INSERT … SELECT).
	for _, v := range []struct {
		id             string
		version        int
		at             string
		outcome, cause string
	}{
		{"t1", 1, "10:00", "pending", "none"}, {"t2", 1, "10:00", "declined", "account"}, {"t3", 1, "10:00", "failed", "network"},
		{"t5", 1, "10:00", "pending", "none"}, {"t5", 2, "10:00", "declined", "card"},
		// Two live versions at different hours (a late fact moved the
		// transaction): the higher version is the stored one.
		{"t6", 1, "10:00", "failed", "gateway"}, {"t6", 2, "11:00", "failed", "network"},
	} {
		db.Exec(t, "INSERT INTO "+db.Name+".transaction_versions (txn_id, version, txn_time, outcome, cause)"+
			" SELECT ?, ?, toDateTime(concat('2026-03-01 ', ?, ':00'), 'UTC'), ?, ?", v.id, v.version, v.at, v.outcome, v.cause)
	}
	// t7's only row is a tombstone: the collector deletes a version it moved.
	db.Exec(t, "INSERT INTO "+db.Name+".transactions_by_time (txn_id, version, txn_time, outcome, cause, txn_hour, deleted)"+
		" SELECT 't7', 1, toDateTime('2026-03-01 10:00:00', 'UTC'), 'pending', 'none', toDateTime('2026-03-01 10:00:00', 'UTC'), 1")

	equal, diff, err := compareTruth(context.Background(), db.Conn, dir)
	if err != nil {
		t.Fatal(err)
	}
	if equal != 3 {
		t.Errorf("%d equal, want 3 (t1, t2, t5)", equal)
	}
	want := []outcomeMismatch{
		{"t3", "failed", "timeout", "failed", "network"},
		{"t4", "approved", "none", "", ""},
		{"t6", "failed", "gateway", "failed", "network"},
		{"t7", "pending", "none", "", ""},
	}
	if !slices.Equal(diff, want) {
		t.Errorf("differences:\n got %+v\nwant %+v", diff, want)
	}
}
