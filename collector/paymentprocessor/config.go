package paymentprocessor

import (
	"errors"
	"fmt"

	"github.com/settlewatch/settlewatch/panmask"
)

// Config is the configuration of the settlewatch_payment processor.
//
//	processors:
//	  settlewatch_payment:
//	    mask_pans: true   # default; false also needs allow_unmasked_pans_i_understand_the_risk
//	    keep_first: 6     # 0..6 leading digits of a PAN left in clear
//	    keep_last: 4      # 0..4 trailing digits left in clear
//	    normalize: true   # clean the pos.* payment attributes
type Config struct {
	// MaskPANs masks every card number (13–19 Luhn-valid digits) in every
	// string of every span, resource, scope, event and link. Default true.
	MaskPANs bool `mapstructure:"mask_pans"`
	// AllowUnmaskedPANs must be set as well to turn MaskPANs off: storing
	// full card numbers must be a deliberate decision.
	AllowUnmaskedPANs bool `mapstructure:"allow_unmasked_pans_i_understand_the_risk"`
	// KeepFirst is how many leading digits of a PAN stay in clear (0..6, default 6).
	KeepFirst int `mapstructure:"keep_first"`
	// KeepLast is how many trailing digits of a PAN stay in clear (0..4, default 4).
	KeepLast int `mapstructure:"keep_last"`
	// Normalize trims, case-folds and type-fixes the pos.* attributes of the
	// telemetry contract and flags invalid ones in settlewatch.invalid. Default true.
	Normalize bool `mapstructure:"normalize"`
}

func createDefaultConfig() *Config {
	return &Config{
		MaskPANs:  true,
		KeepFirst: panmask.MaxKeepFirst,
		KeepLast:  panmask.MaxKeepLast,
		Normalize: true,
	}
}

// Validate reports every problem of the configuration at once.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.KeepFirst < 0 || cfg.KeepFirst > panmask.MaxKeepFirst {
		errs = append(errs, fmt.Errorf("keep_first must be between 0 and %d (the telemetry contract allows at most the first %d digits of a card number in clear), got %d",
			panmask.MaxKeepFirst, panmask.MaxKeepFirst, cfg.KeepFirst))
	}
	if cfg.KeepLast < 0 || cfg.KeepLast > panmask.MaxKeepLast {
		errs = append(errs, fmt.Errorf("keep_last must be between 0 and %d (the telemetry contract allows at most the last %d digits of a card number in clear), got %d",
			panmask.MaxKeepLast, panmask.MaxKeepLast, cfg.KeepLast))
	}
	if !cfg.MaskPANs && !cfg.AllowUnmaskedPANs {
		errs = append(errs, errors.New("mask_pans: false would let full card numbers (PANs) through to storage; "+
			"if that is really intended, also set allow_unmasked_pans_i_understand_the_risk: true"))
	}
	return errors.Join(errs...)
}
