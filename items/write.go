package items

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/troupehq/troupe"
)

// scalarText is the text of a JSON scalar in a table cell or an XML
// element: strings unquoted, null empty, numbers and booleans as written.
func scalarText(val json.RawMessage) string {
	val = bytes.TrimSpace(val)
	if len(val) > 0 && val[0] == '"' {
		if s, ok := jsonString(val); ok {
			return s
		}
	}
	if string(val) == "null" {
		return ""
	}
	return string(val)
}

// flatCells calls fn with each leaf of obj as a "a/b/0" column and its
// text.
func flatCells(prefix string, val json.RawMessage, fn func(col, text string)) {
	if sub, ok := parseObject(val); ok {
		for _, m := range sub {
			flatCells(joinCol(prefix, m.key), m.val, fn)
		}
		return
	}
	if elems, ok := parseArray(val); ok {
		for i, e := range elems {
			flatCells(joinCol(prefix, strconv.Itoa(i)), e, fn)
		}
		return
	}
	fn(prefix, scalarText(val))
}

func joinCol(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "/" + key
}

func objectCells(obj object, fn func(col, text string)) {
	for _, m := range obj {
		flatCells(m.key, m.val, fn)
	}
}

// Columns are the columns of a csv or html table, collected in a first
// pass over the items: in first-seen order, grouped by the fields option
// when there is one (the columns of its first field first, and so on).
// Call Add for each stored item, then Done, then write the items with a
// [Writer] made with the same Columns.
type Columns struct {
	o     *Options
	names []string
	index map[string]int
	rank  []int // per column: the index in fields of its top-level field
}

func (c *Columns) add(col string, rank int) error {
	if c.index == nil {
		c.index = map[string]int{}
	}
	if _, ok := c.index[col]; ok {
		return nil
	}
	if len(c.names) == MaxColumns {
		return troupe.Errorf(troupe.ErrInvalidRequest, "The items have more than %d columns, the most a csv or html table can have; pick columns with the fields parameter or use format=json.", MaxColumns)
	}
	c.index[col] = len(c.names)
	c.names = append(c.names, col)
	c.rank = append(c.rank, rank)
	return nil
}

// NewColumns returns the empty columns of a table written with o.
func NewColumns(o *Options) *Columns { return &Columns{o: o} }

// Names are the columns' names, in order (final after Done).
func (c *Columns) Names() []string { return c.names }

// Done finishes the columns after the first pass: a field of the fields
// option that no item has still gets its (empty) column, and columns follow
// the order of the fields option. invalid-request when the table would
// have more than MaxColumns columns.
func (c *Columns) Done() error {
	fields := c.o.Fields
	if len(fields) == 0 {
		return nil
	}
	for i, f := range fields {
		if !slices.Contains(c.rank, i) {
			if err := c.add(f, i); err != nil {
				return err
			}
		}
	}
	idx := make([]int, len(c.names))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return c.rank[a] - c.rank[b] })
	names, rank := make([]string, len(idx)), make([]int, len(idx))
	for to, from := range idx {
		names[to], rank[to] = c.names[from], c.rank[from]
		c.index[names[to]] = to
	}
	c.names, c.rank = names, rank
	return nil
}

// Add adds the columns of one stored item (first pass of a table).
// invalid-request when the table would have more than MaxColumns columns.
func (c *Columns) Add(item []byte) error {
	o := c.o
	return o.each(item, func(obj object) error {
		var err error
		for _, m := range obj {
			rank := slices.Index(o.Fields, m.key)
			flatCells(m.key, m.val, func(col, _ string) {
				if err == nil {
					err = c.add(col, rank)
				}
			})
		}
		return err
	})
}

// Writer writes items in one format: Begin, Write for each stored item,
// End.
type Writer struct {
	o    *Options
	f    Format
	w    *bufio.Writer
	cols *Columns // tabular formats
	// reshape: items are parsed, not copied as stored.
	reshape         bool
	xmlRoot, xmlRow string
	csv             *csv.Writer
	row             []string
	buf             []byte
	n               int // items written
}

