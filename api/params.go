package api

import (
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/troupehq/troupe"
)

// maxListLimit is the default and the largest page of a list.
const maxListLimit = 1000

// query reads and validates query parameters. An empty value counts as
// absent.
type query struct{ v url.Values }

func queryOf(r *http.Request) query { return query{r.URL.Query()} }

func (q query) str(name string) string { return q.v.Get(name) }

func invalidParam(name, want string) error {
	return troupe.Errorf(troupe.ErrInvalidParameter, "Parameter '%s' must be %s.", name, want)
}

// optBool parses a boolean parameter: 1, 0, true or false.
func (q query) optBool(name string) (*bool, error) {
	s := q.v.Get(name)
	if s == "" {
		return nil, nil
	}
	var b bool
	switch {
	case s == "1" || strings.EqualFold(s, "true"):
		b = true
	case s == "0" || strings.EqualFold(s, "false"):
		b = false
	default:
		return nil, invalidParam(name, "a boolean (1, 0, true or false)")
	}
	return &b, nil
}

// bool parses a boolean parameter, def when absent.
func (q query) bool(name string, def bool) (bool, error) {
	b, err := q.optBool(name)
	if err != nil || b == nil {
		return def, err
	}
	return *b, nil
}

// optInt parses an integer parameter that must be at least min.
func (q query) optInt(name string, min int) (*int, error) {
	s := q.v.Get(name)
	if s == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min {
		return nil, invalidParam(name, "an integer of at least "+strconv.Itoa(min))
	}
	return &n, nil
}

// int parses an integer parameter that must be at least min, def when
// absent.
func (q query) int(name string, min, def int) (int, error) {
	n, err := q.optInt(name, min)
	if err != nil || n == nil {
		return def, err
	}
	return *n, nil
}

// optSeconds parses a non-negative number of seconds. Fractions are allowed
// (clients compute timeouts) and rounded down.
func (q query) optSeconds(name string) (*int, error) {
	s := q.v.Get(name)
	if s == "" {
		return nil, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, invalidParam(name, "a non-negative number of seconds")
	}
	n := int(min(f, math.MaxInt32))
	return &n, nil
}

// wait parses waitForFinish-like parameters: seconds, clamped to max.
func (q query) wait(name string, max time.Duration) (time.Duration, error) {
	n, err := q.optSeconds(name)
	if err != nil || n == nil {
		return 0, err
	}
	return min(time.Duration(*n)*time.Second, max), nil
}

// optTime parses an ISO 8601 timestamp.
func (q query) optTime(name string) (*time.Time, error) {
	s := q.v.Get(name)
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		if t, err = time.Parse("2006-01-02", s); err != nil {
			return nil, invalidParam(name, "an ISO 8601 date-time")
		}
	}
	t = t.UTC()
	return &t, nil
}

// listOptions parses offset, limit (at most 1000, default 1000) and desc.
func (q query) listOptions() (troupe.ListOptions, error) {
	var o troupe.ListOptions
	var err error
	if o.Offset, err = q.int("offset", 0, 0); err != nil {
		return o, err
	}
	if o.Limit, err = q.int("limit", 0, maxListLimit); err != nil {
		return o, err
	}
	if o.Limit == 0 || o.Limit > maxListLimit {
		o.Limit = maxListLimit
	}
	o.Desc, err = q.bool("desc", false)
	return o, err
}

// page is the envelope of an offset-paginated list.
type page[T any] struct {
	Total  int  `json:"total"`
	Offset int  `json:"offset"`
	Limit  int  `json:"limit"`
	Count  int  `json:"count"`
	Desc   bool `json:"desc"`
	Items  []T  `json:"items"`
}

func newPage[T any](o troupe.ListOptions, total int, items []T) page[T] {
	if items == nil {
		items = []T{}
	}
	return page[T]{Total: total, Offset: o.Offset, Limit: o.Limit, Count: len(items), Desc: o.Desc, Items: items}
}
