package feed

import (
	"strings"
	"testing"
)

func TestStripHTML(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain  text\nkept", "plain  text\nkept"},
		{"<p>Hello</p><p>world</p>", "Hello world"},
		{"a &amp; b &lt;c&gt; &nbsp;d", "a & b <c> d"},
		{"  <b>bold</b>   and\t\ttabs  ", "bold and tabs"},
		{"5 < 6 & 7 > 3", "5 < 6 & 7 > 3"},
		{"x &unknown; y", "x &unknown; y"},
		{"<br/>line<br>two", "line two"},
		{"unclosed <b tag", "unclosed <b tag"},
		{"word <i>in</i>side", "word in side"},
		{"a&amp;b", "a&b"},
	} {
		if got := stripHTML(tc.in); got != tc.want {
			t.Errorf("stripHTML(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCleanText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ok", "ok"},
		{"a\x00b\x1fc\x7fd", "abcd"},
		{"tab\tnl\ncr\r", "tab\tnl\ncr\r"},
		{"bad \xff\xfe utf8", "bad  utf8"},
		{"c1 \u0085\u009f end", "c1  end"},
		{"nonchar \uFFFE\uFFFF end", "nonchar  end"},
		{"ok © ° （全角） \uFFFD", "ok © ° （全角） \uFFFD"},
		{"surrogate \xed\xa0\x80 end", "surrogate  end"},
	} {
		if got := cleanText(tc.in); got != tc.want {
			t.Errorf("cleanText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTruncateRunes(t *testing.T) {
	s := strings.Repeat("가", 10)
	if got, cut := truncateRunes(s, 3); got != "가가가" || !cut {
		t.Errorf("truncateRunes = %q %v", got, cut)
	}
	if got, cut := truncateRunes("abc de", 4); got != "abc" || !cut {
		t.Errorf("truncateRunes trailing space = %q %v", got, cut)
	}
	if got, cut := truncateRunes("abc", 3); got != "abc" || cut {
		t.Errorf("truncateRunes exact = %q %v", got, cut)
	}
}

func TestNormURL(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"https://a.example/p?q=1&r=2#f", "https://a.example/p?q=1&r=2#f", true},
		{" HTTP://a.example/x y ", "http://a.example/x%20y", true},
		{"https://a.example/한", "https://a.example/%ED%95%9C", true},
		{"https://a.example/100%", "https://a.example/100%25", true},
		{"https://a.example/%41", "https://a.example/%41", true},
		{"https://a.example/a|b{c}", "https://a.example/a%7Cb%7Bc%7D", true},
		{"https://user@a.example:8080/", "https://user@a.example:8080/", true},
		{"https://a.example:80x/", "", false},
		{"ftp://a.example/", "", false},
		{"//a.example/", "", false},
		{"https:///path", "", false},
		{"https://한글.example/", "", false},
		{"javascript:alert(1)", "", false},
	} {
		got, ok := normURL(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("normURL(%q) = %q %v, want %q %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestValidGTIN(t *testing.T) {
	for s, want := range map[string]bool{
		"8801234567893": true, "8801234567890": false, "00012345678905": true, "12345670": true,
		"123": false, "88012345678a3": false, "": false,
	} {
		if got := validGTIN(s); got != want {
			t.Errorf("validGTIN(%q) = %v, want %v", s, got, want)
		}
	}
}
