package parse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/korean"
)

// Formats.
const (
	FormatCSV   = "csv"
	FormatTSV   = "tsv"
	FormatJSONL = "jsonl"
	FormatXML   = "xml"
	// FormatJSON is one JSON array of product objects.
	FormatJSON = "json"
)

// Bounds of a compressed source. A gzip or zstd bomb (10 MB that
// decompress to terabytes) is refused once its decompressed bytes pass
// MaxRatio times the compressed bytes read so far, or the absolute cap,
// rather than after minutes of decompressing. Feeds compress 5-30 times;
// gzip cannot pass about 1,030, zstd can pass 30,000.
const (
	// DefaultMaxRatio caps decompressed/compressed bytes; option
	// "max_ratio".
	DefaultMaxRatio = 200
	// DefaultMaxDecompressedBytes caps a source's decompressed bytes;
	// option "max_decompressed_bytes".
	DefaultMaxDecompressedBytes = 200 << 30
)

// ratioFloor: the ratio is checked past this many decompressed bytes, so a
// small file of one repeated byte is not refused. Tests lower it.
var ratioFloor int64 = 64 << 20

// ErrDecompressionBomb ends a read of a compressed source past its bounds.
// Errors will be checked using errors.Is.
var ErrDecompressionBomb = errors.New("parse: compressed source decompresses past its bounds")

// sniffBytes is how much of the (decompressed) input is looked at to detect
// the format and encoding.
const sniffBytes = 64 << 10

// Settings are a source's format options as the manifest gives them
// (manifest.Source.Format and Options).
type Settings struct {
	// Format is csv, tsv, jsonl, json (one array of objects) or xml; ""
	// detects it from the content.
	Format string
	// Options: "delimiter" (one character, or "tab"), "quote" (one
	// character, or "none"), "encoding" (utf-8, euc-kr, cp949, any WHATWG
	// label; "" detects UTF-8 vs EUC-KR), "max_field_bytes", and for a
	// compressed source "max_ratio" and "max_decompressed_bytes".
	Options map[string]string
}

// Detected says what Open found.
type Detected struct {
	Format     string
	Compressed string // "gzip", "zstd" or ""
	Encoding   string // "utf-8" or the label decoded from
	Delimiter  string
}

// Open wraps a source's raw bytes in the right parser: it decompresses gzip
// and zstd (found by magic bytes, not by name), transcodes the declared or
// detected encoding to UTF-8, and picks the format from Settings or by
// sniffing. The caller closes the raw reader; the parser does not.
func Open(raw io.Reader, s Settings) (Parser, Detected, error) {
	var d Detected
	bound := &boundReader{in: &countReader{r: raw}, ratio: DefaultMaxRatio, max: DefaultMaxDecompressedBytes}
	for name, dst := range map[string]*int64{"max_ratio": &bound.ratio, "max_decompressed_bytes": &bound.max} {
		if v := s.Options[name]; v != "" {
			if _, err := fmt.Sscan(v, dst); err != nil || *dst <= 0 {
				return nil, d, fmt.Errorf("option %s %q: want a positive number", name, v)
			}
		}
	}
	br := bufio.NewReaderSize(bound.in, sniffBytes)
	magic, _ := br.Peek(4)
	var r io.Reader = br
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, d, fmt.Errorf("gzip: %w", err)
		}
		zr.Multistream(true)
		r, d.Compressed = zr, "gzip"
	case len(magic) == 4 && bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(64<<20))
		if err != nil {
			return nil, d, fmt.Errorf("zstd: %w", err)
		}
		r, d.Compressed = zr.IOReadCloser(), "zstd"
	}
	if d.Compressed != "" {
		bound.r = r
		br = bufio.NewReaderSize(bound, sniffBytes)
		r = br
	}
	sample, _ := br.Peek(sniffBytes)

	maxField := DefaultMaxFieldBytes
	if v := s.Options["max_field_bytes"]; v != "" {
		if _, err := fmt.Sscan(v, &maxField); err != nil || maxField <= 0 {
			return nil, d, fmt.Errorf("option max_field_bytes %q: want a positive number", v)
		}
	}

	format := strings.ToLower(strings.TrimSpace(s.Format))
	switch format {
	case "", "auto":
		format = sniffFormat(sample)
		if format == "" {
			return nil, d, fmt.Errorf("cannot tell the format of the source (not CSV, TSV, JSON Lines or XML); set the source's format")
		}
	case "csv", "tsv", "xml", "jsonl", "json":
	case "ndjson":
		format = FormatJSONL
	case "rss", "atom":
		format = FormatXML
	default:
		return nil, d, fmt.Errorf("unknown format %q (want csv, tsv, jsonl, json or xml)", s.Format)
	}
	d.Format = format

	enc, label, err := pickEncoding(s.Options["encoding"], sample, format)
	if err != nil {
		return nil, d, err
	}
	d.Encoding = label
	if enc != nil {
		r = enc.NewDecoder().Reader(r)
	}

	o := Options{MaxFieldBytes: maxField}
	switch format {
	case FormatXML:
		return NewXML(r, o, enc != nil), d, nil
	case FormatJSONL:
		return NewJSONL(r, o), d, nil
	case FormatJSON:
		return NewJSONArray(r, o), d, nil
	}
	o.Delimiter, o.Quote = ',', '"'
	if format == FormatTSV {
		o.Delimiter, o.Quote = '\t', 0
	} else if s.Options["delimiter"] == "" {
		o.Delimiter = sniffDelimiter(sample)
	}
	if v, ok := s.Options["delimiter"]; ok && v != "" {
		c, err := oneChar("delimiter", v)
		if err != nil {
			return nil, d, err
		}
		o.Delimiter = c
	}
	if v, ok := s.Options["quote"]; ok && v != "" {
		if strings.EqualFold(v, "none") {
			o.Quote = 0
		} else {
			c, err := oneChar("quote", v)
			if err != nil {
				return nil, d, err
			}
			o.Quote = c
		}
	}
	d.Delimiter = string(o.Delimiter)
	p, err := NewCSV(r, o)
	if err != nil {
		return nil, d, err
	}
	return p, d, nil
}

