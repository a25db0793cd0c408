package simulator

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // the fleet's time zone must load on machines without a zoneinfo database
)

// Fleet is the simulated payment estate, built deterministically from the seed.
type Fleet struct {
	Location  *time.Location
	Regions   []*Region
	Gateways  []*Gateway
	Acquirers []*Acquirer
	Issuers   []*Issuer
	Merchants []*Merchant
	Terminals []*Terminal

	bySchemeIssuers map[string][]*Issuer
}

// Region is where merchants are; it decides the currency.
type Region struct {
	Name     string
	Currency string
	Weight   float64 // share of merchants
	area     string  // 4-digit area code used in merchant ids
	hk       bool    // card mix of a Hong Kong-like market
}

// Gateway is a payment gateway (service.name payment-gateway).
type Gateway struct {
	Index   int
	ID      string // pos.gateway.id, e.g. gw-1
	Host    string // server.address the terminals connect to
	Port    int
	Version string // service.version
	share   float64
}

// Acquirer is an acquiring institution; it runs the settlement of its merchants.
type Acquirer struct {
	Index int
	ID    string // pos.acquirer.id, e.g. acq-1
}

// Issuer is a card issuer (or a wallet) with its BIN ranges.
type Issuer struct {
	Index  int
	ID     string // pos.issuer.id
	Scheme string // pos.card.scheme
	Weight float64
	BINs   []BIN
}

// BIN is one BIN range of an issuer: the first 6 or 8 digits of its cards.
type BIN struct {
	BIN     string
	Funding string // credit, debit, prepaid
}

// Merchant is a card acceptor (ISO 8583 field 42).
type Merchant struct {
	Index       int
	ID          string // 15 digits, never Luhn-valid (so no PAN mask can touch it)
	Region      *Region
	MCC         string
	Gateway     *Gateway
	Acquirer    *Acquirer
	D0          bool    // settled the same day instead of T+1
	Activity    float64 // relative traffic volume
	TicketMinor int64   // median ticket in minor units
	Terminals   []*Terminal
}

// Terminal is a POS terminal (ISO 8583 field 41).
type Terminal struct {
	Index          int
	ID             string // 8 digits
	Merchant       *Merchant
	Model          string // pos.terminal.model
	AppVersion     string // service.version
	Network        string // network.connection.type: wifi, cell, wired
	NetworkSubtype string // network.connection.subtype for cell: lte, nr
	FirstBatch     int    // batch number of the first batch of the run
}

var regionCatalog = map[string]Region{
	"shanghai":  {Currency: "CNY", Weight: 0.20, area: "2900"},
	"beijing":   {Currency: "CNY", Weight: 0.18, area: "1000"},
	"guangzhou": {Currency: "CNY", Weight: 0.14, area: "5810"},
	"shenzhen":  {Currency: "CNY", Weight: 0.14, area: "5840"},
	"chengdu":   {Currency: "CNY", Weight: 0.10, area: "6510"},
	"hangzhou":  {Currency: "CNY", Weight: 0.10, area: "3310"},
	"wuhan":     {Currency: "CNY", Weight: 0.09, area: "5210"},
	"hongkong":  {Currency: "HKD", Weight: 0.05, area: "0852", hk: true},
	"macau":     {Currency: "MOP", Weight: 0.03, area: "0853", hk: true},
}

var mccCatalog = []struct {
	mcc    string
	weight float64
	ticket int64 // median ticket, minor units
}{
	{"5411", 0.26, 6500},   // grocery, supermarkets
	{"5812", 0.18, 12000},  // restaurants
	{"5814", 0.12, 4500},   // fast food
	{"5912", 0.08, 8500},   // pharmacies
	{"5541", 0.08, 30000},  // fuel
	{"5311", 0.08, 38000},  // department stores
	{"5651", 0.09, 42000},  // clothing
	{"5732", 0.05, 150000}, // electronics
	{"7011", 0.06, 68000},  // hotels
}

var terminalModels = choices("PAX A920", 0.30, "PAX A8900", 0.10, "Newland N910", 0.20, "Sunmi P2", 0.15,
	"Centerm K9", 0.10, "Landi A8", 0.15)
