package stages_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
)

var testDecls = stages.NewOptions([]stages.Option{
	stages.Float("feed.max_drop_share", 0.5, 0, 1, "guard"),
	stages.Int("feed.gzip_level", 6, 1, 9, "gzip level"),
	stages.Bool("image.revalidate", true, "conditional GET"),
	stages.Duration("image.timeout", time.Minute, time.Second, time.Hour, "per image"),
	stages.URL("feed.site_url", "home page"),
	stages.Ports("image.ports", "80,443", "ports"),
	stages.Location("image.mirror", "mirror"),
	stages.Text("feed.note", "", "text"),
})

func TestOptionParse(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        any
		wantErr     string
	}{
		{"feed.max_drop_share", " 0.25 ", 0.25, ""},
		{"feed.max_drop_share", "2", nil, `feed.max_drop_share="2": want a number from 0 to 1`},
		{"feed.max_drop_share", "NaN", nil, "want a number"},
		{"feed.max_drop_share", "half", nil, "want a number"},
		{"feed.gzip_level", "9", int64(9), ""},
		{"feed.gzip_level", "0", nil, "want a whole number from 1 to 9"},
		{"feed.gzip_level", "1.5", nil, "whole number"},
		{"image.revalidate", "false", false, ""},
		{"image.revalidate", "nope", nil, "want true or false"},
		{"image.timeout", "90s", 90 * time.Second, ""},
		{"image.timeout", "2h", nil, "want a duration like 60s from 1s to 1h0m0s"},
		{"image.timeout", "-1s", nil, "duration"},
		{"feed.site_url", "https://shop.example/", "https://shop.example/", ""},
		{"feed.site_url", "ftp://shop.example/", nil, "absolute http(s) URL"},
		{"feed.site_url", "shop.example", nil, "absolute http(s) URL"},
		{"image.ports", "80, 8443", []uint16{80, 8443}, ""},
		{"image.ports", "80,0", nil, "ports like"},
		{"image.ports", "70000", nil, "ports like"},
		{"image.mirror", "images", "images", ""},
		{"feed.note", "a\nb", nil, "one line of text"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			got, err := testDecls[tc.name].Parse(tc.value)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("got %v, want %v\n%s", got, tc.want, diff)
			}
		})
	}
}

// TestOptionsParseAllErrors: every problem at once, one per line, an
// unknown key with its hint, a bad value with what was wanted.
func TestOptionsParseAllErrors(t *testing.T) {
	_, err := testDecls.Parse(map[string]string{
		"feed.max_drop_shar": "0.3",
		"feed.gzip_level":    "11",
		"image.timeout":      "30s",
		"zzz.qqq":            "1",
	})
	if err == nil {
		t.Fatal("no error")
	}
	want := `feed.gzip_level="11": want a whole number from 1 to 9
feed.max_drop_shar="0.3": unknown option (did you mean feed.max_drop_share?)
zzz.qqq="1": unknown option`
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("got\n%s\nwant\n%s\ndiff\n%s", err, want, diff)
	}
	var oe *stages.OptionError
	if !errors.As(err, &oe) {
		t.Errorf("errors.As(*OptionError) false for %v", err)
	}
}

func TestConfigValuesAndDefaults(t *testing.T) {
	c, err := testDecls.Parse(map[string]string{"feed.gzip_level": "3", "image.revalidate": "false", "feed.note": ""})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Int("feed.gzip_level"); got != 3 {
		t.Errorf("gzip_level = %d, want 3", got)
	}
	if got := c.Float("feed.max_drop_share"); got != 0.5 {
		t.Errorf("max_drop_share default = %v, want 0.5", got)
	}
	if c.Bool("image.revalidate") {
		t.Error("revalidate = true, want false")
	}
	if got := c.Duration("image.timeout"); got != time.Minute {
		t.Errorf("timeout default = %v", got)
	}
	if got := c.Ports("image.ports"); !slices.Equal(got, []uint16{80, 443}) {
		t.Errorf("ports default = %v", got)
	}
	if c.Set("feed.note") || c.String("feed.note") != "" || c.String("feed.site_url") != "" {
		t.Error("an empty or absent value is not set")
	}
	for name, read := range map[string]func(){
		"undeclared":    func() { c.Float("feed.nope") },
		"wrong kind":    func() { c.Int("feed.max_drop_share") },
		"text of ports": func() { c.String("image.ports") },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			read()
		})
	}
}

