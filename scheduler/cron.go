package scheduler

import (
	"strings"
	"time"
	_ "time/tzdata" // IANA time zones even on hosts without a zoneinfo database

	cron "github.com/netresearch/go-cron"

	"github.com/troupehq/troupe"
)

// parser reads cron expressions as Apify does: 5 fields (minute, hour,
// day of month, month, day of week) or 6 with seconds first, and the
// @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly
// shortcuts. Day of month and day of week restrict as either-or when both
// are set, as in crontab.
var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow |
	cron.Descriptor | cron.DowOrDom)

// Parse checks a cron expression and an IANA time zone name and returns
// the schedule they make. invalid-value.
func Parse(expr, tz string) (cron.Schedule, error) {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return nil, troupe.Errorf(troupe.ErrInvalidValue, "Field cronExpression is required.")
	}
	if strings.HasPrefix(expr, "@every") || strings.Contains(expr, "TZ=") {
		return nil, troupe.Errorf(troupe.ErrInvalidValue, "Cron expression %q is not valid: use 5 or 6 fields or a shortcut such as @daily; the time zone goes in the timezone field.", expr)
	}
	if tz == "" {
		tz = "UTC"
	}
	if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
		return nil, troupe.Errorf(troupe.ErrInvalidValue, "Time zone %q is not an IANA time zone name.", tz)
	}
	sched, err := parser.Parse("CRON_TZ=" + tz + " " + expr)
	if err != nil {
		return nil, troupe.Errorf(troupe.ErrInvalidValue, "Cron expression %q is not valid: %v.", expr, err)
	}
	return sched, nil
}

// Next returns the first firing time of the expression after t, or nil
// when there is none (or the expression is not valid).
func Next(expr, tz string, t time.Time) *time.Time {
	sched, err := Parse(expr, tz)
	if err != nil {
		return nil
	}
	n := sched.Next(t)
	if n.IsZero() {
		return nil
	}
	n = n.UTC()
	return &n
}