var appVersions = choices("4.2.1", 0.55, "4.1.3", 0.30, "3.9.8", 0.15)
var networkTypes = choices("wifi", 0.45, "cell", 0.40, "wired", 0.15)

// BuildFleet builds the fleet described by cfg, deterministically from cfg.Seed.
func BuildFleet(cfg *Config) (*Fleet, error) {
	loc, err := time.LoadLocation(cfg.Fleet.Timezone)
	if err != nil {
		return nil, fmt.Errorf("fleet.timezone: %v", err)
	}
	fc := cfg.Fleet
	f := &Fleet{Location: loc, bySchemeIssuers: map[string][]*Issuer{}}
	r := newRNG(mix(cfg.Seed, hashString("fleet")))

	for _, name := range fc.Regions {
		reg, ok := regionCatalog[name]
		if !ok {
			reg = Region{Currency: "CNY", Weight: 0.08, area: fmt.Sprintf("%04d", 7000+int(hashString(name)%2000))}
		}
		reg.Name = name
		f.Regions = append(f.Regions, &reg)
	}
	for i := 0; i < fc.Gateways; i++ {
		g := &Gateway{Index: i, ID: fmt.Sprintf("gw-%d", i+1), Port: 443,
			Version: fmt.Sprintf("2.%d.%d", 10+r.intn(6), r.intn(10))}
		g.Host = g.ID + ".pay.example.net"
		// Gateways carry unequal shares of merchants: gw-1 is the largest.
		g.share = 1 / float64(i+1)
		f.Gateways = append(f.Gateways, g)
	}
	for i := 0; i < fc.Acquirers; i++ {
		f.Acquirers = append(f.Acquirers, &Acquirer{Index: i, ID: fmt.Sprintf("acq-%d", i+1)})
	}
	f.buildIssuers(&r, fc.Issuers)

	gwWeights := make([]float64, len(f.Gateways))
	for i, g := range f.Gateways {
		gwWeights[i] = g.share
	}
	regWeights := make([]float64, len(f.Regions))
	for i, reg := range f.Regions {
		regWeights[i] = reg.Weight
	}
	mccWeights := make([]float64, len(mccCatalog))
	for i, m := range mccCatalog {
		mccWeights[i] = m.weight
	}
	usedTID, usedMID := map[string]bool{}, map[string]bool{}
	for i := 0; i < fc.Merchants; i++ {
		m := &Merchant{Index: i}
		m.Region = f.Regions[r.pick(regWeights)]
		mc := mccCatalog[r.pick(mccWeights)]
		m.MCC = mc.mcc
		m.TicketMinor = int64(float64(mc.ticket) * r.lognormal(0, 0.25))
		m.Gateway = f.Gateways[r.pick(gwWeights)]
		m.Acquirer = f.Acquirers[r.intn(len(f.Acquirers))]
		m.D0 = r.chance(fc.D0Share)
		m.Activity = math.Min(4, math.Max(0.25, r.lognormal(-0.125, 0.5)))
		for k := 0; ; k++ {
			m.ID = merchantID(m.Region.area, m.MCC, i+1+k*7919)
			if !usedMID[m.ID] {
				break
			}
		}
		usedMID[m.ID] = true
		f.Merchants = append(f.Merchants, m)
		for j := 0; j < fc.TerminalsPerMerchant; j++ {
			t := &Terminal{Index: len(f.Terminals), Merchant: m}
			for {
				t.ID = fmt.Sprintf("%08d", 10000000+r.intn(90000000))
				if !usedTID[t.ID] {
					break
				}
			}
			usedTID[t.ID] = true
			t.Model = terminalModels.draw(&r)
			t.AppVersion = appVersions.draw(&r)
			t.Network = networkTypes.draw(&r)
			if t.Network == "cell" {
				t.NetworkSubtype = "lte"
				if r.chance(0.3) {
					t.NetworkSubtype = "nr"
				}
			}
			t.FirstBatch = 1 + r.intn(900)
			m.Terminals = append(m.Terminals, t)
			f.Terminals = append(f.Terminals, t)
		}
	}
	return f, nil
}

