package planner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/feedbatch/feedbatch/stages"
)

// Target says where and how jobs are submitted.
type Target struct {
	// Queue is the job queue name or ARN.
	Queue string
	// JobDefinitions maps a stage to its job definition; missing stages use
	// DefaultJobDefinition.
	JobDefinitions map[string]string
	// Root is the absolute storage root URL passed to children.
	Root string
	// Force sets FEEDBATCH_FORCE=1 on every child (guard overrides).
	Force bool
}

func (t Target) jobDefinition(stage string) string {
	if d := t.JobDefinitions[stage]; d != "" {
		return d
	}
	return DefaultJobDefinition(stage)
}

// throttleOnly retries SubmitJob on throttling alone: a throttled request
// created nothing, any other failure may have.
func throttleOnly(o *batch.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = 10
		so.MaxBackoff = 20 * time.Second
		so.Retryables = []retry.IsErrorRetryable{
			retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
				return retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err)
			}),
		}
	})
}

// findJob looks a job up by name in the queue (ListJobs JOB_NAME filter),
// returning the id of the newest match or "".
func findJob(ctx context.Context, api lister, queue, name string) (string, error) {
	out, err := api.ListJobs(ctx, &batch.ListJobsInput{
		JobQueue: aws.String(queue),
		Filters:  []types.KeyValuesPair{{Name: aws.String("JOB_NAME"), Values: []string{name}}},
	})
	if err != nil {
		return "", fmt.Errorf("look up job %s: %w", name, err)
	}
	var best *types.JobSummary
	for i, s := range out.JobSummaryList {
		if aws.ToString(s.JobName) != name {
			continue // JOB_NAME matches case-insensitively and by prefix with '*'
		}
		if best == nil || aws.ToInt64(s.CreatedAt) > aws.ToInt64(best.CreatedAt) {
			best = &out.JobSummaryList[i]
		}
	}
	if best == nil {
		return "", nil
	}
	return aws.ToString(best.JobId), nil
}

// submitJobs submits every job of rec not yet carrying a job id, in order,
// saving rec after each one. Every job is first looked up by its name and
// adopted if found (submitted by a planner this one took over from, or by
// this one before an answer was lost), and the record is written (so the
// claim checked) right before each SubmitJob.
func submitJobs(ctx context.Context, api Submitter, c *claim, rec *Record, t Target, log *slog.Logger) error {
	ids := map[string]string{}
	for i := range rec.Jobs {
		j := &rec.Jobs[i]
		if j.JobID != "" {
			ids[j.Name] = j.JobID
			continue
		}
		id, err := findJob(ctx, api, t.Queue, j.Name)
		if err != nil {
			return err
		}
		if id != "" {
			log.Info("adopting a job found by its name", "job", j.Name, "job_id", id)
			j.JobID = id
		} else {
			in, err := submitInput(rec, *j, t, ids)
			if err != nil {
				return err
			}
			// Batch has no conditional SubmitJob: a conditional write of
			// the record right before it is the last moment a planner
			// that lost its claim can still stop.
			if err := c.write(ctx, rec); err != nil {
				return err
			}
			out, err := api.SubmitJob(ctx, in, throttleOnly)
			if err != nil {
				// The request may have been accepted before the failure.
				id, lerr := findJob(ctx, api, t.Queue, j.Name)
				if lerr != nil || id == "" {
					return fmt.Errorf("submit %s: %w", j.Name, errors.Join(err, lerr))
				}
				log.Warn("submit failed but the job exists; adopting it", "job", j.Name, "job_id", id, "err", err)
				j.JobID = id
			} else {
				j.JobID = aws.ToString(out.JobId)
			}
			log.Info("submitted", "job", j.Name, "job_id", j.JobID, "stage", j.Stage, "offset", j.Offset, "size", j.Size)
		}
		ids[j.Name] = j.JobID
		if err := c.write(ctx, rec); err != nil {
			return err
		}
	}
	return nil
}

// submitInput builds the SubmitJob request of one job.
func submitInput(rec *Record, j Job, t Target, ids map[string]string) (*batch.SubmitJobInput, error) {
	env := []types.KeyValuePair{
		{Name: aws.String(stages.EnvRoot), Value: aws.String(t.Root)},
		{Name: aws.String(stages.EnvManifest), Value: aws.String(rec.Manifest)},
	}
	in := &batch.SubmitJobInput{
		JobName:       aws.String(j.Name),
		JobQueue:      aws.String(t.Queue),
		JobDefinition: aws.String(t.jobDefinition(j.Stage)),
	}
	if j.Array() {
		in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(int32(j.Size))}
		if j.Offset != 0 {
			env = append(env, types.KeyValuePair{Name: aws.String(stages.EnvIndexOffset), Value: aws.String(strconv.FormatInt(j.Offset, 10))})
		}
	} else {
		env = append(env, types.KeyValuePair{Name: aws.String(stages.EnvIndex), Value: aws.String(strconv.FormatInt(j.Offset, 10))})
	}
	if t.Force {
		env = append(env, types.KeyValuePair{Name: aws.String(stages.EnvForce), Value: aws.String("1")})
	}
	in.ContainerOverrides = &types.ContainerOverrides{Environment: env}
	for _, dep := range j.DependsOn {
		id := ids[dep]
		if id == "" {
			return nil, fmt.Errorf("submit %s: dependency %s has no job id", j.Name, dep)
		}
		d := types.JobDependency{JobId: aws.String(id)}
		if j.Array() {
			d.Type = types.ArrayJobDependencyNToN
		}
		in.DependsOn = append(in.DependsOn, d)
	}
	return in, nil
}
