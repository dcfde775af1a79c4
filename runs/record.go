package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"time"

	"github.com/feedbatch/feedbatch/store"
)

// Record states (run.json's state: the submission, not the jobs' outcome).
const (
	StatePlanning  = "planning"
	StateSubmitted = "submitted"
)

// Record is run.json: what was submitted for a run or a re-run.
type Record struct {
	RunID string `json:"run_id"`
	// Rerun is k for runs/<run>/reruns/<k>/run.json, 0 for the daily run.
	Rerun int `json:"rerun,omitempty"`
	// OriginRun is the run a re-run belongs to.
	OriginRun string `json:"origin_run,omitempty"`
	State     string `json:"state"`
	// Owner is the token of the planner that holds (or last held) the
	// record; a planner taking over a stale record writes its own.
	Owner string `json:"owner,omitempty"`
	// Generation counts the times the run was planned again with Replan; it
	// is part of the job names, so a replan never adopts an earlier plan's
	// jobs.
	Generation int       `json:"generation,omitempty"`
	Engine     string    `json:"engine"`
	Queue      string    `json:"queue"`
	Root       string    `json:"root"`
	Manifest   string    `json:"manifest"`
	Shops      int64     `json:"shops"`
	Version    string    `json:"version"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// Config holds the settings the run was planned with (job definitions,
	// registry, selection, force).
	Config map[string]string `json:"config,omitempty"`
	Groups []Group           `json:"groups"`
	Jobs   []Job             `json:"jobs"`
}

// Group is a contiguous range of manifest rows that runs the same stages.
type Group struct {
	Offset int64    `json:"offset"`
	Size   int64    `json:"size"`
	Stages []string `json:"stages"`
	// OriginIndexes lists, for a re-run, the origin run's indexes of the
	// group's rows in compact form ("3,17-19"); row Offset+j is the j-th.
	OriginIndexes string `json:"origin_indexes,omitempty"`
}

// Job is one submitted Batch job: an array (Size >= 2) or a single job for
// one shop (Size 1, FEEDBATCH_INDEX=Offset).
type Job struct {
	Stage  string `json:"stage"`
	Group  int    `json:"group"`
	Shard  int    `json:"shard"`
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"`
	Name   string `json:"name"`
	JobID  string `json:"job_id,omitempty"`
	// DependsOn names the jobs (by Name) this one waits for.
	DependsOn []string `json:"depends_on,omitempty"`
}

// Array reports whether the job is an array job.
func (j Job) Array() bool { return j.Size >= 2 }

// ChildID is the Batch job id of manifest row index within this job.
func (j Job) ChildID(index int64) string {
	if !j.Array() {
		return j.JobID
	}
	return j.JobID + ":" + strconv.FormatInt(index-j.Offset, 10)
}

// Contains reports whether manifest row index runs in this job.
func (j Job) Contains(index int64) bool { return index >= j.Offset && index < j.Offset+j.Size }

// RunDir is runs/<run>.
func RunDir(run string) string { return "runs/" + run }

// RecordKey is runs/<run>/run.json.
func RecordKey(run string) string { return RunDir(run) + "/run.json" }

// RerunDir is runs/<run>/reruns/<k>.
func RerunDir(run string, k int) string { return fmt.Sprintf("%s/reruns/%d", RunDir(run), k) }

// RerunRecordKey is runs/<run>/reruns/<k>/run.json.
func RerunRecordKey(run string, k int) string { return RerunDir(run, k) + "/run.json" }

// Key is where this record lives.
func (r *Record) Key() string {
	if r.Rerun > 0 {
		return RerunRecordKey(r.OriginRun, r.Rerun)
	}
	return RecordKey(r.RunID)
}

// ManifestDir is the directory of the record's manifest (results live
// beside it).
func (r *Record) ManifestDir() string { return path.Dir(r.Manifest) }

// EncodeRecord is run.json's bytes for r (indented, newline-terminated).
func EncodeRecord(r *Record) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", r.Key(), err)
	}
	return append(b, '\n'), nil
}

// ReadRecord reads the run.json at key. A missing key gives an error
// matching store.ErrNotFound.
func ReadRecord(ctx context.Context, st store.Store, key string) (*Record, error) {
	rc, err := st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, err // names the key and the root
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	return &r, nil
}

// Reruns reads every re-run record of run, in order of k.
func Reruns(ctx context.Context, st store.Store, run string) ([]*Record, error) {
	var out []*Record
	for k := 1; ; k++ {
		r, err := ReadRecord(ctx, st, RerunRecordKey(run, k))
		if errors.Is(err, store.ErrNotFound) {
			// A claimed number without a record cannot happen (the record is
			// the claim), so the first gap ends the list.
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
}
