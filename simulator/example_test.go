package simulator_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/settlewatch/settlewatch/simulator"
)

// The end-to-end shape: a past day with two scenarios, sent to a collector,
// and the ground truth to compare the stored transactions with.
func ExampleSimulateBackfill() {
	ctx := context.Background()
	cfg, err := simulator.LoadConfig("scenarios/demo.yaml") // gw-2 outage + wuhan network degradation
	if err != nil {
		log.Fatal(err)
	}
	loc, _ := time.LoadLocation(cfg.Fleet.Timezone)
	now := time.Now()
	today := time.Date(now.In(loc).Year(), now.In(loc).Month(), now.In(loc).Day(), 0, 0, 0, 0, loc)
	r := simulator.Range{
		From: today.AddDate(0, 0, -3), // a whole local day, long enough ago that
		To:   today.AddDate(0, 0, -2), // every settlement window has passed,
		AsOf: now,                     // so no transaction is pending
	}
	exp, err := simulator.NewOTLPExporter(ctx, simulator.ExporterConfig{Endpoint: "127.0.0.1:4317", Insecure: true})
	if err != nil {
		log.Fatal(err)
	}
	res, err := simulator.SimulateBackfill(ctx, cfg, r, exp, simulator.EmitterOptions{}, 36*time.Hour)
	if err != nil {
		log.Fatal(err) // includes spans that failed to export or were dropped
	}
	for _, tr := range res.Truth {
		// compare with the stored row of tr.TxnID: tr.Outcome, tr.Cause
		_ = tr
	}
	fmt.Println(len(res.Truth) > 0)
}
