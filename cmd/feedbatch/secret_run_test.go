package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/feedbatch/feedbatch/internal/testtool"
	"github.com/feedbatch/feedbatch/registry"
)

// testPG is the machine's PostgreSQL (FEEDBATCH_TEST_PG overrides), as a
// URL with a user and no password.
func testPG() string {
	if v := os.Getenv("FEEDBATCH_TEST_PG"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// TestRunKeepsSecretsOutOfArtefacts runs the whole pipeline (real stages,
// local engine) from a PostgreSQL registry whose DSN carries a planted
// password and whose failing HTTP source names a planted API key
// (${env:FEEDBATCH_SECRET_...}), then reads every file the run left (run.json,
// manifest, results, report, catalogs, feeds, the engine's journal and child
// logs) and the command's output: neither value is anywhere.
func TestRunKeepsSecretsOutOfArtefacts(t *testing.T) {
	testtool.Slow(t, "runs the pipeline end to end")
	const (
		password = "PlantedPassw0rd"
		apiKey   = "PlantedApiKey123"
	)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testPG())
	if err != nil {
		testtool.Missing(t, testtool.PostgreSQL, fmt.Errorf("PostgreSQL at %s: %w", testPG(), err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	table := fmt.Sprintf("feedbatch_secret_test_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := conn.Exec(ctx, fmt.Sprintf(registry.TableDDL, table)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })

	dir := t.TempDir()
	catalog := "id,title,description,link,image_link,price,availability,brand,gtin\n" +
		"A1,Red Shirt,Soft cotton,https://shop.example/a1,https://127.0.0.1:1/a1.jpg,59.00 EUR,in stock,Acme,0012345678905\n"
	if err := os.WriteFile(filepath.Join(dir, "shop.csv"), []byte(catalog), 0o644); err != nil {
		t.Fatal(err)
	}
	ins := `INSERT INTO ` + table + ` (id, source_url, platforms, country, currency, options) VALUES ($1, $2, $3, 'DE', 'EUR', '{"image.max_fail_share": "1"}')`
	for _, r := range [][]any{
		{"good", "file://" + filepath.Join(dir, "shop.csv"), []string{"google"}},
		// Loopback is refused at dial time: net/http's error quotes the
		// whole URL, resolved key included.
		{"keyed", "http://127.0.0.1:9/export.csv?api_key=${env:FEEDBATCH_SECRET_SHOP_KEY}&page=1", []string{"google"}},
	} {
		if _, err := conn.Exec(ctx, ins, r...); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("FEEDBATCH_SECRET_SHOP_KEY", apiKey)
	t.Setenv(envTestChild, "app")
	t.Setenv(envBatchEndpoint, "")
	reg := strings.Replace(testPG(), "postgres@", "postgres:"+password+"@", 1) + "&table=" + table
	root := filepath.Join(dir, "root")
	out, errOut, code := runAppOut(t, "--root", root, "run", "--registry", reg, "--run", "sec", "--engine-dir", root+".engine", "--vcpus", "4", "--poll", "100ms")
	if code != exitShopsFailed {
		t.Fatalf("run exit %d, want %d:\n%s%s", code, exitShopsFailed, out, errOut)
	}
	res, err := os.ReadFile(filepath.Join(root, "runs/sec/results/collect/1.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The key was resolved (the fetch got as far as dialing) and the record
	// names the reference.
	if !bytes.Contains(res, []byte("refused")) || !bytes.Contains(res, []byte("${env:FEEDBATCH_SECRET_SHOP_KEY}")) {
		t.Errorf("collect record of the keyed shop:\n%s", res)
	}
	runJSON, err := os.ReadFile(filepath.Join(root, "runs/sec/run.json"))
	if err != nil || !bytes.Contains(runJSON, []byte("postgres:REDACTED@")) {
		t.Errorf("run.json does not record the redacted registry (%v):\n%s", err, runJSON)
	}
	logsOut, _, _ := runAppOut(t, "--root", root, "logs", "sec", "--stage", "collect", "--shop", "keyed", "--engine-dir", root+".engine")

	var files int
	for _, base := range []string{root, root + ".engine"} {
		err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files++
			for _, s := range []string{password, apiKey} {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s holds %q", p, s)
				}
			}
			if strings.HasPrefix(p, root+"/") && d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil && fi.Mode().Perm()&0o077 != 0 {
					t.Errorf("%s: mode %o readable by others", p, fi.Mode().Perm())
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{password, apiKey} {
		if strings.Contains(out+errOut+logsOut, s) {
			t.Errorf("command output holds %q", s)
		}
	}
	for _, key := range []string{"runs/sec/manifest.parquet", "runs/sec/report.html", "runs/sec/results/feed/0.json"} {
		if _, err := os.Stat(filepath.Join(root, key)); err != nil {
			t.Errorf("missing %s: %v", key, err)
		}
	}
	t.Logf("%d files searched", files)
}
