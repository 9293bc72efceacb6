package console

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"strings"
	"time"

	"github.com/troupehq/troupe"
)

var funcs = template.FuncMap{
	"time": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			return v.UTC().Format("2006-01-02 15:04:05")
		case *time.Time:
			if v == nil {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04:05")
		}
		return ""
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"millis": func(ms int64) string {
		d := time.Duration(ms) * time.Millisecond
		switch {
		case d < time.Second:
			return fmt.Sprintf("%d ms", ms)
		case d < time.Minute:
			return fmt.Sprintf("%.1f s", d.Seconds())
		case d < time.Hour:
			return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
		}
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	},
	"str": func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	},
	"terminal": func(s troupe.Status) bool { return s.Terminal() },
	"lower":    strings.ToLower,
	"json": func(v any) string {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err.Error()
		}
		return string(b)
	},
	"bytes": func(n any) string {
		var f float64
		switch v := n.(type) {
		case int:
			f = float64(v)
		case int64:
			f = float64(v)
		case float64:
			f = v
		}
		switch {
		case f >= 1<<30:
			return fmt.Sprintf("%.1f GB", f/(1<<30))
		case f >= 1<<20:
			return fmt.Sprintf("%.1f MB", f/(1<<20))
		case f >= 1<<10:
			return fmt.Sprintf("%.1f kB", f/(1<<10))
		}
		return fmt.Sprintf("%.0f B", f)
	},
	"deref": func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	},
	"storageName": func(s *troupe.Storage) string {
		if s.Name != nil {
			return *s.Name
		}
		return ""
	},
	"add":  func(a, b int) int { return a + b },
	"list": func(s ...string) []string { return s },
}

// parseTemplates parses every page template with the layout.
func (c *Console) parseTemplates() {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		c.pages[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n))
	}
}
