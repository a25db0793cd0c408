package anomaly

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestMedianAndMAD(t *testing.T) {
	for _, tc := range []struct {
		in       []float64
		med, mad float64
	}{
		{nil, 0, 0},
		{[]float64{3}, 3, 0},
		{[]float64{5, 1, 3}, 3, 2},
		{[]float64{4, 1, 3, 2}, 2.5, 1},
		{[]float64{1, 1, 1, 1, 100}, 1, 0}, // one outlier moves neither
	} {
		in := append([]float64(nil), tc.in...)
		m := Median(tc.in)
		if m != tc.med {
			t.Errorf("Median(%v) = %v, want %v", tc.in, m, tc.med)
		}
		if got := MAD(tc.in, m); got != tc.mad {
			t.Errorf("MAD(%v) = %v, want %v", tc.in, got, tc.mad)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Fatalf("Median sorted its input")
			}
		}
	}
}

func TestBaselineHours(t *testing.T) {
	b := time.Date(2026, 11, 24, 14, 35, 0, 0, time.UTC) // a Tuesday
	got := BaselineHours(b, 3)
	want := []time.Time{
		time.Date(2026, 11, 17, 14, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 10, 14, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC),
	}
	if len(got) != 3 {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if !got[i].Equal(want[i]) || got[i].Weekday() != time.Tuesday {
			t.Errorf("week %d: %v, want %v", i+1, got[i], want[i])
		}
	}
}

func TestBaselineIgnoresThinSamples(t *testing.T) {
	c := Config{MinSampleVolume: 10}
	b := c.BaselineOf([]Sample{{1, 100}, {2, 100}, {3, 100}, {9, 9}, {0, 0}})
	if b.Samples != 3 || math.Abs(b.Rate-0.02) > 1e-12 || math.Abs(b.Scale-madToSigma*0.01) > 1e-12 {
		t.Errorf("baseline %+v", b)
	}
	// Rare failures: the median rate is 0, the pooled rate is not; a past
	// incident among the samples is left out.
	rare := []Sample{{0, 60}, {0, 60}, {1, 60}, {0, 60}, {2, 60}, {0, 60}, {50, 60}}
	if b := c.BaselineOf(rare); math.Abs(b.Rate-3.0/360) > 1e-12 || b.Samples != 7 {
		t.Errorf("rare baseline %+v, want rate %v", b, 3.0/360)
	}
	if b := c.BaselineOf(nil); b.Samples != 0 || b.Rate != 0 {
		t.Errorf("empty baseline %+v", b)
	}
}

func TestScoreFloorsNoise(t *testing.T) {
	c := Config{}.WithDefaults()
	base := Baseline{Rate: 0, Scale: 0, Samples: 20}
	// 2 failures of 40 over a flat zero baseline: binomial floor keeps z modest.
	s := c.ScoreOf(Point{Sample: Sample{2, 40}, Base: base})
	if !s.Judged || s.Z > 3 {
		t.Errorf("small bucket over flat baseline scored %+v", s)
	}
	// 30 of 40 is a real spike.
	if s := c.ScoreOf(Point{Sample: Sample{30, 40}, Base: base}); s.Z < c.SpikeZ {
		t.Errorf("outage scored %+v", s)
	}
	// Too little volume or baseline: not judged.
	if s := c.ScoreOf(Point{Sample: Sample{10, 10}, Base: base}); s.Judged {
		t.Error("bucket under MinVolume judged")
	}
	if s := c.ScoreOf(Point{Sample: Sample{30, 40}, Base: Baseline{Samples: 2}}); s.Judged {
		t.Error("bucket with a thin baseline judged")
	}
}

var t0 = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)

func series(rates []float64, total uint64, base float64) []Point {
	ps := make([]Point, len(rates))
	for i, r := range rates {
		ps[i] = Point{
			Bucket: t0.Add(time.Duration(i) * 5 * time.Minute),
			Sample: Sample{Failures: uint64(math.Round(r * float64(total))), Total: total},
			Base:   Baseline{Rate: base, Scale: 0.005, Samples: 24},
		}
	}
	return ps
}

func at(i int) time.Time { return t0.Add(time.Duration(i) * 5 * time.Minute) }

func TestSpikeOpensAndClosesWithHysteresis(t *testing.T) {
	c := Config{}.WithDefaults()
	r := []float64{.01, .01, .01, .60, .70, .02, .65, .01, .01, .01, .01, .01}
	eps := c.Detect(series(r, 200, 0.01), nil)
	if len(eps) != 1 {
		t.Fatalf("episodes %+v", eps)
	}
	e := eps[0]
	// The dip at 5 is shorter than CloseBuckets: one episode, closing at 7.
	if e.Kind != KindSpike || !e.Start.Equal(at(3)) || !e.End.Equal(at(7)) || e.Open() {
		t.Errorf("episode %+v", e)
	}
	if e.Failures != 120+140+4+130 || e.Total != 800 || math.Abs(e.Peak-0.70) > 1e-9 || e.Severity() != "critical" {
		t.Errorf("episode stats %+v severity %s", e, e.Severity())
	}
}

