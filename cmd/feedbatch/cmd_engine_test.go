package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"

	"github.com/feedbatch/feedbatch/engine/local"
)

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		addr   string
		remote bool
		ok     bool
	}{
		{"127.0.0.1:4566", false, true},
		{"127.0.0.2:0", false, true},
		{"[::1]:4566", false, true},
		{"localhost:4566", false, true},
		{"0.0.0.0:4566", false, false},
		{":4566", false, false},
		{"192.0.2.1:4566", false, false},
		{"0.0.0.0:4566", true, true},
		{"no-port", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			err := checkLoopback(tc.addr, tc.remote)
			if (err == nil) != tc.ok {
				t.Fatalf("checkLoopback(%q, %v) = %v, want ok=%v", tc.addr, tc.remote, err, tc.ok)
			}
			if err != nil && exitCode(err) != exitUsage {
				t.Errorf("exit code %d, want %d", exitCode(err), exitUsage)
			}
		})
	}
	if code, _ := runApp(t, "engine", "serve", "--addr", "0.0.0.0:0"); code != exitUsage {
		t.Errorf("serve on 0.0.0.0: exit %d, want %d", code, exitUsage)
	}
}

// TestEngineServe starts `feedbatch engine serve`, talks to it through the
// endpoint it publishes in its directory, and stops it with the context.
func TestEngineServe(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		app := newApp()
		app.Writer = io.Discard
		app.ErrWriter = io.Discard
		done <- app.RunContext(ctx, []string{"feedbatch", "--root", t.TempDir(), "engine", "serve", "--addr", "127.0.0.1:0", "--dir", dir, "--vcpus", "2", "--memory", "512"})
	}()
	var ep string
	for deadline := time.Now().Add(10 * time.Second); ep == "" && time.Now().Before(deadline); {
		if b, err := os.ReadFile(filepath.Join(dir, endpointName)); err == nil {
			ep = strings.TrimSpace(string(b))
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended early: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if ep == "" {
		t.Fatal("no endpoint published")
	}
	creds, err := local.LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	out, err := local.BatchClient(ep, creds).DescribeComputeEnvironments(t.Context(), &batch.DescribeComputeEnvironmentsInput{})
	if err != nil || len(out.ComputeEnvironments) != 1 || *out.ComputeEnvironments[0].ComputeResources.MaxvCpus != 2 {
		t.Fatalf("DescribeComputeEnvironments = %+v, %v", out, err)
	}
	defs, err := local.BatchClient(ep, creds).DescribeJobDefinitions(t.Context(), &batch.DescribeJobDefinitionsInput{JobDefinitionName: aws.String("feedbatch-collect")})
	if err != nil || len(defs.JobDefinitions) != 1 {
		t.Errorf("the template's job definitions are not registered: %v, %v", defs, err)
	}
	if code, _ := runApp(t, "engine", "serve", "--addr", "127.0.0.1:0", "--dir", dir); code == exitOK {
		t.Error("a second engine on the same directory started")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}
