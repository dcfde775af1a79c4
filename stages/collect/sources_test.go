package collect_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/internal/s3test"
	"github.com/feedbatch/feedbatch/internal/testtool"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/collect"
	"github.com/feedbatch/feedbatch/stages/collect/source"
	"github.com/feedbatch/feedbatch/store/memstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func testStage() *collect.Stage {
	s := collect.New()
	s.Fetcher = source.Fetcher{
		AllowNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Backoff:   time.Millisecond,
		Attempts:  3,
	}
	return s
}

const feedCSV = "id,title,link,price\n1,One,https://shop.example/1,10.00\n2,Two,https://shop.example/2,20.00\n"

func TestHTTPStage(t *testing.T) {
	var calls, fails atomic.Int32
	fails.Store(1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch r.URL.Path {
		case "/gone.csv":
			http.NotFound(w, r)
			return
		case "/feed.csv":
		default:
			t.Errorf("unexpected path %s", r.URL.Path)
		}
		if fails.Load() > 0 {
			fails.Add(-1)
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		io.WriteString(w, feedCSV)
	}))
	defer srv.Close()
	st := memstore.New()

	// First run: one 503, then the catalog.
	job := newJob(st, manifest.Source{URL: srv.URL + "/feed.csv"}, "USD", nil)
	res, err := testStage().Run(t.Context(), job)
	if err != nil {
		t.Fatal(err)
	}
	if res.ItemsOut != 2 || res.Unchanged || calls.Load() != 2 {
		t.Fatalf("first run: %+v after %d calls", res, calls.Load())
	}

	// Next day: 304, the catalog is copied to the new run's key.
	job.RunID = "2026-11-24"
	res, err = testStage().Run(t.Context(), job)
	if err != nil {
		t.Fatal(err)
	}
	key := catalog.CatalogKey("shop1", "2026-11-24")
	if !res.Unchanged || res.ItemsOut != 2 || len(res.Outputs) != 1 || res.Outputs[0] != key {
		t.Fatalf("second run: %+v; want unchanged, 2 items at %s", res, key)
	}
	if got := readCatalog(t, st, key); len(got) != 2 {
		t.Fatalf("reused catalog has %d products", len(got))
	}

	// 404: permanent, readable, nothing published.
	job.RunID = "2026-11-25"
	job.Row.Source.URL = srv.URL + "/gone.csv"
	_, err = testStage().Run(t.Context(), job)
	if !errors.Is(err, stages.ErrPermanent) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("404: err = %v", err)
	}
	if _, err := st.Stat(t.Context(), catalog.CatalogKey("shop1", "2026-11-25")); err == nil {
		t.Fatal("published a catalog for a 404 source")
	}
}

func TestHTTPStageBrokenBody(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.URL.Path == "/flaky.csv" && n == 2 {
			io.WriteString(w, feedCSV)
			return
		}
		w.Header().Set("Content-Length", "100000")
		io.WriteString(w, feedCSV)
		// The handler returns early: the client sees an unexpected EOF.
	}))
	defer srv.Close()
	// Always broken: fetched readAttempts times, then a retryable error.
	_, err := testStage().Run(t.Context(), newJob(memstore.New(), manifest.Source{URL: srv.URL + "/feed.csv"}, "USD", nil))
	if err == nil || errors.Is(err, stages.ErrPermanent) {
		t.Fatalf("err = %v; want a retryable read error", err)
	}
	if calls.Load() != 3 {
		t.Errorf("calls = %d, want 3 full fetches", calls.Load())
	}
	// Broken once: the second fetch succeeds.
	calls.Store(0)
	res, err := testStage().Run(t.Context(), newJob(memstore.New(), manifest.Source{URL: srv.URL + "/flaky.csv"}, "USD", nil))
	if err != nil || res.ItemsOut != 2 {
		t.Fatalf("flaky source: %+v %v", res, err)
	}
}

