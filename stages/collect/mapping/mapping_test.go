package mapping

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/stages/collect/parse"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/encoding/korean"
)

func TestParsePrice(t *testing.T) {
	cases := []struct {
		in, def  string
		minor    int64
		currency string
		err      error
	}{
		{"59.00", "USD", 5900, "USD", nil},
		{"59,00", "EUR", 5900, "EUR", nil},
		{"1,234.50", "USD", 123450, "USD", nil},
		{"1.234,50", "EUR", 123450, "EUR", nil},
		{"1 234,50 €", "", 123450, "EUR", nil},
		{"₩15,000", "", 15000, "KRW", nil},
		{"15000원", "", 15000, "KRW", nil},
		{"15,000원", "USD", 15000, "KRW", nil},
		{"59.00 USD", "KRW", 5900, "USD", nil},
		{"USD 59", "", 5900, "USD", nil},
		{"59.00USD", "", 5900, "USD", nil},
		{"KRW15000", "", 15000, "KRW", nil},
		{"$59.99", "", 5999, "USD", nil},
		{"$59 CAD", "", 5900, "CAD", nil},
		{"15000", "KRW", 15000, "KRW", nil},
		{"15.000", "KRW", 15000, "KRW", nil},
		{"15000.00 KRW", "", 15000, "KRW", nil},
		{"1,000,000", "KRW", 1000000, "KRW", nil},
		{"7,5", "USD", 750, "USD", nil},
		{"0.999", "USD", 100, "USD", nil},
		{"12.345", "BHD", 12345, "BHD", nil},
		{".5", "USD", 50, "USD", nil},
		{"1'234.50 CHF", "", 123450, "CHF", nil},
		{"0", "USD", 0, "USD", nil},
		{"", "USD", 0, "", ErrNoPrice},
		{"  ", "USD", 0, "", ErrNoPrice},
		{"-5", "USD", 0, "", ErrInvalidPrice},
		{"abc", "USD", 0, "", ErrInvalidPrice},
		{"12", "", 0, "", ErrInvalidPrice},
		{"1,23,4", "USD", 0, "", ErrInvalidPrice},
		{"1.2.3,4.5", "USD", 0, "", ErrInvalidPrice},
		{"5 USD EUR", "", 0, "", ErrInvalidPrice},
		{"99999999999999999999", "USD", 0, "", ErrInvalidPrice},
		{"free", "USD", 0, "", ErrInvalidPrice},
		// A space separates thousands groups, nothing else.
		{"15 000원", "", 15000, "KRW", nil},
		{"1 234 567,89 €", "", 123456789, "EUR", nil},
		{"12 345.67", "USD", 1234567, "USD", nil},
		{"1 000", "KRW", 1000, "KRW", nil},
		{"9900 12900", "KRW", 0, "", ErrInvalidPrice},
		{"1 2 3 4", "KRW", 0, "", ErrInvalidPrice},
		{"2 for 10000", "KRW", 0, "", ErrInvalidPrice},
		{"2 for 10000", "", 0, "", ErrInvalidPrice},
		{"1 2345", "KRW", 0, "", ErrInvalidPrice},
		{"1234 567", "KRW", 0, "", ErrInvalidPrice},
		{"1 234 56", "KRW", 0, "", ErrInvalidPrice},
		{"1 234,5,6", "EUR", 0, "", ErrInvalidPrice},
		{"+ 5", "USD", 0, "", ErrInvalidPrice},
		// Currencies are ISO 4217 codes.
		{"59 usd", "", 5900, "USD", nil},
		{"59", "usd", 5900, "USD", nil},
		{"59 FOR", "KRW", 0, "", ErrInvalidPrice},
		{"59 XXX", "", 0, "", ErrInvalidPrice},
		{"59", "FOR", 0, "", ErrInvalidPrice},
		{"59", "won", 0, "", ErrInvalidPrice},
		{"59PCS", "USD", 0, "", ErrInvalidPrice},
		// JSON numbers with an exponent arrive written out (parse.plainNumber).
		{"100", "KRW", 100, "KRW", nil},
		{"1E2", "KRW", 0, "", ErrInvalidPrice},
	}
	for _, tc := range cases {
		t.Run(tc.in+"/"+tc.def, func(t *testing.T) {
			minor, cur, err := ParsePrice(tc.in, tc.def)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("ParsePrice(%q) err = %v, want %v", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePrice(%q): %v", tc.in, err)
			}
			if minor != tc.minor || cur != tc.currency {
				t.Errorf("ParsePrice(%q, %q) = %d %s, want %d %s", tc.in, tc.def, minor, cur, tc.minor, tc.currency)
			}
		})
	}
}

