package simulator

import (
	"math"
	"time"
)

// rng is a splitmix64 generator: small, allocation-free and deterministic.
// Every independent stream (a terminal's arrivals, one transaction, one batch
// close, one scenario draw) gets its own rng seeded by mixing the run seed with
// the stream's identity, so that changing one part of a run (a scenario) never
// shifts the random numbers of another part.
type rng struct{ s uint64 }

func newRNG(seed uint64) rng { return rng{s: seed} }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return fmix(r.s)
}

// fmix is the splitmix64 output function.
func fmix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// mix folds values into one well-distributed 64-bit key.
func mix(vals ...uint64) uint64 {
	h := uint64(0x6a09e667f3bcc909)
	for _, v := range vals {
		h = fmix(h ^ fmix(v+0x9e3779b97f4a7c15))
	}
	return h
}

// hashString is FNV-1a over s.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// float returns a uniform number in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// intn returns a number in [0, n).
func (r *rng) intn(n int) int {
	if n <= 1 {
		return 0
	}
	return int(r.next() % uint64(n))
}

// dur returns a uniform duration in [a, b).
func (r *rng) dur(a, b time.Duration) time.Duration {
	if b <= a {
		return a
	}
	return a + time.Duration(r.float()*float64(b-a))
}

// normal returns a standard normal variate (Box-Muller).
func (r *rng) normal() float64 {
	u1 := r.float()
	if u1 < 1e-300 {
		u1 = 1e-300
	}
	u2 := r.float()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// lognormal returns exp(mu + sigma*N(0,1)).
func (r *rng) lognormal(mu, sigma float64) float64 { return math.Exp(mu + sigma*r.normal()) }

// exp returns an exponential variate with the given rate (events per unit).
func (r *rng) exp(rate float64) float64 { return -math.Log(1-r.float()) / rate }

// chance reports whether an event of probability p happens.
func (r *rng) chance(p float64) bool { return p > 0 && r.float() < p }

// pick returns an index drawn with the given (not necessarily normalised) weights.
func (r *rng) pick(weights []float64) int {
	var sum float64
	for _, w := range weights {
		sum += w
	}
	if sum <= 0 {
		return 0
	}
	x := r.float() * sum
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// choice is a weighted list of strings.
type choice struct {
	vals    []string
	weights []float64
}

func (c choice) draw(r *rng) string { return c.vals[r.pick(c.weights)] }

func choices(pairs ...any) choice {
	var c choice
	for i := 0; i+1 < len(pairs); i += 2 {
		c.vals = append(c.vals, pairs[i].(string))
		c.weights = append(c.weights, pairs[i+1].(float64))
	}
	return c
}