// countReader counts the bytes read from r.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// boundReader reads decompressed bytes from r and fails with
// ErrDecompressionBomb past max bytes or, past ratioFloor, past ratio times
// the compressed bytes read from in.
type boundReader struct {
	r          io.Reader
	in         *countReader
	n          int64
	ratio, max int64
}

func (b *boundReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	switch {
	case b.n > b.max:
		return 0, fmt.Errorf("%w: more than %d bytes decompressed (source option max_decompressed_bytes)", ErrDecompressionBomb, b.max)
	case b.n > ratioFloor && b.n > b.ratio*b.in.n:
		return 0, fmt.Errorf("%w: %d bytes decompressed from %d, more than %d times (source option max_ratio)", ErrDecompressionBomb, b.n, b.in.n, b.ratio)
	}
	return n, err
}

func oneChar(name, v string) (rune, error) {
	switch strings.ToLower(v) {
	case "tab", `\t`:
		return '\t', nil
	case "comma":
		return ',', nil
	case "semicolon":
		return ';', nil
	case "pipe":
		return '|', nil
	}
	r, size := utf8.DecodeRuneInString(v)
	if size != len(v) || r >= utf8.RuneSelf {
		return 0, fmt.Errorf("option %s %q: want one ASCII character", name, v)
	}
	return r, nil
}

// sniffFormat guesses the format from the first bytes.
func sniffFormat(sample []byte) string {
	s := bytes.TrimPrefix(sample, []byte("\ufeff"))
	s = bytes.TrimLeft(s, " \t\r\n")
	if len(s) == 0 {
		return ""
	}
	switch s[0] {
	case '<':
		return FormatXML
	case '{':
		return FormatJSONL
	case '[':
		return FormatJSON
	}
	line := firstLine(s)
	if bytes.Count(line, []byte("\t")) > bytes.Count(line, []byte(",")) &&
		bytes.Count(line, []byte("\t")) > bytes.Count(line, []byte(";")) {
		return FormatTSV
	}
	if bytes.ContainsAny(line, ",;|") {
		return FormatCSV
	}
	return ""
}

func firstLine(s []byte) []byte {
	if i := bytes.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// sniffDelimiter picks ',' ';' or '|' for a CSV from its header line.
func sniffDelimiter(sample []byte) rune {
	line := firstLine(bytes.TrimLeft(bytes.TrimPrefix(sample, []byte("\ufeff")), "\r\n"))
	best, n := ',', bytes.Count(line, []byte(","))
	for _, c := range []rune{';', '|'} {
		if k := bytes.Count(line, []byte(string(c))); k > n {
			best, n = c, k
		}
	}
	return best
}

// pickEncoding returns the decoder to apply (nil for UTF-8) and its label.
// With no option it reads UTF-8 unless the sample is not UTF-8 and is valid
// EUC-KR (CP949), the common encoding of Korean shop exports. XML documents
// left on auto follow their own declaration.
func pickEncoding(opt string, sample []byte, format string) (encoding.Encoding, string, error) {
	l := strings.ToLower(strings.TrimSpace(opt))
	switch l {
	case "utf-8", "utf8":
		return nil, "utf-8", nil
	case "euc-kr", "euckr", "cp949", "ms949", "uhc", "ks_c_5601-1987", "windows-949":
		return korean.EUCKR, "euc-kr", nil
	case "", "auto":
		if format == FormatXML || validUTF8Prefix(sample) || !looksEUCKR(sample) {
			return nil, "utf-8", nil
		}
		return korean.EUCKR, "euc-kr", nil
	}
	enc, err := htmlindex.Get(l)
	if err != nil {
		return nil, "", fmt.Errorf("option encoding %q: unknown encoding", opt)
	}
	name, _ := htmlindex.Name(enc)
	if name == "utf-8" {
		return nil, name, nil
	}
	return enc, name, nil
}

// validUTF8Prefix is utf8.Valid, allowing a rune cut at the sample's end.
func validUTF8Prefix(b []byte) bool {
	for i := 0; i < 3 && len(b) > 0 && !utf8.Valid(b); i++ {
		b = b[:len(b)-1]
	}
	return utf8.Valid(b)
}

// looksEUCKR reports whether b decodes as CP949 without replacement
// characters (a cut character at the end is allowed).
func looksEUCKR(b []byte) bool {
	out, err := korean.EUCKR.NewDecoder().Bytes(b)
	if err != nil {
		return false
	}
	bad := bytes.Count(out, []byte("\ufffd"))
	return bad <= 1
}
