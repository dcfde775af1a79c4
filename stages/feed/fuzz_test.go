package feed

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"io"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/feedbatch/feedbatch/catalog"
)

var textSeeds = []string{
	"", "plain", "a & b < c > d", "\x00\x01\x1f\x7f", "\xff\xfe", "\xed\xa0\x80", "\uFFFE\uFFFF",
	"울 스웨터", "]]>", "&amp;", "<![CDATA[x]]>", "\r\n\t", "\u0085\u009f", "<p>x</p>", "&#0;",
	// cleanText's 8-byte fast path: a bad byte after a clean word, Hangul
	// with lead byte ED (U+D000-U+D7FF), a cut sequence at the end.
	"12345678\x01abcdefgh", "abcdefg\x7fhijklmn", "퍼퓨휴힣 abcdefgh\u0080", "abcdefgh\xed\x9f", "abcdefgh\xe1\x80",
}

// FuzzFeedEscape: whatever the text, cleanText + writeXMLText give
// well-formed XML that parses back to exactly the cleaned text, valid UTF-8.
func FuzzFeedEscape(f *testing.F) {
	for _, s := range textSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := cleanText(s)
		if !utf8.ValidString(c) {
			t.Fatalf("cleanText(%q) = %q: invalid UTF-8", s, c)
		}
		if cleanText(c) != c {
			t.Fatalf("cleanText not idempotent on %q", s)
		}
		if want := cleanSlow(s, 0); c != want {
			t.Fatalf("cleanText(%q) = %q, the byte-by-byte cleaner gives %q", s, c, want)
		}
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		w.WriteString("<a>")
		writeXMLText(w, c)
		w.WriteString("</a>")
		w.Flush()
		d := xml.NewDecoder(&buf)
		var text strings.Builder
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%q -> %q: not well-formed XML: %v", s, buf.String(), err)
			}
			if cd, ok := tok.(xml.CharData); ok {
				text.Write(cd)
			}
		}
		if text.String() != c {
			t.Fatalf("round trip of %q: got %q", c, text.String())
		}
		for _, tr := range []string{singleLine(c), stripHTML(c)} {
			if !utf8.ValidString(tr) {
				t.Fatalf("transform of %q gave invalid UTF-8 %q", c, tr)
			}
		}
		if tr, _ := truncateRunes(c, 5); !utf8.ValidString(tr) || utf8.RuneCountInString(tr) > 5 {
			t.Fatalf("truncateRunes(%q, 5) = %q", c, tr)
		}
	})
}

// FuzzNormURL: an accepted URL is ASCII, parses as absolute http(s) with a
// host, and normalising it again changes nothing.
func FuzzNormURL(f *testing.F) {
	for _, s := range []string{
		"https://a.example/p?q=1&r=2", "http://a.example/한글 경로", "HTTPS://A.example/%zz", "javascript:x",
		"https://", "https://[::1]/", "https://a.example/%41", " https://a.example/\x00 ", "ftp://a/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, ok := normURL(s)
		if !ok {
			return
		}
		for i := 0; i < len(u); i++ {
			if u[i] <= ' ' || u[i] >= 0x7f {
				t.Fatalf("normURL(%q) = %q: byte %#x not allowed", s, u, u[i])
			}
		}
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			t.Fatalf("normURL(%q) = %q: parse %v", s, u, err)
		}
		if h := pu.Hostname(); h == "" {
			t.Fatalf("normURL(%q) = %q: no host name", s, u)
		}
		if again, ok := normURL(u); !ok || again != u {
			t.Fatalf("normURL not idempotent: %q -> %q -> %q %v", s, u, again, ok)
		}
	})
}

