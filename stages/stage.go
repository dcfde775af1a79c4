// Package stages is the contract between the pipeline and its stages. A stage
// is one child's work for one shop: a manifest row and the store in, outputs
// and a result record out. The list of stages and their dependencies lives in
// stages/all, so that stage packages can import this one without a cycle.
package stages

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"time"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/store"
)

// Environment variables a child reads. AWS Batch reserves every AWS_BATCH_*
// name, so the project's own overrides use the FEEDBATCH_ prefix.
const (
	// EnvRoot is the storage root URL (s3://bucket/prefix or file:///dir).
	EnvRoot = "FEEDBATCH_ROOT"
	// EnvManifest is the manifest's key under the root
	// ("runs/2026-11-23/manifest.parquet").
	EnvManifest = "FEEDBATCH_MANIFEST"
	// EnvIndex overrides the array index for a single (non-array) job.
	EnvIndex = "FEEDBATCH_INDEX"
	// EnvIndexOffset is added to the array index for shards of > 10,000 shops.
	EnvIndexOffset = "FEEDBATCH_INDEX_OFFSET"
	// EnvForce, when "1", lets a stage bypass its safety guards (re-run override).
	EnvForce = "FEEDBATCH_FORCE"
	// EnvArrayIndex is set by AWS Batch (and the local engine) on array children.
	EnvArrayIndex = "AWS_BATCH_JOB_ARRAY_INDEX"
	// EnvAttempt is set by AWS Batch: 1 for the first attempt.
	EnvAttempt = "AWS_BATCH_JOB_ATTEMPT"
	// EnvJobID is set by AWS Batch: the job's id (parent:index for children).
	EnvJobID = "AWS_BATCH_JOB_ID"
)

// Exit codes of `feedbatch stage`, the contract the job definitions' retry
// strategies match on (onExitCode).
const (
	// ExitRetryable: a transient failure (network, 5xx, throttling); retry.
	ExitRetryable = 75
	// ExitPermanent: the shop's input or config is wrong; retrying cannot help.
	ExitPermanent = 65
)

// Job is everything a stage gets for one shop.
type Job struct {
	// RunID is the day's run id (for re-runs: the origin run).
	RunID string
	// ManifestKey is the key of the manifest the row came from.
	ManifestKey string
	Row         manifest.Row
	Store       store.Store
	Log         *slog.Logger
	// Attempt is AWS_BATCH_JOB_ATTEMPT (1-based).
	Attempt int
	// Force bypasses safety guards such as the feed's drop guard.
	Force bool
	// JobID is AWS_BATCH_JOB_ID (parent:index for array children; the
	// local engine sets it too): the child records its own job id.
	JobID string
	// Config is Row.Options parsed and checked against every declared
	// option (the child's entry point fills it; see JobConfig). Stages read
	// their settings here, not from the environment.
	Config Config
}

// Stage does one shop's work for one step of the pipeline.
type Stage interface {
	// Name is the stage's name in the graph, job names and result keys.
	Name() string
	// Run does the work and fills in the result's counts. Run must be safe to
	// repeat: a second Run for the same job gives the same outputs. On error,
	// published outputs must be left as they were before Run.
	Run(ctx context.Context, job Job) (Result, error)
}

// Node is one stage of the graph and the stages it waits for (per shop).
type Node struct {
	Stage Stage
	// After names the stages whose child i must succeed before this stage's
	// child i runs (N_TO_N).
	After []string
}

// Result statuses.
const (
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// Result is the record one child leaves at ResultKey: what it did for its shop.
type Result struct {
	Stage       string    `json:"stage"`
	RunID       string    `json:"run_id"`
	ManifestKey string    `json:"manifest"`
	Index       int64     `json:"index"`
	OriginIndex int64     `json:"origin_index"`
	ShopID      string    `json:"shop_id"`
	Status      string    `json:"status"`
	Attempt     int       `json:"attempt"`
	JobID       string    `json:"job_id,omitempty"`
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at"`
	DurationMS  int64     `json:"duration_ms"`
	// ItemsIn and ItemsOut: rows read and rows written (products, feed items
	// summed over platforms, images).
	ItemsIn  int64 `json:"items_in"`
	ItemsOut int64 `json:"items_out"`
	// Dropped counts skipped items by reason ("feed google: missing price"
	// style keys: "<platform>/<reason>" for feed, "<reason>" otherwise).
	Dropped map[string]int64 `json:"dropped,omitempty"`
	// Counts are further stage-specific figures (e.g. "images_reused").
	Counts map[string]int64 `json:"counts,omitempty"`
	// Bytes written to the store.
	Bytes int64 `json:"bytes"`
	// Outputs are the store keys published.
	Outputs []string `json:"outputs,omitempty"`
	// Platforms is, for a stage that publishes per platform (feed), how
	// each platform fared: a child may publish google and meta and fail
	// naver, and still be a failed child.
	Platforms map[string]PlatformResult `json:"platforms,omitempty"`
	// Unchanged is true when the input had not changed and work was skipped.
	Unchanged bool   `json:"unchanged,omitempty"`
	Error     string `json:"error,omitempty"`
	// Permanent is true when the error is not worth retrying.
	Permanent bool `json:"permanent,omitempty"`
}

// Platform publish statuses.
const (
	PlatformPublished = "published"
	PlatformFailed    = "failed"
)

// PlatformResult is one platform's publish outcome in a Result.
type PlatformResult struct {
	// Status is PlatformPublished (also when the feed was unchanged and
	// left as published) or PlatformFailed.
	Status string `json:"status"`
	Items  int64  `json:"items,omitempty"`
	// Reason is why the platform was not published.
	Reason string `json:"reason,omitempty"`
}

// ResultKey is where the child for index writes its result record: beside
// the manifest it ran from.
func ResultKey(manifestKey, stage string, index int64) string {
	return fmt.Sprintf("%s/results/%s/%d.json", path.Dir(manifestKey), stage, index)
}

// ErrPermanent marks errors that retrying cannot fix (bad input, a guard
// refusing to publish). Check with errors.Is; create with Permanent.
var ErrPermanent = errors.New("permanent")

type permanentError struct{ err error }

func (e permanentError) Error() string   { return e.err.Error() }
func (e permanentError) Unwrap() []error { return []error{e.err, ErrPermanent} }

// Permanent marks err as not retryable. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// Permanentf is fmt.Errorf, marked permanent.
func Permanentf(format string, args ...any) error {
	return Permanent(fmt.Errorf(format, args...))
}

// ImageIndex is a shop's processed images as another stage reads them: the
// feed stage points image links at them. The image stage implements it; the
// graph (stages/all) hands its loader to the feed stage, so stages do not
// import each other.
type ImageIndex interface {
	// ImageKey returns the store key of the processed image made from the
	// source URL src, or false when there is none.
	ImageKey(src string) (key string, ok bool)
	// Len is the number of source URLs indexed.
	Len() int
}

// ImageIndexLoader loads one shop's image index. A shop without one gets an
// empty index and no error; an unreadable index is an error.
type ImageIndexLoader func(ctx context.Context, st store.Store, shopID string) (ImageIndex, error)
