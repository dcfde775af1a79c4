// Package retry runs an operation again after failures that a later attempt
// may fix, waiting a jittered, exponentially growing delay between attempts
// and stopping as soon as the context is done.
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy says how often and how patiently to try.
type Policy struct {
	// Attempts is the number of calls at most, the first included; values
	// below 1 mean 1.
	Attempts int
	// Base is the delay before the second attempt; it doubles for each
	// further one.
	Base time.Duration
	// Max caps one delay (before jitter); 0 means no cap.
	Max time.Duration
	// Jitter adds a random share of each delay, up to Jitter*delay (0.5:
	// up to half as much again), so that many children retrying the same
	// server do not hit it in step.
	Jitter float64
	// Retryable classifies an error: true means a later attempt may
	// succeed. nil retries every error.
	Retryable func(error) bool
	// OnRetry, if set, is called before each wait with the number of the
	// attempt about to be made (2 for the first retry), the delay and the
	// error being retried (for logs and counters).
	OnRetry func(next int, delay time.Duration, err error)
}

// Delay is the wait before attempt next (2 or more), without jitter.
func (p Policy) Delay(next int) time.Duration {
	d := p.Base
	for i := 2; i < next; i++ {
		if p.Max > 0 && d >= p.Max || d > time.Duration(1<<62)/2 {
			break
		}
		d *= 2
	}
	if p.Max > 0 && d > p.Max {
		d = p.Max
	}
	return d
}

// jittered adds the policy's jitter to d.
func (p Policy) jittered(d time.Duration) time.Duration {
	if p.Jitter <= 0 || d <= 0 {
		return d
	}
	return d + time.Duration(rand.Int64N(int64(float64(d)*p.Jitter)+1))
}

// Do calls fn until it returns a nil error or an error Retryable rejects,
// the attempts are used up, or ctx is done. It returns fn's last result and
// error. When ctx ends during an attempt or a wait, the error wraps both the
// last error and ctx's cause (errors.Is matches either).
func Do[T any](ctx context.Context, p Policy, fn func(ctx context.Context) (T, error)) (T, error) {
	attempts := max(p.Attempts, 1)
	for attempt := 1; ; attempt++ {
		v, err := fn(ctx)
		if err == nil {
			return v, nil
		}
		if ctx.Err() != nil {
			// ctx ended during the attempt: say so even when fn's error
			// does not (a response that arrived before the cancel).
			if errors.Is(err, ctx.Err()) {
				return v, err
			}
			return v, fmt.Errorf("%w (not retried: %w)", err, context.Cause(ctx))
		}
		if attempt >= attempts || (p.Retryable != nil && !p.Retryable(err)) {
			return v, err
		}
		d := p.jittered(p.Delay(attempt + 1))
		if p.OnRetry != nil {
			p.OnRetry(attempt+1, d, err)
		}
		if Sleep(ctx, d) != nil {
			return v, fmt.Errorf("%w (not retried: %w)", err, context.Cause(ctx))
		}
	}
}

// Sleep waits for d or until ctx is done, whichever comes first; it returns
// ctx.Err() in the second case.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
