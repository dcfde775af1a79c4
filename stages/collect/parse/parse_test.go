package parse

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
)

// all reads every record; row errors are listed as "!reason@line".
func all(t testing.TB, p Parser) ([][]string, error) {
	var out [][]string
	for i := 0; i < 1_000_000; i++ {
		r, err := p.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if re, ok := AsRowError(err); ok {
			out = append(out, []string{"!" + re.Reason})
			continue
		}
		if err != nil {
			return out, err
		}
		row := []string{}
		for i, n := range r.Names {
			row = append(row, n+"="+r.Values[i])
		}
		out = append(out, row)
	}
	t.Fatal("parser does not end")
	return nil, nil
}

func TestCSV(t *testing.T) {
	cases := []struct {
		name string
		in   string
		opts Options
		want [][]string
	}{
		{"plain", "a,b\n1,2\n3,4\n", Options{}, [][]string{{"a=1", "b=2"}, {"a=3", "b=4"}}},
		{"crlf no final newline", "a,b\r\n1,2\r\n3,4", Options{}, [][]string{{"a=1", "b=2"}, {"a=3", "b=4"}}},
		{"bom", "\ufeffa,b\n1,2\n", Options{}, [][]string{{"a=1", "b=2"}}},
		{"quoted", "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n", Options{Quote: '"'}, [][]string{{"a=x,y", `b=say "hi"`}}},
		{"multiline", "a,b\n\"l1\nl2\",2\n", Options{Quote: '"'}, [][]string{{"a=l1\nl2", "b=2"}}},
		{"lazy quote in unquoted", "a,b\nsay \"hi\",2\n", Options{Quote: '"'}, [][]string{{`a=say "hi"`, "b=2"}}},
		{"lazy quote in quoted", "a,b\n\"5\" screen\",2\n", Options{Quote: '"'}, [][]string{{`a=5" screen`, "b=2"}}},
		{"short row padded", "a,b,c\n1\n", Options{}, [][]string{{"a=1", "b=", "c="}}},
		{"trailing empty fields ok", "a,b\n1,2,,\n", Options{}, [][]string{{"a=1", "b=2"}}},
		{"too many fields", "a,b\n1,2,3\n4,5\n", Options{}, [][]string{{"!too_many_fields"}, {"a=4", "b=5"}}},
		{"blank lines", "a\n\n1\n\n", Options{}, [][]string{{"a=1"}}},
		{"unterminated quote", "a,b\n1,\"open\n2,3\n", Options{Quote: '"'}, [][]string{{"!bad_quoting"}}},
		{"tsv no quoting", "a\tb\n\"x\t\"y\n", Options{Delimiter: '\t'}, [][]string{{`a="x`, `b="y`}}},
		{"field too large", "a,b\n" + strings.Repeat("x", 20) + ",1\n2,3\n", Options{MaxFieldBytes: 10}, [][]string{{"!field_too_large"}, {"a=2", "b=3"}}},
		{"empty header name", "a,,c\n1,2,3\n", Options{}, [][]string{{"a=1", "column_2=2", "c=3"}}},
		{"trailing delimiter", "a,b\n1,\n", Options{}, [][]string{{"a=1", "b="}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.Delimiter == 0 {
				tc.opts.Delimiter = ','
			}
			p, err := NewCSV(strings.NewReader(tc.in), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := all(t, p)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := NewCSV(strings.NewReader(""), Options{}); err == nil {
		t.Error("empty file: no error")
	}
}

func TestOpenDetects(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("id\ttitle\n1\tx\n"))
	zw.Close()
	cases := []struct {
		name string
		in   []byte
		s    Settings
		want Detected
	}{
		{"csv", []byte("id,title\n1,x\n"), Settings{}, Detected{Format: "csv", Encoding: "utf-8", Delimiter: ","}},
		{"semicolon", []byte("id;title\n1;x\n"), Settings{}, Detected{Format: "csv", Encoding: "utf-8", Delimiter: ";"}},
		{"gzip tsv by content", gz.Bytes(), Settings{}, Detected{Format: "tsv", Compressed: "gzip", Encoding: "utf-8", Delimiter: "\t"}},
		{"jsonl", []byte(`{"id":1}` + "\n"), Settings{}, Detected{Format: "jsonl", Encoding: "utf-8"}},
		{"json array", []byte(` [{"id":1}]`), Settings{}, Detected{Format: "json", Encoding: "utf-8"}},
		{"xml", []byte(`<?xml version="1.0"?><rss></rss>`), Settings{}, Detected{Format: "xml", Encoding: "utf-8"}},
		{"euc-kr sniffed", []byte("id,\xbb\xf3\xc7\xb0\xb8\xed\n1,x\n"), Settings{}, Detected{Format: "csv", Encoding: "euc-kr", Delimiter: ","}},
		{"explicit delimiter", []byte("id|title\n"), Settings{Format: "csv", Options: map[string]string{"delimiter": "pipe"}}, Detected{Format: "csv", Encoding: "utf-8", Delimiter: "|"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, d, err := Open(bytes.NewReader(tc.in), tc.s)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, d); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []Settings{{Format: "parquet"}, {Options: map[string]string{"encoding": "klingon"}}, {Format: "csv", Options: map[string]string{"delimiter": "ab"}}} {
		if _, _, err := Open(strings.NewReader("a,b\n"), bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	if _, _, err := Open(strings.NewReader("just words"), Settings{}); err == nil {
		t.Error("undetectable format: no error")
	}
}

func TestXMLSyntaxErrorFails(t *testing.T) {
	p := NewXML(strings.NewReader(`<rss><channel><item><g:id>1</g:id></item><item><id>2</id><!-- unterminated`), Options{}, false)
	if _, err := p.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Next(); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("err = %v; want a syntax error", err)
	}
}

func TestXMLTextRunCapped(t *testing.T) {
	doc := "<rss><item><description>" + strings.Repeat("x", 5000) + "</description></item></rss>"
	p := NewXML(strings.NewReader(doc), Options{MaxFieldBytes: 100}, false)
	_, err := p.Next()
	if err == nil || !strings.Contains(err.Error(), "text run") {
		t.Fatalf("err = %v; want the text-run cap", err)
	}
}

func TestXMLEncodingDeclaration(t *testing.T) {
	doc := "<?xml version=\"1.0\" encoding=\"EUC-KR\"?><rss><item><title>\xc7\xd1</title></item></rss>"
	p, _, err := Open(strings.NewReader(doc), Settings{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Next()
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := r.Get("title"); v != "한" {
		t.Fatalf("title = %q", v)
	}
}

func fuzzParser(t *testing.T, p Parser, err error) {
	if err != nil {
		return
	}
	for range 100000 {
		r, err := p.Next()
		if err != nil {
			if _, ok := AsRowError(err); ok {
				continue
			}
			return
		}
		if len(r.Names) != len(r.Values) {
			t.Fatalf("record has %d names and %d values", len(r.Names), len(r.Values))
		}
		for _, v := range r.Values {
			if len(v) > 64 {
				t.Fatalf("field of %d bytes passed the 64-byte cap", len(v))
			}
		}
	}
	t.Fatal("parser did not end")
}

func FuzzCSV(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "a,b\n\"x\"\"y\",2\r\n", "a\n\"open", "a,b\n1,2,3\n", "\ufeffa;b\n1;2", "a\n\"\"\"\n", "a,b\n\"x\"y,\n"} {
		f.Add([]byte(s), byte(','), byte('"'))
	}
	f.Fuzz(func(t *testing.T, in []byte, delim, quote byte) {
		p, err := NewCSV(bytes.NewReader(in), Options{Delimiter: rune(delim), Quote: rune(quote), MaxFieldBytes: 64})
		if err == nil {
			fuzzParser(t, p, nil)
		}
	})
}

func FuzzJSONL(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"price":1E+2}`, `{"p":-1.5e-3,"q":1E400}`, "{\"a\":{\"b\":[1,2,{\"c\":null}]}}\n{}\n", "[1]\n{", `{"a":"` + strings.Repeat("x", 100) + `"}`, "{\"a\":1}{\"b\":2}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzParser(t, NewJSONL(bytes.NewReader(in), Options{MaxFieldBytes: 64}), nil)
	})
}

func FuzzXML(f *testing.F) {
	for _, s := range []string{
		`<rss><channel><item><g:id>1</g:id><link>https://x</link></item></channel></rss>`,
		`<feed><entry><link href="https://x"/><title>t</title></entry></feed>`,
		`<rss><item><a><b>1</b><b>2</b></a></item>`, `<item>&nbsp;&amp;<![CDATA[x]]></item>`, `<item><x>` + strings.Repeat("y", 100) + `</x></item>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzParser(t, NewXML(bytes.NewReader(in), Options{MaxFieldBytes: 64}, false), nil)
	})
}

func FuzzOpen(f *testing.F) {
	for _, s := range []string{"a,b\n1,2", "{\"a\":1}", "<rss/>", "\x1f\x8b\x08\x00", "\x28\xb5\x2f\xfd"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, _, err := Open(bytes.NewReader(in), Settings{Options: map[string]string{"max_field_bytes": "64"}})
		fuzzParser(t, p, err)
	})
}

func TestJSONArray(t *testing.T) {
	p := NewJSONArray(strings.NewReader(`[{"id": 1, "p": {"a": "x"}}, 5, {"id": "`+strings.Repeat("y", 20)+`"}, {"id": 2}]`), Options{MaxFieldBytes: 10})
	got, err := all(t, p)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"id=1", "p.a=x"}, {"!bad_json"}, {"!field_too_large"}, {"id=2"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	p = NewJSONArray(iotest.OneByteReader(strings.NewReader(`[{"id": "`+strings.Repeat("y", 200)+`"}]`)), Options{MaxFieldBytes: 10})
	if _, err := all(t, p); err == nil {
		t.Error("an element past the size cap: no error")
	}
	p = NewJSONArray(strings.NewReader(`{"id": 1}`), Options{})
	if _, err := all(t, p); err == nil {
		t.Error("not an array: no error")
	}
}

func FuzzJSONArray(f *testing.F) {
	for _, s := range []string{`[{"a":1}]`, `[{"price":1.5e1},{"price":1E2}]`, `[1,{"b":[{"c":2}]}]`, `[`, `[{"a":"` + strings.Repeat("x", 100) + `"}]`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzParser(t, NewJSONArray(bytes.NewReader(in), Options{MaxFieldBytes: 64}), nil)
	})
}

func TestOpenZstd(t *testing.T) {
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	zw.Write([]byte("id,title\n1,x\n"))
	zw.Close()
	p, d, err := Open(&buf, Settings{})
	if err != nil || d.Compressed != "zstd" || d.Format != "csv" {
		t.Fatalf("Open: %+v %v", d, err)
	}
	got, err := all(t, p)
	if err != nil || len(got) != 1 {
		t.Fatalf("records %v %v", got, err)
	}
}

func BenchmarkCSV(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("id,title,description,link,price\n")
	for i := range 1000 {
		fmt.Fprintf(&sb, "%d,\"Title %d, red\",A plain description of the product,https://shop.example/%d,%d.00\n", i, i, i, i)
	}
	in := sb.String()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		p, _ := NewCSV(strings.NewReader(in), Options{Delimiter: ',', Quote: '"'})
		for {
			if _, err := p.Next(); err != nil {
				break
			}
		}
	}
}

// TestPlainNumber pins how JSON numbers with an exponent are written out:
// exactly, with the mantissa's digits, and unchanged past the digit bound.
func TestPlainNumber(t *testing.T) {
	for in, want := range map[string]string{
		"1E2": "100", "1E+2": "100", "1e2": "100", "1.5e1": "15", "1.50E1": "15.0", "1.25E-1": "0.125",
		"5E-1": "0.5", "0.05E2": "5", "-2e0": "-2", "12345E-2": "123.45", "0E0": "0", "1.5": "1.5", "15": "15",
		"1E40": "1E40", "1E-40": "1E-40", "1E39": "1" + strings.Repeat("0", 39), "1E999999999999": "1E999999999999",
	} {
		if got := plainNumber(in); got != want {
			t.Errorf("plainNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestJSONExponentPrices: numbers written with an exponent (as Jackson
// writes BigDecimal) reach the record as plain decimals, in JSON Lines and
// in a JSON array alike.
func TestJSONExponentPrices(t *testing.T) {
	want := [][]string{{"price=100"}, {"price=15"}, {"price=100"}, {"price=0.125"}}
	lines := "{\"price\":1E2}\n{\"price\":1.5e1}\n{\"price\":1E+2}\n{\"price\":1.25E-1}\n"
	got, err := all(t, NewJSONL(strings.NewReader(lines), Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSONL (-want +got):\n%s", diff)
	}
	got, err = all(t, NewJSONArray(strings.NewReader(`[{"price":1E2},{"price":1.5e1},{"price":1E+2},{"price":1.25E-1}]`), Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON array (-want +got):\n%s", diff)
	}
}