func TestStepChange(t *testing.T) {
	c := Config{}.WithDefaults()
	// A sustained rise of 5 points: too small for a spike, a step after 3 buckets.
	r := []float64{.02, .02, .02, .07, .07, .07, .07, .07, .07}
	ps := series(r, 1000, 0.02)
	for i := range ps {
		ps[i].Base.Scale = 0.01 // z = 5: above StepZ, below SpikeZ
	}
	eps := c.Detect(ps, nil)
	if len(eps) != 1 || eps[0].Kind != KindStep || !eps[0].Start.Equal(at(3)) || !eps[0].Open() || !eps[0].Last.Equal(at(8)) {
		t.Fatalf("episodes %+v", eps)
	}
	if s := eps[0].Severity(); s != "medium" {
		t.Errorf("severity %s", s)
	}
	// Two elevated buckets then normal: nothing.
	ps = series([]float64{.02, .07, .07, .02, .02, .02}, 1000, 0.02)
	for i := range ps {
		ps[i].Base.Scale = 0.01
	}
	if eps := c.Detect(ps, nil); len(eps) != 0 {
		t.Errorf("short rise gave %+v", eps)
	}
}

func TestOpenEpisodeContinues(t *testing.T) {
	c := Config{}.WithDefaults()
	prev := &Episode{Start: t0.Add(-time.Hour), Kind: KindSpike, Baseline: 0.01, Peak: 0.5, Failures: 100, Total: 200}
	eps := c.Detect(series([]float64{.5, .5, .01, .01, .01}, 200, 0.01), prev)
	if len(eps) != 1 || !eps[0].Start.Equal(prev.Start) || !eps[0].End.Equal(at(2)) || eps[0].Failures != 300 {
		t.Fatalf("episodes %+v", eps)
	}
	// Already normal: the open episode closes at the first calm bucket run.
	eps = c.Detect(series([]float64{.01, .01, .01}, 200, 0.01), prev)
	if len(eps) != 1 || !eps[0].End.Equal(at(0)) {
		t.Fatalf("episodes %+v", eps)
	}
}

func TestUnjudgedBucketsAreSkipped(t *testing.T) {
	c := Config{}.WithDefaults()
	ps := series([]float64{.01, .9, .9, .9, .01}, 200, 0.01)
	for i := range ps {
		ps[i].Total, ps[i].Failures = 5, ps[i].Failures/40 // below MinVolume
	}
	if eps := c.Detect(ps, nil); len(eps) != 0 {
		t.Errorf("thin buckets opened %+v", eps)
	}
}

// Quiet traffic: binomial noise around a steady rate, baselines from the same
// process. Over thousands of buckets nothing may open.
func TestQuietNoiseOpensNothing(t *testing.T) {
	c := Config{}.WithDefaults()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, rate := range []float64{0.001, 0.02, 0.1, 0.3} {
		for _, vol := range []uint64{25, 80, 400, 5000} {
			draw := func() Sample {
				var f uint64
				for range vol {
					if rng.Float64() < rate {
						f++
					}
				}
				return Sample{f, vol}
			}
			var ps []Point
			for i := range 300 {
				samples := make([]Sample, 48)
				for j := range samples {
					samples[j] = draw()
				}
				ps = append(ps, Point{Bucket: at(i), Sample: draw(), Base: c.BaselineOf(samples)})
			}
			if eps := c.Detect(ps, nil); len(eps) != 0 {
				t.Errorf("rate %v volume %d: %d episodes, first %+v", rate, vol, len(eps), eps[0])
			}
		}
	}
}

func TestAttributeKeepsTheConcentratedSlice(t *testing.T) {
	ep := func(f, n uint64, start int) Episode {
		return Episode{Start: at(start), Last: at(start + 5), Baseline: 0.01, Failures: f, Total: n}
	}
	eps := []SliceEpisode{
		{Slice{"gateway", "all", ""}, ep(1010, 4000, 0)},         // excess 970
		{Slice{"gateway", "gateway", "gw-2"}, ep(1000, 1000, 0)}, // 990: the place
		{Slice{"gateway", "region", "east"}, ep(210, 800, 1)},    // 202: a symptom
		{Slice{"gateway", "issuer", "iss-3"}, ep(60, 200, 0)},    // symptom
		{Slice{"account", "issuer", "iss-9"}, ep(50, 100, 0)},    // no overall episode: kept
		{Slice{"gateway", "region", "west"}, ep(300, 300, 40)},   // no overlap: kept
	}
	got := Attribute(eps, "all", 0.5)
	var names []string
	for _, e := range got {
		names = append(names, e.Cause+"/"+e.Dimension+"/"+e.Value)
	}
	want := []string{"gateway/all/", "gateway/gateway/gw-2", "account/issuer/iss-9", "gateway/region/west"}
	if len(names) != len(want) {
		t.Fatalf("kept %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("kept %v, want %v", names, want)
		}
	}
}

func TestMildBucketDoesNotDelayTheEnd(t *testing.T) {
	c := Config{}.WithDefaults()
	ps := series([]float64{.01, .8, .8, .01, .01, .01, .01, .01}, 80, 0.01)
	ps[4].Failures = 3 // 3.75 %: above CloseZ, below an elevated bucket
	eps := c.Detect(ps, nil)
	if len(eps) != 1 || !eps[0].End.Equal(at(3)) || !eps[0].Last.Equal(at(6)) {
		t.Fatalf("episodes %+v", eps)
	}
}