func FuzzParsePrice(f *testing.F) {
	for _, s := range []string{"59.00", "1,234.50", "₩15,000", "15000원", "59.00 USD", "1.234,50 €", "-1", "9999999999999999999", "..", ",,", "1'2'3",
		"9900 12900", "1 2 3 4", "2 for 10000", "1 234 567,89", "15 000원", "59 usd", "59 FOR", "1E2", "1.5e1"} {
		f.Add(s, "USD")
	}
	f.Add("2 for 10000", "KRW")
	f.Add("59", "FOR")
	f.Fuzz(func(t *testing.T, s, def string) {
		minor, cur, err := ParsePrice(s, def)
		if err != nil {
			return
		}
		if minor < 0 || !iso4217[cur] {
			t.Fatalf("ParsePrice(%q, %q) = %d %q with no error", s, def, minor, cur)
		}
		// A space before a run of four or more digits, with digits before
		// it, is never read as a thousands separator ("9900 12900").
		fields := strings.Fields(s)
		for i, f := range fields {
			if i > 0 && len(f) >= 4 && allDigits(f) && strings.ContainsAny(strings.Join(fields[:i], ""), "0123456789") {
				t.Fatalf("ParsePrice(%q, %q) = %d %s: the space before %q was read as a thousands separator", s, def, minor, cur, f)
			}
		}
	})
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"Product ID": "productid", "product_id": "productid", "g:image_link": "imagelink",
		" 상품 번호 ": "상품번호", "IMAGE-URL": "imageurl", "\ufeffid": "id", "shipping.price": "shipping.price",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func rec(kv ...string) parse.Record {
	var r parse.Record
	for i := 0; i < len(kv); i += 2 {
		r.Names = append(r.Names, kv[i])
		r.Values = append(r.Values, kv[i+1])
	}
	return r
}

func TestMap(t *testing.T) {
	base := catalog.Product{ID: "1", Title: "T", Link: "https://s.example/1", Price: 1000, Currency: "KRW",
		Availability: catalog.AvailabilityInStock, Condition: catalog.ConditionNew, ShippingCost: -1}
	with := func(f func(*catalog.Product)) catalog.Product { p := base; f(&p); return p }
	cases := []struct {
		name    string
		cfg     Config
		rec     parse.Record
		want    catalog.Product
		reason  string
		counted string
	}{
		{name: "english defaults", rec: rec("SKU", "1", "Product Name", "T", "URL", "https://s.example/1", "Sale Price", "1000"), want: base},
		{name: "korean defaults", rec: rec("상품번호", "1", "상품명", "T", "상품URL", "https://s.example/1", "판매가", "1,000원"), want: base},
		{name: "price and sale price", rec: rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "1000", "sale_price", "800"),
			want: with(func(p *catalog.Product) { p.SalePrice = 800 })},
		{name: "sale not lower", rec: rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "1000", "sale_price", "1200"),
			want: base, counted: NoteSaleNotLower},
		{name: "explicit mapping wins", cfg: Config{Mapping: map[string]string{"title": "Headline"}},
			rec: rec("id", "1", "title", "wrong", "Headline", "T", "link", "https://s.example/1", "price", "1000"), want: base},
		{name: "whitespace and controls", rec: rec("id", " 1\x00", "title", "\tT\x07 ", "link", " https://s.example/1 ", "price", "1000"), want: base},
		{name: "missing id", rec: rec("id", "", "title", "T"), reason: ReasonMissingID},
		{name: "missing title", rec: rec("id", "1"), reason: ReasonMissingTitle},
		{name: "missing link", rec: rec("id", "1", "title", "T", "price", "1"), reason: ReasonMissingLink},
		{name: "ftp link", rec: rec("id", "1", "title", "T", "link", "ftp://s.example/1", "price", "1"), reason: ReasonInvalidLink},
		{name: "relative link", rec: rec("id", "1", "title", "T", "link", "/p/1", "price", "1"), reason: ReasonInvalidLink},
		{name: "no price", rec: rec("id", "1", "title", "T", "link", "https://s.example/1"), reason: ReasonMissingPrice},
		{name: "zero price", rec: rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "0"), reason: ReasonInvalidPrice},
		{name: "two prices in one cell", rec: rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "9900 12900"), reason: ReasonInvalidPrice},
		{name: "digits spaced out", rec: rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "1 2 3 4"), reason: ReasonInvalidPrice},
		{name: "multi-buy offer", rec: rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "2 for 10000"), reason: ReasonInvalidPrice},
		{name: "currency column not ISO 4217", rec: rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "1000", "currency", "FOR"), reason: ReasonInvalidPrice},
		{name: "spaced thousands", rec: rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "1 000원"), want: base},
		{name: "sale currency differs", rec: rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "1000", "sale_price", "5 USD"), reason: ReasonCurrency},
		{name: "bad image counted", rec: rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "1000", "image", "data:x"),
			want: base, counted: NoteInvalidImageLink},
		{name: "availability words", rec: rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "1000", "재고", "품절"),
			want: with(func(p *catalog.Product) { p.Availability = catalog.AvailabilityOutOfStock })},
		{name: "availability quantity", rec: rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "1000", "quantity", "0"),
			want: with(func(p *catalog.Product) { p.Availability = catalog.AvailabilityOutOfStock })},
		{name: "schema.org availability", rec: rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "1000", "availability", "https://schema.org/PreOrder"),
			want: with(func(p *catalog.Product) { p.Availability = catalog.AvailabilityPreorder })},
		{name: "condition", rec: rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "1000", "condition", "중고"),
			want: with(func(p *catalog.Product) { p.Condition = catalog.ConditionUsed })},
		{name: "unknown condition", rec: rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "1000", "condition", "mint"),
			want: base, counted: NoteUnknownCondition},
		{name: "strip html", cfg: Config{StripHTML: true},
			rec:  rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "1000", "description", "<p>Soft<br>cotton &amp; <script>x()</script>wool</p>"),
			want: with(func(p *catalog.Product) { p.Description = "Soft cotton & wool" })},
		{name: "euc-kr value repaired", rec: rec("id", "1", "title", eucKR("한글"), "link", "https://s.example/1", "price", "1000"),
			want: with(func(p *catalog.Product) { p.Title = "한글" }), counted: NoteEncodingRepaired},
		{name: "shipping and category", rec: rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "1000",
			"배송비", "무료", "category", "A>B >C", "gtin", "4006-381333931"),
			want: with(func(p *catalog.Product) { p.ShippingCost = 0; p.CategoryPath = "A > B > C"; p.GTIN = "4006381333931" })},
		{name: "availability date with offset", rec: rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "1000",
			"availability_date", "2026-12-25T13:00-08:00"),
			want: with(func(p *catalog.Product) { p.AvailabilityDate = time.Date(2026, 12, 25, 21, 0, 0, 0, time.UTC) })},
		{name: "availability date korean date only", rec: rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "1000",
			"입고예정일", "2026-12-01"),
			want: with(func(p *catalog.Product) { p.AvailabilityDate = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) })},
		{name: "restock date basic format", rec: rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "1000",
			"Restock Date", "20261201"),
			want: with(func(p *catalog.Product) { p.AvailabilityDate = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) })},
		{name: "availability date seconds and Z", rec: rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "1000",
			"availability_date", "2026-12-01T09:30:00Z"),
			want: with(func(p *catalog.Product) { p.AvailabilityDate = time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC) })},
		{name: "bad availability date counted", rec: rec("id", "1", "title", "T", "link", "https://s.example/1", "price", "1000",
			"availability_date", "next week"),
			want: base, counted: NoteInvalidAvailabilityDate},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Currency = "KRW"
			m, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, reason := m.Map(tc.rec)
			if reason != tc.reason {
				t.Fatalf("reason = %q, want %q", reason, tc.reason)
			}
			if reason != "" {
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("product (-want +got):\n%s", diff)
			}
			if tc.counted != "" && m.Counts[tc.counted] != 1 {
				t.Errorf("counts = %v, want %s counted", m.Counts, tc.counted)
			}
		})
	}
}