func TestPostgresSource(t *testing.T) {
	dsn := os.Getenv("FEEDBATCH_TEST_PG")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test"
	}
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "3D000" {
		// The database does not exist yet: create it through "postgres".
		if cfg, perr := pgx.ParseConfig(dsn); perr == nil {
			name := cfg.Database
			cfg.Database = "postgres"
			if admin, aerr := pgx.ConnectConfig(ctx, cfg); aerr == nil {
				admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
				admin.Close(ctx)
			}
		}
		conn, err = pgx.Connect(ctx, dsn)
	}
	if err != nil {
		testtool.Missing(t, testtool.PostgreSQL, fmt.Errorf("PostgreSQL at %s: %w", dsn, err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var rb [4]byte
	rand.Read(rb[:])
	table := "collect_test_" + hex.EncodeToString(rb[:])
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s (
		product_id text, product_name text, sale_price numeric(12,2), product_url text,
		images text[], in_stock boolean, stock integer, updated timestamptz)`, table)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Exec(context.WithoutCancel(ctx), "DROP TABLE "+table) })
	if _, err := conn.Exec(ctx, fmt.Sprintf(`INSERT INTO %s
		SELECT 'p' || g, 'Product ' || g, g * 1.5, 'https://shop.example/p/' || g,
		       ARRAY['https://cdn.example/' || g || '.jpg', 'https://cdn.example/' || g || 'b.jpg'],
		       g %% 2 = 0, g, '2026-11-20 08:00:00+00'
		FROM generate_series(1, 500) g`, table)); err != nil {
		t.Fatal(err)
	}
	conn.Exec(ctx, fmt.Sprintf(`INSERT INTO %s VALUES ('bad', 'No price', NULL, 'https://shop.example/bad', NULL, true, 1, NULL)`, table))

	st := memstore.New()
	job := newJob(st, manifest.Source{
		URL:     dsn,
		Query:   fmt.Sprintf("SELECT product_id, product_name, sale_price, product_url, images, stock, updated FROM %s ORDER BY product_id", table),
		Mapping: map[string]string{"availability": "stock"},
	}, "USD", nil)
	res, err := collect.New().Run(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if res.ItemsIn != 501 || res.ItemsOut != 500 || res.Dropped["missing_price"] != 1 {
		t.Fatalf("result %+v", res)
	}
	ps := readCatalog(t, st, catalog.CatalogKey("shop1", runID))
	var p1 catalog.Product
	for _, p := range ps {
		if p.ID == "p3" {
			p1 = p
		}
	}
	want := catalog.Product{ID: "p3", Title: "Product 3", Link: "https://shop.example/p/3", ImageLink: "https://cdn.example/3.jpg",
		AdditionalImageLinks: []string{"https://cdn.example/3b.jpg"}, Price: 450, Currency: "USD",
		Availability: catalog.AvailabilityInStock, Condition: catalog.ConditionNew, ShippingCost: -1,
		UpdatedAt: time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)}
	if fmt.Sprint(p1) != fmt.Sprint(want) {
		t.Errorf("p3 = %+v\nwant %+v", p1, want)
	}

	// A query that fails part way (division by zero at row 250) is a
	// permanent error, and nothing is published.
	job.RunID = "2026-11-24"
	job.Row.Source.Mapping = nil
	job.Row.Source.Query = "SELECT 'p' || g AS id, 'x' AS title, 'https://shop.example/' || g AS link, (1000 / (g - 250)) AS price FROM generate_series(1, 500) g"
	if _, err := collect.New().Run(ctx, job); !errors.Is(err, stages.ErrPermanent) || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("failing query: err = %v", err)
	}
	if _, err := st.Stat(ctx, catalog.CatalogKey("shop1", "2026-11-24")); err == nil {
		t.Fatal("published a catalog from a failed query")
	}

	// A query that fails is a permanent error naming the problem.
	job.Row.Source.Query = "SELECT * FROM " + table + "_missing"
	if _, err := collect.New().Run(ctx, job); !errors.Is(err, stages.ErrPermanent) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("bad query: err = %v", err)
	}
}

func TestS3Source(t *testing.T) {
	srv := s3test.Start(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	key := "exports/shop1.csv"
	if _, err := srv.Client().PutObject(t.Context(), &s3.PutObjectInput{Bucket: &srv.Bucket, Key: &key, Body: strings.NewReader(feedCSV)}); err != nil {
		t.Fatal(err)
	}
	st := memstore.New()
	job := newJob(st, manifest.Source{URL: "s3://" + srv.Bucket + "/" + key}, "USD", nil)
	res, err := collect.New().Run(t.Context(), job)
	if err != nil {
		t.Fatal(err)
	}
	if res.ItemsOut != 2 || res.Unchanged {
		t.Fatalf("result %+v", res)
	}
	job.RunID = "2026-11-24"
	res, err = collect.New().Run(t.Context(), job)
	if err != nil || !res.Unchanged {
		t.Fatalf("unchanged object: %+v %v", res, err)
	}
	job.Row.Source.URL = "s3://" + srv.Bucket + "/missing.csv"
	if _, err := collect.New().Run(t.Context(), job); !errors.Is(err, stages.ErrPermanent) {
		t.Fatalf("missing object: err = %v", err)
	}
}