// FuzzValidate: for any product, every platform either drops it with a
// reason or writes an item that its format's parser reads back.
func FuzzValidate(f *testing.F) {
	f.Add("id", "title", "desc", "https://a.example/p", "https://a.example/i.jpg", int64(1000), "KRW", "in_stock", "new", "brand", "A > B", int64(0))
	f.Add("\x00", "\xff<&>", "<b>x</b>&amp;", "http://a.example/ p", "https://a.example/,|.jpg", int64(-1), "USD", "preorder", "", "", "", int64(-1))
	f.Add("x", "t\tt\nt", "d\r\n", "https://a.example/\"", "https://a.example/i", int64(5), "JPY", "out_of_stock", "used", "b\tb", "\t>\t", int64(7))
	plats := allPlatforms(f)
	f.Fuzz(func(t *testing.T, id, title, desc, link, img string, price int64, cur, avail, cond, brand, cat string, ship int64) {
		src := catalog.Product{
			ID: id, Title: title, Description: desc, Link: link, ImageLink: img, Price: price,
			Currency: cur, Availability: avail, Condition: cond, Brand: brand, CategoryPath: cat,
			ShippingCost: ship, CustomLabel0: title, AdditionalImageLinks: []string{img, link},
			SalePrice: price / 2,
		}
		prepare(&src, nil, true)
		for _, pl := range plats {
			p := src
			reason, ok := pl.Validate(&p)
			if !ok {
				if reason == "" {
					t.Fatalf("%s dropped without a reason", pl.Name())
				}
				continue
			}
			var buf bytes.Buffer
			w := bufio.NewWriter(&buf)
			pl.WriteHeader(w, Channel{Title: "t"})
			pl.WriteItem(w, &p)
			pl.WriteFooter(w)
			w.Flush()
			if !utf8.Valid(buf.Bytes()) {
				t.Fatalf("%s: invalid UTF-8 output", pl.Name())
			}
			if n, err := pl.CountItems(bytes.NewReader(buf.Bytes())); err != nil || n != 1 {
				t.Fatalf("%s: CountItems = %d, %v; want the 1 item written:\n%s", pl.Name(), n, err, buf.String())
			}
			switch pl.Name() {
			case "google":
				var g googleFeed
				if err := xml.Unmarshal(buf.Bytes(), &g); err != nil {
					t.Fatalf("google: %v\n%s", err, buf.String())
				}
				if len(g.Channel.Items) != 1 || g.Channel.Items[0].ID != p.ID {
					t.Fatalf("google: item did not round-trip:\n%s", buf.String())
				}
			case "meta":
				recs, err := csv.NewReader(&buf).ReadAll()
				if err != nil || len(recs) != 2 || recs[1][0] != p.ID {
					t.Fatalf("meta: %v %q", err, recs)
				}
			case "naver":
				lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
				if len(lines) != 2 || strings.Count(lines[1], "\t") != len(naverColumns)-1 {
					t.Fatalf("naver: bad row %q", lines)
				}
			}
		}
	})
}

// FuzzFormatPrice: the fast price formatter agrees with catalog.FormatPrice.
func FuzzFormatPrice(f *testing.F) {
	for _, c := range []string{"KRW", "USD", "KWD", "JPY", "XXX"} {
		for _, n := range []int64{0, 1, 9, 10, 99, 100, 5900, 15000, -5, 1 << 62} {
			f.Add(n, c)
		}
	}
	f.Fuzz(func(t *testing.T, n int64, cur string) {
		if got, want := formatPrice(n, cur), catalog.FormatPrice(n, cur); got != want {
			t.Fatalf("formatPrice(%d, %q) = %q, want %q", n, cur, got, want)
		}
	})
}

// FuzzCountItems: any bytes, as a feed read back from the store, give a
// count or an error, never a panic or a negative count.
func FuzzCountItems(f *testing.F) {
	f.Add([]byte("<?xml version=\"1.0\"?>\n<rss>\n<channel>\n<item>\n</item>\n</channel>\n</rss>\n"))
	f.Add([]byte(strings.Join(metaColumns, ",") + "\n1,,\"a\nb\",,,,,,,,,,,,,,,,,,,\n"))
	f.Add([]byte(strings.Join(naverColumns, "\t") + "\nx\n"))
	f.Add([]byte(""))
	f.Add([]byte("<item>\n" + strings.Repeat("x", 70000) + "\n<item>\n"))
	plats := allPlatforms(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, pl := range plats {
			if n, err := pl.CountItems(bytes.NewReader(b)); n < 0 || (err != nil && n != 0) {
				t.Fatalf("%s: CountItems = %d, %v", pl.Name(), n, err)
			}
		}
	})
}