func eucKR(s string) string {
	b, _ := korean.EUCKR.NewEncoder().String(s)
	return b
}

func TestCheckColumns(t *testing.T) {
	m, _ := New(Config{Mapping: map[string]string{"price": "가격"}})
	err := m.CheckColumns([]string{"id", "title", "link", "price"})
	if err == nil || !strings.Contains(err.Error(), `price -> "가격"`) {
		t.Fatalf("err = %v", err)
	}
	m, _ = New(Config{})
	if err := m.CheckColumns([]string{"ID", "Name", "Product URL", "Price"}); err != nil {
		t.Fatal(err)
	}
	if err := m.CheckColumns([]string{"ID", "Name"}); err == nil || !strings.Contains(err.Error(), "link") || !strings.Contains(err.Error(), "price") {
		t.Fatalf("err = %v", err)
	}
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"  a  b ":             "a b",
		"a\x00b\x1fc":         "a b c",
		"tab\tand\nnewline":   "tab and newline",
		"zero\u200bwidth":     "zero width",
		"ok":                  "ok",
		"bad\xffutf8":         "badutf8",
		"\ufeffbom":           "bom",
		"\u0085next line\r\n": "next line",
	} {
		got, _ := Clean(in)
		if got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"a  b", "\xff\xfe", "<b>x</b>", "<script>", "&amp;", "<!--", "a < b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, _ := Clean(s)
		if !utf8.ValidString(out) || strings.ContainsAny(out, "\x00\n\r\t") || strings.HasPrefix(out, " ") || strings.HasSuffix(out, " ") {
			t.Fatalf("Clean(%q) = %q", s, out)
		}
		h, _ := Clean(StripHTML(s))
		if !utf8.ValidString(h) {
			t.Fatalf("StripHTML(%q) = %q", s, h)
		}
		CleanURL(s)
	})
}

