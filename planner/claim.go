package planner

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/feedbatch/feedbatch/store"
)

// claim is one planner's ownership of a run.json: the ETag of the record as
// this planner last wrote it. Every write of the record is a store.Swap on
// that ETag, so a planner whose record was taken over (its lease ran out
// while it was paused) fails its next write with ErrClaimLost instead of
// overwriting the new owner's record.
type claim struct {
	st    store.Store
	key   string
	etag  string
	lease time.Duration
	now   func() time.Time
	// renewed is when the record was last written by this planner.
	renewed time.Time
}

// newOwner is a fresh owner token for Record.Owner. It makes every owner's
// record bytes differ, so an ETag that is a content hash (S3's MD5) never
// repeats across owners.
func newOwner() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// createClaim claims rec's key if it does not exist yet.
func createClaim(ctx context.Context, st store.Store, rec *Record, lease time.Duration, now func() time.Time) (*claim, error) {
	c := &claim{st: st, key: rec.Key(), lease: lease, now: now}
	if err := c.swap(ctx, rec); err != nil {
		return nil, err
	}
	return c, nil
}

// takeClaim replaces the record read with ETag etag by rec (a takeover or
// a replan). It fails with store.ErrChanged if the record changed since.
func takeClaim(ctx context.Context, st store.Store, rec *Record, etag string, lease time.Duration, now func() time.Time) (*claim, error) {
	c := &claim{st: st, key: rec.Key(), etag: etag, lease: lease, now: now}
	if err := c.swap(ctx, rec); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *claim) swap(ctx context.Context, rec *Record) error {
	t := c.now()
	rec.UpdatedAt = t.UTC()
	b, err := encodeRecord(rec)
	if err != nil {
		return err
	}
	etag, err := c.st.Swap(ctx, c.key, bytes.NewReader(b), c.etag, &store.PutOptions{ContentType: "application/json"})
	if err != nil {
		return fmt.Errorf("write %s: %w", c.key, err)
	}
	c.etag, c.renewed = etag, t
	return nil
}

// write saves rec if this planner still owns the record, renewing the lease.
func (c *claim) write(ctx context.Context, rec *Record) error {
	err := c.swap(ctx, rec)
	if errors.Is(err, store.ErrChanged) {
		return c.lost(ctx)
	}
	return err
}

// lost describes who holds the record now.
func (c *claim) lost(ctx context.Context) error {
	cur, err := ReadRecord(ctx, c.st, c.key)
	if err != nil {
		return fmt.Errorf("%w (%s changed; %v)", ErrClaimLost, c.key, err)
	}
	return fmt.Errorf("%w: %s is now %s by planner %s (updated %s); this planner last wrote it %s ago (lease %s) and stopped",
		ErrClaimLost, c.key, cur.State, cur.Owner, cur.UpdatedAt.Format(time.RFC3339), c.now().Sub(c.renewed).Round(time.Second), c.lease)
}

// readForSwap reads the record at key with the ETag to replace it with.
// The ETag is read first: if the record changes between the two reads, a
// Swap on the ETag fails rather than replacing a record never read.
func readForSwap(ctx context.Context, st store.Store, key string) (*Record, string, error) {
	info, err := st.Stat(ctx, key)
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", key, err)
	}
	rec, err := ReadRecord(ctx, st, key)
	if err != nil {
		return nil, "", err
	}
	return rec, info.ETag, nil
}
