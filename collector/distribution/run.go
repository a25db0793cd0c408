package distribution

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/otelcol"
)

// Running is a collector of this distribution running in this process, as
// the tests of the collector, the plugin and cluster mode run it.
type Running struct {
	cancel context.CancelFunc
	done   chan error
}

// Start runs the collector with the config at uris (e.g. "file:…") and
// returns once it is running, or with the error it stopped on, or when
// startTimeout has passed.
func Start(uris []string, startTimeout time.Duration) (*Running, error) {
	col, err := otelcol.NewCollector(Settings(uris))
	if err != nil {
		return nil, fmt.Errorf("new collector: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- col.Run(ctx) }()
	deadline := time.Now().Add(startTimeout)
	for col.GetState() != otelcol.StateRunning {
		select {
		case err := <-r.done:
			cancel()
			return nil, fmt.Errorf("collector stopped during start-up: %w", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = r.Stop(startTimeout)
			return nil, fmt.Errorf("collector did not start within %v", startTimeout)
		}
	}
	return r, nil
}

// Stop shuts the collector down and returns the error its run ended with.
func (r *Running) Stop(timeout time.Duration) error {
	r.cancel()
	select {
	case err := <-r.done:
		return err
	case <-time.After(timeout):
		return fmt.Errorf("collector did not stop within %v", timeout)
	}
}
