package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/feedbatch/feedbatch/manifest"
)

// dayShops are three shops added to the bundled examples for the day:
// trail-co's catalog is missing on its server (404), gear-hub's catalog is
// not a catalog, fresh-farm is fine. SOURCE is trail-co's URL.
const dayShops = `
  - id: fresh-farm
    name: Fresh Farm
    source: {url: catalogs/acme-outdoor.csv, format: csv}
    platforms: [google]
    country: US
    currency: USD
    options: {image.mirror: images}

  - id: trail-co
    name: Trail Co
    source: {url: "SOURCE", format: csv}
    platforms: [google, meta]
    country: US
    currency: USD
    options: {image.mirror: images}

  - id: gear-hub
    name: Gear Hub
    source: {url: catalogs/gear-hub.csv, format: csv}
    platforms: [google]
    country: US
    currency: USD
    options: {image.mirror: images}
`

// copyTree copies the directory src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOperatorDay replays a day of operations as an operator types it: the
// bundled examples plus three shops, one whose catalog is missing on its
// server and one whose catalog is broken. run and status say which shops
// failed (exit 4) and why in full; the registry is fixed and the failed
// shops re-run from it (a dry run first, showing what changed); logs are
// read from another directory with the global flags after the command;
// runs lists the day; cancel of a finished run stops nothing.
func TestOperatorDay(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "registry")
	copyTree(t, filepath.Join("..", "..", "examples"), reg)
	missing := httptest.NewServer(http.NotFoundHandler())
	defer missing.Close()
	if err := os.WriteFile(filepath.Join(reg, "catalogs", "gear-hub.csv"), []byte("<html>502 Bad Gateway</html>\n\x00\x01\x02"), 0o644); err != nil {
		t.Fatal(err)
	}
	base, err := os.ReadFile(filepath.Join(reg, "shops.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	shops := filepath.Join(reg, "shops.yaml")
	trailURL := missing.URL + "/feeds/trail-co.csv"
	writeRegistry := func(extra string) {
		if err := os.WriteFile(shops, append(append([]byte{}, base...), extra...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeRegistry(strings.Replace(dayShops, "SOURCE", trailURL, 1))

	t.Setenv(envTestChild, "app")
	t.Setenv(envBatchEndpoint, "")
	t.Setenv(envEngineCredentials, "")
	t.Setenv("FEEDBATCH_COLLECT_ALLOW_NETS", "127.0.0.1/32")
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	root := filepath.Join(dir, "data")
	const run = "day1"

	// Morning: the run. Two shops fail in collect; their feeds and images
	// are skipped; exit 4.
	out, errOut, code := runAppOut(t, "--root", root, "run", "--registry", shops, "--run", run, "--vcpus", "4", "--poll", "100ms")
	if code != exitShopsFailed {
		t.Fatalf("run: exit %d, want %d:\n%s%s", code, exitShopsFailed, out, errOut)
	}
	for _, want := range []string{"run day1: 8 shops", "failed collect: 2,7", "skipped feed: 2,7"} {
		if !strings.Contains(out, want) {
			t.Errorf("run summary lacks %q:\n%s", want, out)
		}
	}

	// status says the same, exit 4, so `plan && status --wait` works in a script.
	out, _, code = runAppOut(t, "--root", root, "status", run)
	if code != exitShopsFailed || !strings.Contains(out, "failed collect: 2,7") {
		t.Errorf("status: exit %d:\n%s", code, out)
	}
	out, _, code = runAppOut(t, "--root", root, "status", run, "--wait", "--poll", "50ms")
	if code != exitShopsFailed {
		t.Errorf("status --wait: exit %d:\n%s", code, out)
	}
	// One shop asked for: its whole reason, no AWS prefix, no Go values.
	for _, shop := range []string{"trail-co", "gear-hub"} {
		out, _, _ = runAppOut(t, "--root", root, "status", run, "--shop", shop)
		if !strings.Contains(out, "FAILED") || strings.Contains(out, "Essential container in task exited:") || strings.Contains(out, "map[") {
			t.Errorf("status --shop %s:\n%s", shop, out)
		}
	}
	if out, _, _ = runAppOut(t, "--root", root, "status", run, "--shop", "trail-co"); !strings.Contains(out, "404") {
		t.Errorf("status --shop trail-co does not say the catalog is missing (404):\n%s", out)
	}

	// The operator fixes the registry: trail-co's catalog is where it
	// should be, gear-hub points at its repaired export.
	copyFile(t, filepath.Join(reg, "catalogs", "acme-outdoor.csv"), filepath.Join(reg, "catalogs", "trail-co.csv"))
	copyFile(t, filepath.Join(reg, "catalogs", "acme-outdoor.csv"), filepath.Join(reg, "catalogs", "gear-hub-v2.csv"))
	fixed := strings.Replace(dayShops, `"SOURCE"`, "catalogs/trail-co.csv", 1)
	fixed = strings.Replace(fixed, "catalogs/gear-hub.csv", "catalogs/gear-hub-v2.csv", 1)
	writeRegistry(fixed)

	// The plan of the re-run shows what changed versus the day's rows.
	out, errOut, code = runAppOut(t, "--root", root, "rerun", run, "--failed", "--from-registry", "--dry-run")
	if code != 0 {
		t.Fatalf("rerun --dry-run: exit %d:\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"would submit (dry run)",
		"indexes 2,7 (shops gear-hub,trail-co)",
		"source.url: " + trailURL + " -> file://",
		"catalogs/gear-hub.csv -> file://",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "map[") {
		t.Errorf("dry run prints a Go value:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(root, "runs", run, "reruns")); !os.IsNotExist(err) {
		t.Errorf("dry run wrote reruns/: %v", err)
	}

	// The re-run: both shops now pass every stage; the day's run is whole.
	out, errOut, code = runAppOut(t, "--root", root, "rerun", run, "--failed", "--from-registry", "--poll", "100ms")
	if code != 0 {
		t.Fatalf("rerun: exit %d:\n%s%s", code, out, errOut)
	}
	out, _, code = runAppOut(t, "--root", root, "status", run)
	if code != 0 || strings.Contains(out, "failed ") {
		t.Errorf("status after the re-run: exit %d:\n%s", code, out)
	}
	rows := readRerunRows(t, root, run)
	if len(rows) != 2 || rows[0].ShopID != "gear-hub" || rows[0].OriginIndex != 2 || rows[1].OriginIndex != 7 || !strings.HasSuffix(rows[0].Source.URL, "gear-hub-v2.csv") {
		t.Errorf("re-run rows: %+v", rows)
	}

	// From another directory, global flags after the command: the logs of
	// the morning's failure, found in the engine directory of the root.
	t.Chdir(t.TempDir())
	out, errOut, code = runAppOut(t, "logs", run, "--stage", "collect", "--shop", "trail-co", "--rerun", "0", "--root", root)
	if code != 0 || !strings.Contains(out, "404") {
		t.Errorf("logs from another directory: exit %d:\n%s%s", code, out, errOut)
	}
	out, errOut, code = runAppOut(t, "status", run, "--root", root, "--log-level", "warn")
	if code != 0 {
		t.Errorf("status from another directory: exit %d:\n%s%s", code, out, errOut)
	}
	if ents, _ := os.ReadDir("."); len(ents) != 0 {
		t.Errorf("commands created %v in the working directory", ents)
	}

	// The day in the list of runs.
	out, _, code = runAppOut(t, "runs", "--root", root)
	if code != 0 || !strings.Contains(squeeze(out), "day1") || !strings.Contains(out, "succeeded") {
		t.Errorf("runs: exit %d:\n%s", code, out)
	}
	if f := strings.Fields(lastLine(out)); len(f) < 9 || f[4] != "8" || f[5] != "8" || f[6] != "0" || f[8] != "1" {
		t.Errorf("runs line %q: want 8 shops, 8 succeeded, 0 failed, 1 re-run", lastLine(out))
	}

	// Cancelling a finished run stops nothing and changes no outcome.
	out, errOut, code = runAppOut(t, "cancel", run, "--root", root)
	if code != 0 || !strings.Contains(out, "nothing to cancel") {
		t.Errorf("cancel: exit %d:\n%s%s", code, out, errOut)
	}
	if _, _, code = runAppOut(t, "status", run, "--root", root); code != 0 {
		t.Errorf("status after cancel of a finished run: exit %d", code)
	}

	// A mistyped root names itself and creates nothing.
	typo := filepath.Join(dir, "dta")
	_, errOut, code = runAppOut(t, "status", run, "--root", typo)
	if code != exitNotFound || !strings.Contains(errOut, typo) {
		t.Errorf("status of a mistyped root: exit %d:\n%s", code, errOut)
	}
	if _, err := os.Stat(typo); !os.IsNotExist(err) {
		t.Errorf("the mistyped root was created: %v", err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func readRerunRows(t *testing.T, root, run string) []manifest.Row {
	t.Helper()
	rows, _, err := manifest.ReadAll(t.Context(), mustStore(t, root), "runs/"+run+"/reruns/1/manifest.parquet")
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
