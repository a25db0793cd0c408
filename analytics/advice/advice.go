// Package advice turns a histogram of terminal-observed authorization
// latency into timeout advice: for each candidate terminal timeout, how many
// authorizations would have timed out, and the shortest candidate that keeps
// timeouts under a target rate. Pure functions, no I/O.
package advice

import (
	"fmt"
	"slices"

	"github.com/settlewatch/settlewatch/analytics/model"
)

// DefaultCandidatesMs are the terminal timeouts considered by default (all
// are histogram bounds).
var DefaultCandidatesMs = []uint64{5000, 8000, 10000, 15000, 20000, 25000, 30000, 45000, 60000}

// DefaultTargetRate is the share of authorizations allowed to time out.
const DefaultTargetRate = 0.001

// Candidate is one candidate timeout's outcome.
type Candidate struct {
	TimeoutMs    uint64  `json:"timeout_ms"`
	WouldTimeout uint64  `json:"would_timeout"`
	Rate         float64 `json:"rate"`
	// Additional is WouldTimeout beyond the timeouts terminals already
	// reported (those would time out under any shorter timeout as well).
	Additional     uint64  `json:"additional"`
	AdditionalRate float64 `json:"additional_rate"`
}

// Advice for one gateway.
type Advice struct {
	Gateway          string      `json:"gateway"`
	Requests         uint64      `json:"requests"`
	ObservedTimeouts uint64      `json:"observed_timeouts"`
	P50Ms            float64     `json:"p50_ms"`
	P90Ms            float64     `json:"p90_ms"`
	P99Ms            float64     `json:"p99_ms"`
	P999Ms           float64     `json:"p999_ms"`
	Candidates       []Candidate `json:"candidates"`
	// RecommendedMs is the shortest candidate that adds at most the target
	// rate of timeouts to those already reported; 0 when none does.
	RecommendedMs uint64 `json:"recommended_ms"`
	Summary       string `json:"summary"`
}

// ValidateCandidates checks that every candidate is a histogram bound.
func ValidateCandidates(c []uint64) error {
	for _, ms := range c {
		if !slices.Contains(model.LatencyBoundsMs, ms) {
			return fmt.Errorf("candidate timeout %d ms: must be one of the histogram bounds %v", ms, model.LatencyBoundsMs)
		}
	}
	return nil
}

// Advise computes the advice. A request counts as "would time out" under a
// candidate when its latency is at least the candidate. Requests the
// terminals already gave up on are in the histogram at the terminals' current
// timeout: they time out under every shorter candidate too, so the target
// applies to the timeouts a candidate adds to them, and the recommendation is
// the shortest candidate that adds at most target × requests.
func Advise(gateway string, hist []uint64, observedTimeouts uint64, candidates []uint64, target float64) (Advice, error) {
	if len(candidates) == 0 {
		candidates = DefaultCandidatesMs
	}
	if target <= 0 {
		target = DefaultTargetRate
	}
	if err := ValidateCandidates(candidates); err != nil {
		return Advice{}, err
	}
	a := Advice{Gateway: gateway, ObservedTimeouts: observedTimeouts}
	for _, v := range hist {
		a.Requests += v
	}
	a.P50Ms, a.P90Ms, a.P99Ms, a.P999Ms = model.Quantile(hist, .5), model.Quantile(hist, .9), model.Quantile(hist, .99), model.Quantile(hist, .999)
	cs := slices.Clone(candidates)
	slices.Sort(cs)
	for _, ms := range cs {
		n, _ := model.AtOrAbove(hist, ms)
		c := Candidate{TimeoutMs: ms, WouldTimeout: n}
		if n > observedTimeouts {
			c.Additional = n - observedTimeouts
		}
		if a.Requests > 0 {
			c.Rate = float64(n) / float64(a.Requests)
			c.AdditionalRate = float64(c.Additional) / float64(a.Requests)
		}
		a.Candidates = append(a.Candidates, c)
		if a.RecommendedMs == 0 && a.Requests > 0 && c.AdditionalRate <= target {
			a.RecommendedMs = ms
		}
	}
	name := gateway
	if name == "" {
		name = "(unknown gateway)"
	}
	switch {
	case a.Requests == 0:
		a.Summary = fmt.Sprintf("%s: no authorizations in the range.", name)
	case a.RecommendedMs == 0:
		last := a.Candidates[len(a.Candidates)-1]
		a.Summary = fmt.Sprintf("%s: even %s would add %d timeouts (%.2f%% of %d authorizations) to the %d terminals reported, above the %.2f%% target; p99 is %s. Fix the gateway before tuning terminals.",
			name, secs(last.TimeoutMs), last.Additional, 100*last.AdditionalRate, a.Requests, observedTimeouts, 100*target, secs(uint64(a.P99Ms)))
	default:
		var c Candidate
		for _, x := range a.Candidates {
			if x.TimeoutMs == a.RecommendedMs {
				c = x
			}
		}
		a.Summary = fmt.Sprintf("%s: recommend %s: it would have timed out %d of %d authorizations (%.2f%%), %d more than the %d terminals reported (target: at most %.2f%% more); p50 %s, p99 %s, p99.9 %s.",
			name, secs(a.RecommendedMs), c.WouldTimeout, a.Requests, 100*c.Rate, c.Additional, observedTimeouts, 100*target,
			secs(uint64(a.P50Ms)), secs(uint64(a.P99Ms)), secs(uint64(a.P999Ms)))
	}
	return a, nil
}

func secs(ms uint64) string {
	if ms%1000 == 0 {
		return fmt.Sprintf("%d s", ms/1000)
	}
	return fmt.Sprintf("%.1f s", float64(ms)/1000)
}