func TestNewOptionsRefusesBadDeclarations(t *testing.T) {
	for name, decls := range map[string][]stages.Option{
		"duplicate":   {stages.Bool("a.b", true, ""), stages.Bool("a.b", false, "")},
		"no stage":    {stages.Bool("ab", true, "")},
		"bad default": {stages.Ports("a.ports", "eighty", "")},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			stages.NewOptions(decls)
		})
	}
}

// TestJobConfig: a filled Job.Config wins; a hand-built Job has its row's
// options for the stage parsed, other stages' left to them.
func TestJobConfig(t *testing.T) {
	feedOnly := stages.NewOptions([]stages.Option{testDecls["feed.gzip_level"]})
	job := stages.Job{Row: manifest.Row{Options: map[string]string{"feed.gzip_level": "2", "image.anything": "x"}}}
	c, err := stages.JobConfig(job, feedOnly)
	if err != nil || c.Int("feed.gzip_level") != 2 {
		t.Fatalf("JobConfig = %v, %v", c.Int("feed.gzip_level"), err)
	}
	job.Row.Options["feed.gzip_levle"] = "2"
	if _, err := stages.JobConfig(job, feedOnly); !errors.Is(err, stages.ErrPermanent) || !strings.Contains(err.Error(), "did you mean feed.gzip_level") {
		t.Errorf("typo: err = %v, want permanent with a hint", err)
	}
	filled, _ := testDecls.Parse(map[string]string{"feed.gzip_level": "7"})
	job.Config = filled
	if c, err := stages.JobConfig(job, feedOnly); err != nil || c.Int("feed.gzip_level") != 7 {
		t.Errorf("filled Config not used: %v, %v", c.Int("feed.gzip_level"), err)
	}
}

// FuzzOptionParse: the parser never panics, accepts only what it can hand
// back typed and in range, and a value it accepts parses the same again
// from its own text form.
func FuzzOptionParse(f *testing.F) {
	for _, s := range []string{"0.5", "1e309", "NaN", "-0", "9", "80,443", ",", "60s", "1h1s", "https://a.example/x", "true", "\x00", " 1 "} {
		f.Add(s)
	}
	decls := testDecls.Sorted()
	f.Fuzz(func(t *testing.T, v string) {
		for _, o := range decls {
			got, err := o.Parse(v)
			if err != nil {
				if !strings.HasPrefix(err.Error(), o.Name+"=") {
					t.Fatalf("%s: error %q does not name the option", o.Name, err)
				}
				continue
			}
			var text string
			switch x := got.(type) {
			case float64:
				if x < o.Min || x > o.Max || x != x {
					t.Fatalf("%s=%q: %v out of range", o.Name, v, x)
				}
				text = strings.TrimSpace(v)
			case int64:
				if float64(x) < o.Min || float64(x) > o.Max {
					t.Fatalf("%s=%q: %v out of range", o.Name, v, x)
				}
				text = strings.TrimSpace(v)
			case time.Duration:
				if x <= 0 || x.Seconds() > o.Max || x.Seconds() < o.Min {
					t.Fatalf("%s=%q: %v out of range", o.Name, v, x)
				}
				text = x.String()
			case []uint16:
				if len(x) == 0 || slices.Contains(x, 0) {
					t.Fatalf("%s=%q: ports %v", o.Name, v, x)
				}
				text = strings.TrimSpace(v)
			case bool:
				text = strings.TrimSpace(v)
			case string:
				if strings.ContainsAny(x, "\r\n\x00") {
					t.Fatalf("%s=%q: accepted a control character", o.Name, v)
				}
				text = x
			default:
				t.Fatalf("%s: type %T", o.Name, got)
			}
			again, err := o.Parse(text)
			if err != nil || !cmp.Equal(got, again) {
				t.Fatalf("%s=%q: %v, re-parse of %q gives %v, %v", o.Name, v, got, text, again, err)
			}
		}
	})
}
