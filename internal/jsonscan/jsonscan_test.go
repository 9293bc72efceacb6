package jsonscan_test

import (
	"testing"

	"github.com/troupehq/troupe/internal/jsonscan"
)

func TestValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int
	}{
		{`"a\"b",`, 6},
		{`{"a":[1,{"b":"}"}]} `, 19},
		{`[1,2]`, 5},
		{`123,`, 3},
		{`true}`, 4},
		{`null`, 4},
		{`{"a":1`, -1},
		{`"open`, -1},
		{``, -1},
		{`,`, -1},
	} {
		if got := jsonscan.Value([]byte(tc.in), 0); got != tc.want {
			t.Errorf("Value(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestSpace(t *testing.T) {
	t.Parallel()
	if got := jsonscan.Space([]byte(" \t\r\n x"), 0); got != 5 {
		t.Errorf("Space = %d, want 5", got)
	}
	if got := jsonscan.Space([]byte("  "), 0); got != 2 {
		t.Errorf("Space at the end = %d, want 2", got)
	}
}
