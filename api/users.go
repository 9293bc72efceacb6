package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/troupehq/troupe"
)

// routeUsers registers the account routes and the (empty) store listing. troupe serves one account (the
// admin token's), named by Config.UserID and Config.Username.
func (s *Server) routeUsers() {
	// A run may read the account it runs under (troupe's account holds
	// nothing private, so it gets the same answer).
	s.handleGuarded("GET /v2/users/me", allowLimited, s.getMe)
	s.handleGuarded("GET /v2/users/{userId}", allowLimited, s.getUser)
	s.handle("GET /v2/users/me/usage/monthly", s.getMonthlyUsage)
	// The store listing is public (clients ask it without a token) and
	// always empty.
	s.mux.HandleFunc("GET /v2/store", func(w http.ResponseWriter, r *http.Request) {
		if err := s.listStore(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// listStore answers the Apify Store's listing: troupe has no store of
// public actors, so the page is always empty.
func (s *Server) listStore(w http.ResponseWriter, r *http.Request) error {
	o, err := queryOf(r).listOptions()
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, newPage(o, 0, []struct{}{}))
	return nil
}

// userPublic is the public part of the account.
type userPublic struct {
	ID       string       `json:"id"`
	Username string       `json:"username"`
	Profile  *userProfile `json:"profile,omitempty"`
}

// userProfile holds only what troupe knows: the account's name.
type userProfile struct {
	Name string `json:"name"`
}

// userPrivate is the answer of GET /v2/users/me. Fields troupe has no
// honest value for (email, proxy, createdAt) are left out.
type userPrivate struct {
	userPublic
	Plan                      *userPlan                  `json:"plan"`
	EffectivePlatformFeatures map[string]platformFeature `json:"effectivePlatformFeatures"`
	IsPaying                  bool                       `json:"isPaying"`
}

// userPlan describes troupe as a plan: self-hosted, free, with no usage
// limits, so no max* field is given.
type userPlan struct {
	ID                      string         `json:"id"`
	Description             string         `json:"description"`
	IsEnabled               bool           `json:"isEnabled"`
	MonthlyBasePriceUsd     float64        `json:"monthlyBasePriceUsd"`
	MonthlyUsageCreditsUsd  float64        `json:"monthlyUsageCreditsUsd"`
	EnabledPlatformFeatures []string       `json:"enabledPlatformFeatures"`
	AvailableProxyGroups    map[string]int `json:"availableProxyGroups"`
}

// platformFeature is one entry of effectivePlatformFeatures.
type platformFeature struct {
	IsEnabled          bool       `json:"isEnabled"`
	DisabledReason     *string    `json:"disabledReason"`
	DisabledReasonType *string    `json:"disabledReasonType"`
	IsTrial            bool       `json:"isTrial"`
	TrialExpirationAt  *time.Time `json:"trialExpirationAt"`
}

// platformFeatures lists every feature the schema names, with the route
// that serves it on troupe ("" for features troupe has no part of).
var platformFeatures = []struct{ name, route string }{
	{"ACTORS", "GET /v2/actors"},
	{"STORAGE", "GET /v2/datasets"},
	{"SCHEDULER", "GET /v2/schedules"},
	{"PROXY", ""},
	{"PROXY_EXTERNAL_ACCESS", ""},
	{"PROXY_RESIDENTIAL", ""},
	{"PROXY_SERPS", ""},
	{"WEBHOOKS", "GET /v2/webhooks"},
	{"ACTORS_PUBLIC_ALL", ""},
	{"ACTORS_PUBLIC_DEVELOPER", ""},
}

// serves reports whether the server has a route for "METHOD /path".
func (s *Server) serves(route string) bool {
	method, path, _ := strings.Cut(route, " ")
	r, err := http.NewRequest(method, path, nil)
	if err != nil {
		return false
	}
	_, pattern := s.mux.Handler(r)
	return pattern != ""
}

// features reports each platform feature as enabled when troupe serves it
// (PROXY: when the operator configured an upstream proxy for runs).
func (s *Server) features() (map[string]platformFeature, []string) {
	out := make(map[string]platformFeature, len(platformFeatures))
	var enabled []string
	reason, reasonType := "This feature is not part of troupe.", "NOT_AVAILABLE"
	for _, f := range platformFeatures {
		if f.route != "" && s.serves(f.route) || f.name == "PROXY" && s.cfg.ProxyConfigured {
			out[f.name] = platformFeature{IsEnabled: true}
			enabled = append(enabled, f.name)
			continue
		}
		out[f.name] = platformFeature{DisabledReason: &reason, DisabledReasonType: &reasonType}
	}
	return out, enabled
}

func (s *Server) public() userPublic {
	return userPublic{ID: s.cfg.UserID, Username: s.cfg.Username, Profile: &userProfile{Name: s.cfg.Username}}
}

func (s *Server) getMe(w http.ResponseWriter, r *http.Request) error {
	feats, enabled := s.features()
	me := userPrivate{userPublic: s.public(), EffectivePlatformFeatures: feats, Plan: &userPlan{
		ID: "TROUPE", Description: "troupe, self-hosted: no usage limits, no charges",
		IsEnabled: true, EnabledPlatformFeatures: enabled, AvailableProxyGroups: map[string]int{},
	}}
	writeData(w, http.StatusOK, me)
	return nil
}

// getUser answers the public data of the one account, by id or username.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("userId")
	if id != s.cfg.UserID && id != s.cfg.Username {
		return troupe.Errorf(troupe.ErrRecordNotFound, "User was not found.")
	}
	writeData(w, http.StatusOK, s.public())
	return nil
}

// monthlyUsage is the answer of GET /v2/users/me/usage/monthly: troupe
// meters no usage and charges nothing, so the cycle (the calendar month,
// UTC) has no service usage and costs 0.
type monthlyUsage struct {
	UsageCycle                               usageCycle     `json:"usageCycle"`
	MonthlyServiceUsage                      map[string]any `json:"monthlyServiceUsage"`
	DailyServiceUsages                       []any          `json:"dailyServiceUsages"`
	TotalUsageCreditsUsdBeforeVolumeDiscount float64        `json:"totalUsageCreditsUsdBeforeVolumeDiscount"`
	TotalUsageCreditsUsdAfterVolumeDiscount  float64        `json:"totalUsageCreditsUsdAfterVolumeDiscount"`
}

type usageCycle struct {
	StartAt time.Time `json:"startAt"`
	EndAt   time.Time `json:"endAt"`
}

func (s *Server) getMonthlyUsage(w http.ResponseWriter, r *http.Request) error {
	now := s.now().UTC()
	start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 1, 0).Add(-time.Millisecond)
	writeData(w, http.StatusOK, monthlyUsage{
		UsageCycle:          usageCycle{StartAt: start, EndAt: end},
		MonthlyServiceUsage: map[string]any{}, DailyServiceUsages: []any{},
	})
	return nil
}