// NewWriter returns a Writer of items to w, buffered, as o says. A csv or
// html table needs cols, its columns collected beforehand (nil otherwise).
func NewWriter(w io.Writer, o *Options, cols *Columns) *Writer {
	iw := &Writer{o: o, f: o.format(), w: bufio.NewWriterSize(w, 64<<10), cols: cols, reshape: o.reshapes(),
		xmlRoot: XMLName(o.XMLRoot, "items"), xmlRow: XMLName(o.XMLRow, "item")}
	if iw.f.Tabular && iw.cols == nil {
		iw.cols = NewColumns(o)
	}
	if iw.f.Name == "csv" {
		iw.csv = csv.NewWriter(iw.w)
		iw.csv.Comma = o.Delimiter
		if iw.csv.Comma == 0 {
			iw.csv.Comma = ','
		}
	}
	if iw.cols != nil {
		iw.row = make([]string, len(iw.cols.names))
	}
	return iw
}

// Begin writes what comes before the first item.
func (iw *Writer) Begin() error {
	o, w := iw.o, iw.w
	if o.BOM {
		w.WriteString("\ufeff")
	}
	switch iw.f.Name {
	case "json":
		w.WriteString("[")
	case "xml":
		fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%s>\n", iw.xmlRoot)
	case "csv":
		if !o.SkipHeaderRow && len(iw.cols.names) > 0 {
			return iw.csvRow(iw.cols.names)
		}
	case "html":
		w.WriteString("<table>\n<tr>")
		for _, c := range iw.cols.names {
			w.WriteString("<th>" + html.EscapeString(c) + "</th>")
		}
		w.WriteString("</tr>\n")
	}
	return nil
}

// Write writes one stored item, reshaped as the options say. An item that
// is not a JSON object is an error.
func (iw *Writer) Write(item []byte) error {
	if !iw.reshape {
		iw.next()
		_, err := iw.w.Write(item)
		return err
	}
	return iw.o.each(item, iw.item)
}

// next writes the separator before an item of a json or jsonl body.
func (iw *Writer) next() {
	switch iw.f.Name {
	case "json":
		if iw.n > 0 {
			iw.w.WriteString(",\n")
		} else {
			iw.w.WriteString("\n")
		}
	case "jsonl":
		if iw.n > 0 {
			iw.w.WriteString("\n")
		}
	}
	iw.n++
}

// item writes one reshaped item.
func (iw *Writer) item(obj object) error {
	switch iw.f.Name {
	case "json", "jsonl":
		iw.next()
		iw.buf = obj.appendJSON(iw.buf[:0])
		_, err := iw.w.Write(iw.buf)
		return err
	case "xml":
		iw.n++
		writeXMLObject(iw.w, iw.xmlRow, obj)
		return iw.w.WriteByte('\n')
	}
	clear(iw.row)
	objectCells(obj, func(col, text string) {
		if i, ok := iw.cols.index[col]; ok {
			iw.row[i] = text
		}
	})
	iw.n++
	if iw.csv != nil {
		if len(iw.row) == 0 {
			return nil
		}
		return iw.csvRow(iw.row)
	}
	iw.w.WriteString("<tr>")
	for _, v := range iw.row {
		iw.w.WriteString("<td>" + html.EscapeString(v) + "</td>")
	}
	_, err := iw.w.WriteString("</tr>\n")
	return err
}

// csvRow writes one csv row. A row of one empty cell is written as "",
// not as an empty line, which csv readers skip.
func (iw *Writer) csvRow(row []string) error {
	if len(row) == 1 && row[0] == "" {
		iw.csv.Flush()
		if err := iw.csv.Error(); err != nil {
			return err
		}
		_, err := iw.w.WriteString("\"\"\n")
		return err
	}
	return iw.csv.Write(row)
}

// End writes what comes after the last item and flushes.
func (iw *Writer) End() error {
	switch iw.f.Name {
	case "json":
		if iw.n > 0 {
			iw.w.WriteString("\n")
		}
		iw.w.WriteString("]\n")
	case "jsonl":
		if iw.n > 0 {
			iw.w.WriteString("\n")
		}
	case "xml":
		fmt.Fprintf(iw.w, "</%s>\n", iw.xmlRoot)
	case "csv":
		iw.csv.Flush()
		if err := iw.csv.Error(); err != nil {
			return err
		}
	case "html":
		iw.w.WriteString("</table>\n")
	}
	return iw.w.Flush()
}

