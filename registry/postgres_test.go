package registry_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/feedbatch/feedbatch/internal/testtool"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/registry"
)

// testDSN is the machine's PostgreSQL (FEEDBATCH_TEST_POSTGRES overrides).
func testDSN() string {
	if v := os.Getenv("FEEDBATCH_TEST_POSTGRES"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// pgTable creates a uniquely named registry table, dropped when the test
// ends; it skips the test when no server answers (CI must start one).
func pgTable(t *testing.T) (*pgx.Conn, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testDSN())
	if err != nil {
		testtool.Missing(t, testtool.PostgreSQL, fmt.Errorf("PostgreSQL at %s: %w", testDSN(), err))
	}
	table := fmt.Sprintf("feedbatch_shops_test_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := conn.Exec(ctx, fmt.Sprintf(registry.TableDDL, table)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
			t.Errorf("drop %s: %v", table, err)
		}
		conn.Close(ctx)
	})
	return conn, table
}

func TestLoadPostgres(t *testing.T) {
	conn, table := pgTable(t)
	ins := `INSERT INTO ` + table + ` (id, name, source_url, source_format, source_query, source_options, source_mapping, platforms, currency, country, image, options, disabled)
	        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`
	rows := [][]any{
		{"seoul-mart", "서울마트", "postgres://shopdb.example/seoul", "", "SELECT * FROM products", nil, `{"price": "sale_price_krw"}`,
			[]string{"naver", "google"}, "", "KR", `{"width": 1000, "height": 1000, "additional": true}`, `{"feed.max_drop_share": 0.4}`, false},
		{"acme", "Acme", "https://acme.example/feed.csv", "csv", "", `{"delimiter": ";"}`, nil,
			[]string{"google"}, "USD", "US", nil, nil, false},
		{"gone", "", "https://gone.example/feed.csv", "", "", nil, nil, []string{"meta"}, "", "", nil, nil, true},
	}
	for _, r := range rows {
		if _, err := conn.Exec(t.Context(), ins, r...); err != nil {
			t.Fatal(err)
		}
	}
	shops, err := registry.Load(t.Context(), testDSN()+"&table="+table, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := registry.Rows(shops)
	want := []manifest.Row{
		{Index: 0, ShopID: "acme", Name: "Acme",
			Source:    manifest.Source{URL: "https://acme.example/feed.csv", Format: "csv", Options: map[string]string{"delimiter": ";"}},
			Platforms: []string{"google"}, Currency: "USD", Country: "US", Image: manifest.DefaultImageSpec,
			OutputPrefix: "shops/acme/", OriginIndex: -1},
		{Index: 1, ShopID: "seoul-mart", Name: "서울마트",
			Source: manifest.Source{URL: "postgres://shopdb.example/seoul", Format: "sql", Query: "SELECT * FROM products",
				Mapping: map[string]string{"price": "sale_price_krw"}},
			Platforms: []string{"google", "naver"}, Currency: "KRW", Country: "KR",
			Image:        manifest.ImageSpec{Width: 1000, Height: 1000, Quality: 85, Background: "ffffff", Additional: true},
			OutputPrefix: "shops/seoul-mart/", Options: map[string]string{"feed.max_drop_share": "0.4"}, OriginIndex: -1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Rows (-want +got):\n%s", diff)
	}

	// Bad rows: every problem reported with its row.
	if _, err := conn.Exec(t.Context(), ins, "Bad Id", "", "gopher://x", "", "", nil, nil, []string{"tiktok"}, "won", "", nil, nil, false); err != nil {
		t.Fatal(err)
	}
	_, err = registry.Load(t.Context(), testDSN()+"&table="+table, nil)
	for _, w := range []string{
		`table ` + table + ` row 1: shop "Bad Id": id: not safe as a path segment`,
		`row 1: shop "Bad Id": source.url: "gopher://x": unsupported scheme`,
		`row 1: shop "Bad Id": platforms: unknown platform "tiktok"`,
		`row 1: shop "Bad Id": currency: "won" is not an ISO 4217 code`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q; got:\n%v", w, err)
		}
	}
}

func TestLoadPostgresErrors(t *testing.T) {
	_, table := pgTable(t)
	for _, tc := range []struct{ dsn, want string }{
		{testDSN() + "&table=no_such_table_here", "does not exist"},
		{testDSN() + "&table=" + table + "%3Bdrop", "bad table name"},
		{testDSN() + "&table=a;b", "bad postgres DSN query"},
	} {
		_, err := registry.Load(t.Context(), tc.dsn, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s) = %v, want %q", tc.dsn, err, tc.want)
		}
	}
}