func BenchmarkParsePrice(b *testing.B) {
	for b.Loop() {
		ParsePrice("1,234.50 USD", "KRW")
	}
}

func BenchmarkMap(b *testing.B) {
	m, _ := New(Config{Currency: "USD"})
	r := rec("id", "SKU-1", "title", "Blue shirt", "link", "https://shop.example/1", "price", "59.00", "image_link", "https://cdn.example/1.jpg", "availability", "in stock")
	for b.Loop() {
		m.Map(r)
	}
}

// TestJSONExponentPrice: a JSON price written with an exponent (Jackson's
// BigDecimal form) maps to its value, not to a bad row.
func TestJSONExponentPrice(t *testing.T) {
	in := `{"id":"1","title":"T","link":"https://s.example/1","price":1E+3}
{"id":"1","title":"T","link":"https://s.example/1","price":1.5e3,"currency":"USD"}
{"id":"1","title":"T","link":"https://s.example/1","price":1E3,"sale_price":8E2}
`
	p := parse.NewJSONL(strings.NewReader(in), parse.Options{})
	m, err := New(Config{Currency: "KRW"})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		price, sale int64
		currency    string
	}{{1000, 0, "KRW"}, {150000, 0, "USD"}, {1000, 800, "KRW"}}
	for i, w := range want {
		r, err := p.Next()
		if err != nil {
			t.Fatal(err)
		}
		got, reason := m.Map(r)
		if reason != "" || got.Price != w.price || got.SalePrice != w.sale || got.Currency != w.currency {
			t.Errorf("line %d: %d (sale %d) %s, reason %q; want %d (sale %d) %s", i+1, got.Price, got.SalePrice, got.Currency, reason, w.price, w.sale, w.currency)
		}
	}
}