func (f *Fleet) buildIssuers(r *rng, n int) {
	// Card issuers: about 60 % UnionPay, then one each of the international
	// schemes in turn. Wallets (WeChat Pay, Alipay) are issuers of their own.
	intl := []string{"visa", "mastercard", "jcb", "amex"}
	nUP := int(math.Ceil(0.6 * float64(n)))
	if n-nUP < len(intl) && n > len(intl) {
		nUP = n - len(intl)
	}
	usedBIN := map[string]bool{}
	for i := 0; i < n; i++ {
		scheme := "unionpay"
		if i >= nUP {
			scheme = intl[(i-nUP)%len(intl)]
		}
		is := &Issuer{Index: len(f.Issuers), ID: fmt.Sprintf("iss-%02d", i+1), Scheme: scheme, Weight: r.lognormal(0, 0.6)}
		nb := 2 + r.intn(3)
		for k := 0; k < nb; k++ {
			var bin string
			for {
				bin = binFor(r, scheme)
				if !usedBIN[bin] {
					break
				}
			}
			usedBIN[bin] = true
			is.BINs = append(is.BINs, BIN{BIN: bin, Funding: fundingFor(r, scheme)})
		}
		f.Issuers = append(f.Issuers, is)
	}
	f.Issuers = append(f.Issuers,
		&Issuer{Index: len(f.Issuers), ID: "iss-wechatpay", Scheme: "wechat", Weight: 1},
		&Issuer{Index: len(f.Issuers) + 1, ID: "iss-alipay", Scheme: "alipay", Weight: 1})
	for _, is := range f.Issuers {
		f.bySchemeIssuers[is.Scheme] = append(f.bySchemeIssuers[is.Scheme], is)
	}
}

func digits(r *rng, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteByte(byte('0' + r.intn(10)))
	}
	return b.String()
}

func binFor(r *rng, scheme string) string {
	switch scheme {
	case "unionpay":
		return "62" + digits(r, 6)
	case "visa":
		return "4" + digits(r, 7)
	case "mastercard":
		return "5" + string(byte('1'+r.intn(5))) + digits(r, 6)
	case "jcb":
		return "35" + string(byte('2'+r.intn(7))) + digits(r, 3)
	case "amex":
		return []string{"34", "37"}[r.intn(2)] + digits(r, 4)
	}
	return digits(r, 6)
}

func fundingFor(r *rng, scheme string) string {
	switch scheme {
	case "unionpay":
		return choices("debit", 0.65, "credit", 0.33, "prepaid", 0.02).draw(r)
	case "visa", "mastercard":
		return choices("credit", 0.70, "debit", 0.28, "prepaid", 0.02).draw(r)
	}
	return "credit"
}

// merchantID builds a 15-digit merchant number (898 + area + MCC + sequence)
// whose last digit is chosen so that it never passes the Luhn check: the
// collector masks Luhn-valid 13-19 digit strings as card numbers.
func merchantID(area, mcc string, seq int) string {
	id := fmt.Sprintf("898%s%s%04d", area, mcc, seq%10000)
	if luhnValid(id) {
		last := (id[len(id)-1]-'0'+1)%10 + '0'
		id = id[:len(id)-1] + string(last)
	}
	return id
}

func luhnValid(s string) bool {
	sum := 0
	double := false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// Merchant returns the merchant with the given id.
func (f *Fleet) Merchant(id string) *Merchant {
	for _, m := range f.Merchants {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// Terminal returns the terminal with the given id.
func (f *Fleet) Terminal(id string) *Terminal {
	for _, t := range f.Terminals {
		if t.ID == id {
			return t
		}
	}
	return nil
}

// BINList returns every BIN of the fleet's issuers, sorted.
func (f *Fleet) BINList() []string {
	var out []string
	for _, is := range f.Issuers {
		for _, b := range is.BINs {
			out = append(out, b.BIN)
		}
	}
	sort.Strings(out)
	return out
}
