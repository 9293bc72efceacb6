package items_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/items"
)

// write runs the whole engine over stored items: the first pass of a
// table, then Begin, Write and End.
func write(t *testing.T, o items.Options, stored ...string) (string, error) {
	t.Helper()
	var cols *items.Columns
	if f, _ := items.LookupFormat(o.Format); f.Tabular {
		cols = items.NewColumns(&o)
		for _, it := range stored {
			if err := cols.Add([]byte(it)); err != nil {
				return "", err
			}
		}
		if err := cols.Done(); err != nil {
			return "", err
		}
	}
	var buf bytes.Buffer
	w := items.NewWriter(&buf, &o, cols)
	if err := w.Begin(); err != nil {
		return "", err
	}
	for _, it := range stored {
		if err := w.Write([]byte(it)); err != nil {
			return "", err
		}
	}
	err := w.End()
	return buf.String(), err
}

func TestReshape(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		o    items.Options
		item string
		want []string
	}{
		{"Unchanged", items.Options{}, `{"b":1,"a":{"c":[1,2]}}`, []string{`{"b":1,"a":{"c":[1,2]}}`}},
		{"Fields", items.Options{Fields: []string{"c", "a", "zz", "a"}}, `{"a":1,"b":2,"c":3}`, []string{`{"c":3,"a":1}`}},
		{"Omit", items.Options{Omit: []string{"b"}}, `{"a":1,"b":2,"c":3}`, []string{`{"a":1,"c":3}`}},
		{"SkipHidden", items.Options{SkipHidden: true}, `{"#a":1,"b":{"#c":2}}`, []string{`{"b":{"#c":2}}`}},
		{"SkipHiddenEscapedName", items.Options{SkipHidden: true}, `{"\u0023a":1,"b":2}`, []string{`{"b":2}`}},
		{"SkipEmpty", items.Options{SkipEmpty: true}, `{}`, nil},
		{"SkipEmptyAfterOmit", items.Options{SkipEmpty: true, Omit: []string{"a"}}, `{"a":1}`, nil},
		{"EmptyKept", items.Options{Omit: []string{"a"}}, `{"a":1}`, []string{`{}`}},
		{"Clean", clean(), `{"#a":1}`, nil},
		{"SkipFailed", items.Options{SkipFailed: true}, `{"a":1,"errorInfo":"x"}`, nil},
		{"SkipFailedKeepsOthers", items.Options{SkipFailed: true}, `{"a":1}`, []string{`{"a":1}`}},
		{"UnwindArray", items.Options{Unwind: []string{"a"}}, `{"x":0,"a":[{"b":1,"x":9},2,[3]],"y":1}`,
			[]string{`{"b":1,"x":9,"y":1}`, `{"x":0,"a":2,"y":1}`, `{"x":0,"a":[3],"y":1}`}},
		{"UnwindObject", items.Options{Unwind: []string{"a"}}, `{"a":{"b":1},"c":2}`, []string{`{"b":1,"c":2}`}},
		{"UnwindEmptyArray", items.Options{Unwind: []string{"a"}}, `{"a":[],"c":2}`, nil},
		{"UnwindScalar", items.Options{Unwind: []string{"a"}}, `{"a":"s"}`, []string{`{"a":"s"}`}},
		{"UnwindMissing", items.Options{Unwind: []string{"z"}}, `{"a":1}`, []string{`{"a":1}`}},
		{"UnwindTwice", items.Options{Unwind: []string{"a", "b"}}, `{"a":[1,2],"b":[3,4]}`,
			[]string{`{"a":1,"b":3}`, `{"a":1,"b":4}`, `{"a":2,"b":3}`, `{"a":2,"b":4}`}},
		{"Flatten", items.Options{Flatten: []string{"a"}}, `{"a":{"b":{"c":1},"d":[1]},"e":2}`, []string{`{"a.b.c":1,"a.d":[1],"e":2}`}},
		{"FlattenScalar", items.Options{Flatten: []string{"a"}}, `{"a":1}`, []string{`{"a":1}`}},
		{"FlattenThenFields", items.Options{Flatten: []string{"a"}, Fields: []string{"a.b"}}, `{"a":{"b":1,"c":2}}`, []string{`{"a.b":1}`}},
		{"Simplified", simplified(), `{"url":"u","pageFunctionResult":[{"t":1},{"t":2}],"x":1}`,
			[]string{`{"url":"u"}`, `{"url":"u"}`}},
		{"SimplifiedScalars", simplified(), `{"url":"u","pageFunctionResult":[1],"errorInfo":null}`,
			[]string{`{"url":"u","pageFunctionResult":1,"errorInfo":null}`}},
		{"KeysEscapedOnOutput", items.Options{Omit: []string{"x"}}, `{"a\"\n\u0001<":1}`, []string{`{"a\"\n\u0001<":1}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			err := tc.o.Reshape([]byte(tc.item), func(b []byte) error {
				got = append(got, string(b))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	if err := (&items.Options{}).Reshape([]byte(`[1]`), func([]byte) error { return nil }); err == nil {
		t.Error("an array item was reshaped")
	}
}

func clean() items.Options {
	var o items.Options
	o.Clean()
	return o
}

func simplified() items.Options {
	var o items.Options
	o.Simplified()
	return o
}

func TestFormats(t *testing.T) {
	t.Parallel()
	stored := []string{`{"a":1,"b":{"c":"x,y","d":[true,null]}}`, `{"e":"<&>","a":2}`}
	for _, tc := range []struct {
		name string
		o    items.Options
		in   []string
		want string
	}{
		{"JSON", items.Options{}, stored, "[\n" + stored[0] + ",\n" + stored[1] + "\n]\n"},
		{"JSONEmpty", items.Options{}, nil, "[]\n"},
		{"JSONReshaped", items.Options{Omit: []string{"b"}}, stored, "[\n{\"a\":1},\n{\"e\":\"<&>\",\"a\":2}\n]\n"},
		{"JSONL", items.Options{Format: "jsonl"}, stored, stored[0] + "\n" + stored[1] + "\n"},
		{"JSONLEmpty", items.Options{Format: "jsonl"}, nil, ""},
		{"CSV", items.Options{Format: "csv"}, stored, "a,b/c,b/d/0,b/d/1,e\n1,\"x,y\",true,,\n2,,,,<&>\n"},
		{"CSVBOMDelimiterNoHeader", items.Options{Format: "csv", BOM: true, Delimiter: ';', SkipHeaderRow: true}, stored,
			"\ufeff1;x,y;true;;\n2;;;;<&>\n"},
		{"CSVFieldsOrder", items.Options{Format: "csv", Fields: []string{"e", "zz", "a"}}, stored, "e,zz,a\n,,1\n<&>,,2\n"},
		{"CSVEmpty", items.Options{Format: "csv"}, nil, ""},
		{"HTML", items.Options{Format: "html", Fields: []string{"a", "e"}}, stored,
			"<table>\n<tr><th>a</th><th>e</th></tr>\n<tr><td>1</td><td></td></tr>\n<tr><td>2</td><td>&lt;&amp;&gt;</td></tr>\n</table>\n"},
		{"XML", items.Options{Format: "xml"}, stored,
			"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<items>\n" +
				"<item><a>1</a><b><c>x,y</c><d>true</d><d/></b></item>\n" +
				"<item><e>&lt;&amp;&gt;</e><a>2</a></item>\n</items>\n"},
		{"XMLNamesAttrsText", items.Options{Format: "xml", XMLRoot: "rows", XMLRow: "row"},
			[]string{`{"@":{"id":7,"x y":"q\""},"#":"t"}`, `{"1bad name":1}`, `{}`},
			"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rows>\n" +
				"<row id=\"7\" x_y=\"q&quot;\">t</row>\n<row><_1bad_name>1</_1bad_name></row>\n<row/>\n</rows>\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := write(t, tc.o, tc.in...)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestTooManyColumns(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("{")
	for i := range items.MaxColumns + 1 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + `_` + strconv.Itoa(i) + `":1`)
	}
	b.WriteString("}")
	_, err := write(t, items.Options{Format: "csv"}, b.String())
	if troupe.ErrorType(err) != troupe.ErrInvalidRequest {
		t.Errorf("err = %v, want %s", err, troupe.ErrInvalidRequest)
	}
	if _, err := write(t, items.Options{Format: "csv"}, `{"a":1}`); err != nil {
		t.Error(err)
	}
}

func TestMaxUnwound(t *testing.T) {
	t.Parallel()
	var a strings.Builder
	for i := range 400 {
		if i > 0 {
			a.WriteString(",")
		}
		a.WriteString(strconv.Itoa(i))
	}
	item := `{"a":[` + a.String() + `],"b":[` + a.String() + `]}` // 160,000 items when both are unwound
	n := 0
	count := func([]byte) error { n++; return nil }
	if err := (&items.Options{Unwind: []string{"a"}}).Reshape([]byte(item), count); err != nil || n != 400 {
		t.Errorf("one field: %d items, err %v", n, err)
	}
	err := (&items.Options{Unwind: []string{"a", "b"}}).Reshape([]byte(item), count)
	if troupe.ErrorType(err) != troupe.ErrInvalidParameter {
		t.Errorf("two fields: err %v, want %s", err, troupe.ErrInvalidParameter)
	}
	n = 0
	err = (&items.Options{Unwind: []string{"a", "b"}, MaxUnwound: 5}).Reshape([]byte(item), count)
	if troupe.ErrorType(err) != troupe.ErrInvalidParameter || n != 5 {
		t.Errorf("lowered limit: %d items, err %v", n, err)
	}
	_, err = write(t, items.Options{Format: "csv", Unwind: []string{"a", "b"}}, item)
	if troupe.ErrorType(err) != troupe.ErrInvalidParameter {
		t.Errorf("csv: err %v", err)
	}
}

func TestOptionHelpers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", "def"}, {"row", "row"}, {"1a", "_1a"}, {"a b", "a_b"}, {"-x", "_-x"}, {"é.ok-1", "é.ok-1"},
		{"a:b", "a_b"}, {"ޙ", "ޙ"}, {"µ", "_"}, {"́a", "_́a"}, {"x·‿", "x·‿"}, {"日本", "日本"}, {"😀", "😀"}, {"<&>", "___"},
	} {
		if got := items.XMLName(tc.in, "def"); got != tc.want {
			t.Errorf("XMLName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		want rune
		ok   bool
	}{{";", ';', true}, {"\t", '\t', true}, {"é", 'é', true}, {"", 0, false}, {"ab", 0, false}, {`"`, 0, false}, {"\n", 0, false}, {"\xff", 0, false}} {
		if got, ok := items.CheckDelimiter(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("CheckDelimiter(%q) = %q %v", tc.in, got, tc.ok)
		}
	}
	for _, name := range []string{"", "json", "jsonl", "csv", "html", "xml"} {
		if _, ok := items.LookupFormat(name); !ok {
			t.Errorf("format %q unknown", name)
		}
	}
	if _, ok := items.LookupFormat("yaml"); ok {
		t.Error("yaml is a format")
	}
}
