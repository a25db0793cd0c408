// Package anomaly is the pure math of incident detection: robust baselines
// (median and MAD of the same hour of the week in previous weeks), a score
// for one bucket against its baseline with a binomial noise floor, and a
// detector with hysteresis that turns a series of buckets into episodes
// (spikes and step changes that open, and close when the signal has been
// normal for a while). Nothing here does I/O.
package anomaly

import (
	"math"
	"slices"
	"time"
)

// Median of xs (0 for none). xs is not modified.
func Median(xs []float64) float64 { return MedianInPlace(slices.Clone(xs)) }

// MedianInPlace is Median, sorting xs instead of a copy (a scratch buffer
// reused per point, where a copy per call was a trend's largest allocation).
func MedianInPlace(s []float64) float64 {
	if len(s) == 0 {
		return 0
	}
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// MAD is the median absolute deviation of xs from m.
func MAD(xs []float64, m float64) float64 {
	d := make([]float64, len(xs))
	for i, x := range xs {
		d[i] = math.Abs(x - m)
	}
	return Median(d)
}

// madToSigma turns a MAD into a standard-deviation estimate for normal data.
const madToSigma = 1.4826

// Week is the baseline period.
const Week = 7 * 24 * time.Hour

// BaselineHours returns, for a bucket, the start of the same hour of the
// week in each of the previous weeks (most recent first). Every bucket of
// those hours is a baseline sample.
func BaselineHours(bucket time.Time, weeks int) []time.Time {
	h := bucket.UTC().Truncate(time.Hour)
	out := make([]time.Time, 0, weeks)
	for k := 1; k <= weeks; k++ {
		out = append(out, h.Add(-time.Duration(k)*Week))
	}
	return out
}

// Sample is one bucket of a series: failures of the cause among all
// transactions of the slice.
type Sample struct {
	Failures, Total uint64
}

// Rate is Failures/Total (0 when empty).
func (s Sample) Rate() float64 {
	if s.Total == 0 {
		return 0
	}
	return float64(s.Failures) / float64(s.Total)
}

// Baseline of one bucket.
type Baseline struct {
	Rate    float64 // pooled rate of the samples, outliers left out
	Scale   float64 // 1.4826 × MAD of the rates
	Samples int     // samples that had enough volume
}

// Config tunes detection. Zero fields take Defaults' values.
type Config struct {
	// MinVolume: a bucket with fewer transactions is not judged.
	MinVolume uint64 `yaml:"min_volume"`
	// MinFailures: an episode needs at least this many failures to open.
	MinFailures uint64 `yaml:"min_failures"`
	// MinSampleVolume: a baseline bucket counts if it had this many transactions.
	MinSampleVolume uint64 `yaml:"min_sample_volume"`
	// MinSamples: a baseline needs this many samples, else the bucket is not judged.
	MinSamples int `yaml:"min_samples"`
	// SpikeZ opens an episode on one bucket.
	SpikeZ float64 `yaml:"spike_z"`
	// StepZ opens an episode after StepBuckets consecutive buckets above it.
	StepZ       float64 `yaml:"step_z"`
	StepBuckets int     `yaml:"step_buckets"`
	// CloseZ: an episode closes after CloseBuckets consecutive buckets below it.
	CloseZ       float64 `yaml:"close_z"`
	CloseBuckets int     `yaml:"close_buckets"`
	// MinDelta is the least rise of the rate over the baseline that counts
	// (absolute, 0.03 = 3 percentage points).
	MinDelta float64 `yaml:"min_delta"`
	// MinSigma floors the noise scale.
	MinSigma float64 `yaml:"min_sigma"`
}

// Defaults are tuned for 5-minute buckets.
var Defaults = Config{
	MinVolume: 20, MinFailures: 5, MinSampleVolume: 10, MinSamples: 6,
	SpikeZ: 6, StepZ: 3, StepBuckets: 3, CloseZ: 2, CloseBuckets: 3,
	MinDelta: 0.03, MinSigma: 0.002,
}

// WithDefaults fills zero fields from Defaults.
func (c Config) WithDefaults() Config {
	d := Defaults
	if c.MinVolume == 0 {
		c.MinVolume = d.MinVolume
	}
	if c.MinFailures == 0 {
		c.MinFailures = d.MinFailures
	}
	if c.MinSampleVolume == 0 {
		c.MinSampleVolume = d.MinSampleVolume
	}
	if c.MinSamples == 0 {
		c.MinSamples = d.MinSamples
	}
	if c.SpikeZ == 0 {
		c.SpikeZ = d.SpikeZ
	}
	if c.StepZ == 0 {
		c.StepZ = d.StepZ
	}
	if c.StepBuckets == 0 {
		c.StepBuckets = d.StepBuckets
	}
	if c.CloseZ == 0 {
		c.CloseZ = d.CloseZ
	}
	if c.CloseBuckets == 0 {
		c.CloseBuckets = d.CloseBuckets
	}
	if c.MinDelta == 0 {
		c.MinDelta = d.MinDelta
	}
	if c.MinSigma == 0 {
		c.MinSigma = d.MinSigma
	}
	return c
}

// BaselineOf computes the baseline from samples, ignoring those with fewer
// than MinSampleVolume transactions.
func (c Config) BaselineOf(samples []Sample) Baseline {
	c = c.WithDefaults()
	rates := make([]float64, 0, len(samples))
	kept := make([]Sample, 0, len(samples))
	var f, n uint64
	for _, s := range samples {
		if s.Total >= c.MinSampleVolume {
			rates = append(rates, s.Rate())
			kept = append(kept, s)
			f += s.Failures
			n += s.Total
		}
	}
	if len(rates) == 0 {
		return Baseline{}
	}
	m := Median(rates)
	scale := madToSigma * MAD(rates, m)
	// The rate is pooled over the samples that are not outliers: the median
	// of per-bucket rates is quantised (and biased low) when failures are
	// rare, the pooled rate is not, and dropping outliers (a past incident in
	// the baseline weeks) keeps it robust.
	pooled := float64(f) / float64(n)
	var pf, pn uint64
	for _, s := range kept {
		noise := math.Sqrt(math.Max(pooled, 1/float64(s.Total)) * (1 - pooled) / float64(s.Total))
		if s.Rate() <= m+3*math.Max(scale, noise) {
			pf += s.Failures
			pn += s.Total
		}
	}
	rate := m
	if pn > 0 {
		rate = float64(pf) / float64(pn)
	}
	return Baseline{Rate: rate, Scale: scale, Samples: len(rates)}
}

// Point is one bucket of a series with its baseline.
type Point struct {
	Bucket time.Time
	Sample
	Base Baseline
}

// Score is how far a point stands above its baseline.
type Score struct {
	Judged bool    // enough volume and baseline to say anything
	Z      float64 // (rate − baseline) / noise
	Delta  float64 // rate − baseline
}

// ScoreOf scores p. The noise is the larger of the baseline's spread, the
// binomial standard error of a rate at the baseline over this bucket's
// volume, and MinSigma, so that a small bucket or a perfectly flat baseline
// cannot make a few failures look dramatic.
func (c Config) ScoreOf(p Point) Score {
	c = c.WithDefaults()
	if p.Total < c.MinVolume || p.Base.Samples < c.MinSamples {
		return Score{}
	}
	n := float64(p.Total)
	q := math.Min(math.Max(p.Base.Rate, 1/n), 0.5)
	sigma := math.Max(math.Max(p.Base.Scale, math.Sqrt(q*(1-q)/n)), c.MinSigma)
	d := p.Rate() - p.Base.Rate
	return Score{Judged: true, Z: d / sigma, Delta: d}
}

// Kinds of episode.
const (
	KindSpike = "spike"
	KindStep  = "step"
)

// Episode is one abnormal stretch of a series.
type Episode struct {
	Start time.Time
	// End is the start of the first bucket of the normal run that closed it;
	// zero while open.
	End  time.Time
	Kind string
	// Baseline is the mean baseline rate and Observed the pooled rate over the
	// abnormal buckets; Peak is the highest bucket rate, PeakZ its score.
	Baseline, Observed, Peak, PeakZ float64
	Failures, Total                 uint64
	// Last is the last bucket looked at (the evaluation end).
	Last time.Time
}

// Open reports whether the episode had not closed by the end of the series.
func (e Episode) Open() bool { return e.End.IsZero() }

// Severity grades an episode by the rise of the peak over the baseline.
func (e Episode) Severity() string {
	switch x := e.Peak - e.Baseline; {
	case x >= 0.25:
		return "critical"
	case x >= 0.10:
		return "high"
	case x >= 0.05:
		return "medium"
	}
	return "low"
}

// Detect runs the detector over points in time order (one series, each
// bucket at most once; missing buckets are simply absent). It starts in the
// normal state unless open is given: an episode already open before the
// first point, which is then continued (its Start kept).
//
// A bucket is elevated when it is judged, its rate rises at least MinDelta
// above the baseline and its score reaches StepZ; it is a spike when the score
// also reaches SpikeZ and it has MinFailures failures. An episode opens on a
// spike, or on StepBuckets consecutive elevated buckets (starting at the
// first of them) with MinFailures failures between them. It closes after
// CloseBuckets judged buckets scoring below CloseZ or rising less than
// MinDelta/2, with no elevated bucket between them (buckets between the
// close and open thresholds, and unjudged ones, neither count nor break the
// run); it ends at the first of them.
func (c Config) Detect(points []Point, open *Episode) []Episode {
	c = c.WithDefaults()
	var out []Episode
	var cur *Episode
	if open != nil {
		e := *open
		e.End = time.Time{}
		cur = &e
	}
	var elevated []Point // normal state: current run of elevated buckets
	var calm []Point     // open state: current run of normal (and neutral) buckets
	calmN := 0           // the normal ones among them
	var baseSum float64
	var baseN int
	if cur != nil && cur.Total > 0 {
		baseSum, baseN = cur.Baseline, 1
	}
	absorb := func(ps ...Point) {
		for _, p := range ps {
			s := c.ScoreOf(p)
			cur.Failures += p.Failures
			cur.Total += p.Total
			baseSum += p.Base.Rate
			baseN++
			if p.Rate() > cur.Peak || cur.Peak == 0 {
				cur.Peak = p.Rate()
			}
			if s.Z > cur.PeakZ {
				cur.PeakZ = s.Z
			}
		}
		if baseN > 0 {
			cur.Baseline = baseSum / float64(baseN)
		}
		if cur.Total > 0 {
			cur.Observed = float64(cur.Failures) / float64(cur.Total)
		}
	}
	for _, p := range points {
		s := c.ScoreOf(p)
		if !s.Judged {
			continue
		}
		if cur == nil {
			isElevated := s.Delta >= c.MinDelta && s.Z >= c.StepZ
			if !isElevated {
				elevated = elevated[:0]
				continue
			}
			if s.Z >= c.SpikeZ && p.Failures >= c.MinFailures {
				cur = &Episode{Start: p.Bucket, Kind: KindSpike}
				baseSum, baseN = 0, 0
				if len(elevated) > 0 { // it began a little earlier
					cur.Start = elevated[0].Bucket
					absorb(elevated...)
				}
				absorb(p)
				elevated = elevated[:0]
				calm, calmN = calm[:0], 0
				continue
			}
			elevated = append(elevated, p)
			if len(elevated) >= c.StepBuckets {
				var f uint64
				for _, e := range elevated {
					f += e.Failures
				}
				if f >= c.MinFailures {
					cur = &Episode{Start: elevated[0].Bucket, Kind: KindStep}
					baseSum, baseN = 0, 0
					absorb(elevated...)
					elevated = elevated[:0]
					calm, calmN = calm[:0], 0
				}
			}
			continue
		}
		if s.Z < c.CloseZ || s.Delta < c.MinDelta/2 {
			calm = append(calm, p)
			calmN++
			if calmN >= c.CloseBuckets {
				cur.End = calm[0].Bucket
				cur.Last = p.Bucket
				out = append(out, *cur)
				cur = nil
				calm, calmN = calm[:0], 0
			}
			continue
		}
		if len(calm) > 0 && (s.Z < c.StepZ || s.Delta < c.MinDelta) {
			// Between the close and open thresholds: neither ends a calm
			// run nor counts towards it.
			calm = append(calm, p)
			continue
		}
		absorb(calm...) // a dip inside the episode is part of it
		calm, calmN = calm[:0], 0
		absorb(p)
	}
	if cur != nil {
		if len(points) > 0 {
			cur.Last = points[len(points)-1].Bucket
		}
		out = append(out, *cur)
	}
	return out
}

// Excess is the failures of an episode above what its baseline expected.
func (e Episode) Excess() float64 {
	return float64(e.Failures) - e.Baseline*float64(e.Total)
}

// Slice names the series an episode belongs to.
type Slice struct {
	Cause, Dimension, Value string
}

// SliceEpisode is an episode of one slice.
type SliceEpisode struct {
	Slice
	Episode
}

// Attribute drops the episodes that are symptoms rather than places: when a
// cause rises overall (dimension "all"), every slice of every dimension
// rises with it, each with a part of the excess failures. An episode of a
// slice is kept when it carries at least minShare of the excess of an
// overlapping episode of the same cause overall (the failures concentrate
// there: a gateway, an issuer), or when there is no overall episode to
// compare with (the slice is too small to move the total). Overall episodes
// are always kept. Order is preserved.
func Attribute(eps []SliceEpisode, all string, minShare float64) []SliceEpisode {
	var out []SliceEpisode
	for _, e := range eps {
		if e.Dimension == all {
			out = append(out, e)
			continue
		}
		keep := true
		for _, o := range eps {
			if o.Dimension != all || o.Cause != e.Cause || !overlap(e.Episode, o.Episode) {
				continue
			}
			if x := o.Excess(); x > 0 && e.Excess() < minShare*x {
				keep = false
			}
		}
		if keep {
			out = append(out, e)
		}
	}
	return out
}

func overlap(a, b Episode) bool {
	aEnd, bEnd := a.End, b.End
	if a.Open() {
		aEnd = a.Last.Add(time.Nanosecond)
	}
	if b.Open() {
		bEnd = b.Last.Add(time.Nanosecond)
	}
	return a.Start.Before(bEnd) && b.Start.Before(aEnd)
}
