package loadgen

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Send exports reqs to an OTLP/gRPC endpoint from several workers; a request
// counts as sent once the server acknowledged it.
func Send(addr string, reqs []ptrace.Traces, workers int) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := ptraceotlp.NewGRPCClient(conn)
	// Marshal-free: requests are built up front, so the client's CPU is spent
	// only on encoding and sending.
	work := make(chan ptrace.Traces)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for td := range work {
				if err := exportWithRetry(client, td); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for _, r := range reqs {
		work <- r
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return fmt.Errorf("export: %w", err)
	default:
		return nil
	}
}

// exportWithRetry retries what the OTLP spec calls retryable (the memory
// limiter's Unavailable, ResourceExhausted, and DeadlineExceeded: a full
// queue holds a request until there is room, and a long ClickHouse outage
// can outlast an attempt's deadline), as SDK exporters do.
func exportWithRetry(client ptraceotlp.GRPCClient, td ptrace.Traces) error {
	req := ptraceotlp.NewExportRequestFromTraces(td)
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := client.Export(ctx, req)
		cancel()
		code := status.Code(err)
		if err == nil || (code != codes.Unavailable && code != codes.ResourceExhausted && code != codes.DeadlineExceeded) || attempt > 200 {
			return err
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 2*time.Second)
	}
}
