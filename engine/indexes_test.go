package engine

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseIndexes(t *testing.T) {
	tests := []struct {
		in      string
		want    []int64
		wantErr bool
	}{
		{in: "17", want: []int64{17}},
		{in: "17,40-45", want: []int64{17, 40, 41, 42, 43, 44, 45}},
		{in: " 3 , 1-2 ", want: []int64{1, 2, 3}},
		{in: "5,5,4-6", want: []int64{4, 5, 6}},
		{in: "0", want: []int64{0}},
		{in: "7-7", want: []int64{7}},
		{in: "", wantErr: true},
		{in: " ", wantErr: true},
		{in: "1,,2", wantErr: true},
		{in: "1,", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "5-3", wantErr: true},
		{in: "a", wantErr: true},
		{in: "1-2-3", wantErr: true},
		{in: "+1", wantErr: true},
		{in: "1-", wantErr: true},
		{in: "0-99999999999", wantErr: true},
		{in: "1000000", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseIndexes(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrBadIndexes) {
					t.Fatalf("ParseIndexes(%q) = %v, %v; want ErrBadIndexes", tc.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseIndexes(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseIndexes(%q) -want +got:\n%s", tc.in, diff)
			}
		})
	}
}

func TestFormatIndexes(t *testing.T) {
	tests := []struct {
		name string
		in   []int64
		want string
	}{
		{"empty", nil, ""},
		{"one", []int64{3}, "3"},
		{"pair", []int64{3, 4}, "3-4"},
		{"mixed", []int64{19, 3, 17, 18}, "3,17-19"},
		{"dups", []int64{1, 1, 2, 5}, "1-2,5"},
		{"issue", []int64{17, 40, 41, 42, 43, 44, 45}, "17,40-45"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := FormatIndexes(tc.in); got != tc.want {
				t.Errorf("FormatIndexes(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzParseIndexes checks that whatever ParseIndexes accepts survives a round
// trip through FormatIndexes, and that the compact form is canonical.
func FuzzParseIndexes(f *testing.F) {
	for _, s := range []string{"17,40-45", "0", "3,17-19", "1,,2", "5-3", " 2 - 4 ", "999990-999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		idx, err := ParseIndexes(s)
		if err != nil {
			return
		}
		text := FormatIndexes(idx)
		again, err := ParseIndexes(text)
		if err != nil {
			t.Fatalf("ParseIndexes(FormatIndexes(%q) = %q): %v", s, text, err)
		}
		if diff := cmp.Diff(idx, again); diff != "" {
			t.Fatalf("round trip of %q via %q -first +second:\n%s", s, text, diff)
		}
		if FormatIndexes(again) != text {
			t.Fatalf("FormatIndexes not canonical for %q", s)
		}
	})
}