// XMLName turns s into a safe XML element or attribute name (the Name
// production of XML 1.0, fifth edition, without ":"): characters that may
// not appear become "_", and a name whose first character may only follow
// gets a "_" in front. An empty s gives def.
func XMLName(s, def string) string {
	if s == "" {
		return def
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case xmlNameStart(r) || i > 0 && xmlNameChar(r):
			b.WriteRune(r)
		case i == 0 && xmlNameChar(r):
			b.WriteByte('_')
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// xmlNameStart reports whether r may start an XML name (NameStartChar
// but ":").
func xmlNameStart(r rune) bool {
	switch {
	case r == '_' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z':
		return true
	case r < 0xC0:
		return false
	}
	return r <= 0xD6 || 0xD8 <= r && r <= 0xF6 || 0xF8 <= r && r <= 0x2FF ||
		0x370 <= r && r <= 0x37D || 0x37F <= r && r <= 0x1FFF || r == 0x200C || r == 0x200D ||
		0x2070 <= r && r <= 0x218F || 0x2C00 <= r && r <= 0x2FEF || 0x3001 <= r && r <= 0xD7FF ||
		0xF900 <= r && r <= 0xFDCF || 0xFDF0 <= r && r <= 0xFFFD || 0x10000 <= r && r <= 0xEFFFF
}

// xmlNameChar reports whether r may follow in an XML name (NameChar but
// ":").
func xmlNameChar(r rune) bool {
	return xmlNameStart(r) || r == '-' || r == '.' || '0' <= r && r <= '9' || r == 0xB7 ||
		0x300 <= r && r <= 0x36F || r == 0x203F || r == 0x2040
}

// writeXMLValue writes val as one element named name, or, for an array,
// one element per item.
func writeXMLValue(w *bufio.Writer, name string, val json.RawMessage) {
	if obj, ok := parseObject(val); ok {
		writeXMLObject(w, name, obj)
		return
	}
	if elems, ok := parseArray(val); ok {
		for _, e := range elems {
			writeXMLValue(w, name, e)
		}
		return
	}
	if string(bytes.TrimSpace(val)) == "null" {
		w.WriteString("<" + name + "/>")
		return
	}
	w.WriteString("<" + name + ">")
	xmlEscape(w, scalarText(val))
	w.WriteString("</" + name + ">")
}

// writeXMLObject writes obj as an element named name: fields become child
// elements, the fields of an "@" object attributes and a "#" field the text
// of an element that has no children.
func writeXMLObject(w *bufio.Writer, name string, obj object) {
	w.WriteString("<" + name)
	var text *json.RawMessage
	children := 0
	for i, m := range obj {
		switch m.key {
		case "@":
			if attrs, ok := parseObject(m.val); ok {
				for _, a := range attrs {
					w.WriteString(" " + XMLName(a.key, "_") + "=\"")
					xmlEscape(w, scalarText(a.val))
					w.WriteString("\"")
				}
			}
		case "#":
			text = &obj[i].val
		default:
			children++
		}
	}
	if children == 0 && text == nil {
		w.WriteString("/>")
		return
	}
	w.WriteString(">")
	if children == 0 {
		xmlEscape(w, scalarText(*text))
	}
	for _, m := range obj {
		if m.key != "@" && m.key != "#" {
			writeXMLValue(w, XMLName(m.key, "_"), m.val)
		}
	}
	w.WriteString("</" + name + ">")
}

// xmlEscape writes s escaped for XML text and attribute values, dropping
// characters XML cannot hold.
func xmlEscape(w *bufio.Writer, s string) {
	for _, r := range s {
		switch r {
		case '<':
			w.WriteString("&lt;")
		case '>':
			w.WriteString("&gt;")
		case '&':
			w.WriteString("&amp;")
		case '"':
			w.WriteString("&quot;")
		case '\'':
			w.WriteString("&apos;")
		default:
			if r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r != 0xfffe && r != 0xffff) {
				w.WriteRune(r)
			}
		}
	}
}
