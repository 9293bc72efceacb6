package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Row is one line of the result table.
//
// Ratio is always troupe's figure divided by the same figure of the
// baseline (RatioOf says which figure): for a latency a ratio above 1 means
// troupe is slower than the baseline, for a throughput a ratio below 1 means
// troupe does less per second. Growth rows divide the figure at the large
// store size by the one at the small size.
type Row struct {
	Scenario string `json:"scenario"`
	Count    int    `json:"count"`
	// P50Ms and P99Ms are latencies in milliseconds.
	P50Ms *float64 `json:"p50Ms,omitempty"`
	P99Ms *float64 `json:"p99Ms,omitempty"`
	// Throughput is per second, in ThroughputUnit.
	Throughput     *float64 `json:"throughput,omitempty"`
	ThroughputUnit string   `json:"throughputUnit,omitempty"`
	// ValueMB is a memory figure (server RSS).
	ValueMB *float64 `json:"valueMB,omitempty"`
	// Baseline names what the ratio divides by and BaselineValue is that
	// figure (ms, per second or MB, as the row's own figure).
	Baseline      string   `json:"baseline,omitempty"`
	BaselineValue *float64 `json:"baselineValue,omitempty"`
	Ratio         *float64 `json:"ratio,omitempty"`
	RatioOf       string   `json:"ratioOf,omitempty"`
	// Target is the target for this row and Met whether it was met.
	Target string `json:"target,omitempty"`
	Met    *bool  `json:"met,omitempty"`
	Note   string `json:"note,omitempty"`
}

func ptr[T any](v T) *T { return &v }

// latencies summarises durations.
type latencies []time.Duration

func (l latencies) pct(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	// Nearest rank.
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// latencyRow fills count, p50 and p99 from l.
func latencyRow(name string, l latencies) Row {
	return Row{Scenario: name, Count: len(l), P50Ms: ptr(ms(l.pct(50))), P99Ms: ptr(ms(l.pct(99)))}
}

// vs sets the baseline and the ratio of value to it.
func (r *Row) vs(baseline string, value, base float64, of string) {
	r.Baseline = baseline
	r.BaselineValue = ptr(base)
	if base > 0 {
		r.Ratio = ptr(value / base)
	}
	r.RatioOf = of
}

// target records a target and whether got meets it (atMost: got ≤ limit,
// otherwise got ≥ limit).
func (r *Row) target(desc string, got, limit float64, atMost bool) {
	r.Target = desc
	if atMost {
		r.Met = ptr(got <= limit)
	} else {
		r.Met = ptr(got >= limit)
	}
}

// writeTable prints the rows as one aligned table, then what the ratios
// mean.
func writeTable(w io.Writer, rep Report) error {
	mode := "full"
	if rep.Quick {
		mode = "quick (tiny counts: the figures mean nothing)"
	}
	fmt.Fprintf(w, "troupe bench — %s, store %s, %d CPUs %s/%s, %.0fs\n\n", mode, rep.Store, rep.CPUs, rep.GOOS, rep.GOARCH, rep.Seconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tcount\tp50\tp99\tthroughput\tbaseline (same run)\tratio\ttarget\t")
	for _, r := range rep.Rows {
		p50, p99 := fmtMs(r.P50Ms), fmtMs(r.P99Ms)
		if r.ValueMB != nil {
			p50 = fmt.Sprintf("%.1f MB", *r.ValueMB)
		}
		thr := "-"
		if r.Throughput != nil {
			thr = fmt.Sprintf("%.0f %s", *r.Throughput, r.ThroughputUnit)
		}
		base := "-"
		if r.Baseline != "" {
			base = r.Baseline
			if r.BaselineValue != nil {
				base += " " + fmtValue(*r.BaselineValue, r)
			}
		}
		ratio := "-"
		if r.Ratio != nil {
			ratio = fmt.Sprintf("%.2f", *r.Ratio)
		}
		tgt := "-"
		if r.Target != "" {
			tgt = r.Target
			if r.Met != nil {
				if *r.Met {
					tgt += " ok"
				} else {
					tgt += " MISSED"
				}
			}
		}
		count := fmt.Sprint(r.Count)
		if r.Note != "" && r.Count == 0 {
			count = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Scenario, count, p50, p99, thr, base, ratio, tgt)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var notes []string
	for _, r := range rep.Rows {
		if r.Note != "" {
			notes = append(notes, fmt.Sprintf("  %s: %s", r.Scenario, r.Note))
		}
	}
	fmt.Fprintln(w, "\nratio = troupe ÷ baseline of the same figure (p50 for latencies, per second for throughputs,")
	fmt.Fprintln(w, "MB for memory, p99 for the live-runs GET); growth rows divide the large store by the small one.")
	if len(notes) > 0 {
		fmt.Fprintln(w, "notes:")
		fmt.Fprintln(w, strings.Join(notes, "\n"))
	}
	return nil
}

func fmtMs(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmtDur(*v)
}

func fmtDur(msv float64) string {
	switch {
	case msv < 1:
		return fmt.Sprintf("%.0f µs", msv*1000)
	case msv < 100:
		return fmt.Sprintf("%.2f ms", msv)
	default:
		return fmt.Sprintf("%.0f ms", msv)
	}
}

// fmtValue formats a baseline figure in the unit of the row's own figure.
func fmtValue(v float64, r Row) string {
	switch {
	case r.ValueMB != nil:
		return fmt.Sprintf("%.1f MB", v)
	case r.Throughput != nil && strings.Contains(r.RatioOf, "per second"):
		return fmt.Sprintf("%.0f %s", v, r.ThroughputUnit)
	default:
		return fmtDur(v)
	}
}
