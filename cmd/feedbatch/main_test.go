package main

import (
	"os"
	"testing"
)

// TestMain keeps the AWS SDK off the instance metadata address: a test that
// loads the default AWS configuration without credentials must fail on
// loopback, not ask 169.254.169.254 (no packet of a test leaves loopback).
func TestMain(m *testing.M) {
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}
