// Package simulator produces contract-conforming payment traffic for settlewatch:
// POS terminal, payment gateway and settlement-service traces sent through the
// OpenTelemetry Go SDK exactly as shared/contract/telemetry.md describes them.
//
// It is split in two layers:
//
//   - Generation (pure, deterministic): a Config (seed, fleet, baseline,
//     scenarios) and a time Range give a Generator whose Next method yields
//     Events in time order: a transaction attempt (Txn, with every span it
//     emits, its ids, timestamps, attributes, status, error.type and response
//     codes), a terminal's nightly batch close (BatchClose) or a settlement
//     file (SettlementFile). The same seed, config and range always give the
//     same events, down to the trace and span ids.
//   - Emission: an Emitter turns events into SDK spans with explicit
//     timestamps (so backfill can write the past) from one TracerProvider per
//     resource (pos-terminal, payment-gateway, settlement-service), with W3C
//     trace-context propagation from pos.host.request to gateway.authorize.
//
// Ground truth is computed from the generated events with an oracle that
// implements the contract's outcome and cause rules independently of the rest
// of the project (TruthRecorder); it is what a test compares the stored rows with.
package simulator

// Version is the simulator's version, reported as the instrumentation scope version.
const Version = "0.1.0"

// ScopeName is the instrumentation scope of every span the simulator emits.
const ScopeName = "github.com/settlewatch/settlewatch/simulator"
