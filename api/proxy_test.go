package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/troupehq/troupe/api"
)

// The SDK's access check fetches APIFY_PROXY_STATUS_URL + "/?format=json"
// through the proxy, with no token: an absolute-form request.
func proxyStatusThrough(t *testing.T, b *bundle, proxy string) map[string]any {
	t.Helper()
	pu, err := url.Parse(proxy)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}}
	resp, err := c.Get(b.srv.URL + "/v2/proxy-status/?format=json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var got map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestProxyStatusWithoutProxy(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	// Without an upstream proxy, runs are told troupe itself is the proxy.
	u, _ := url.Parse(b.srv.URL)
	u.User = url.UserPassword("session-abc", "troupe-no-proxy-configured")
	got := proxyStatusThrough(t, b, u.String())
	if got["connected"] != false || got["connectionError"] != api.NoProxyError || got["isManInTheMiddle"] != false {
		t.Errorf("status = %v", got)
	}
}

func TestProxyStatusWithProxy(t *testing.T) {
	t.Parallel()
	b := setup(t, false, func(c *api.Config) { c.ProxyConfigured = true })
	// Through the configured proxy (here: straight), with or without the slash.
	got := proxyStatusThrough(t, b, b.srv.URL)
	r := b.raw("GET", "/v2/proxy-status", nil, nil)
	if r.status != http.StatusOK || !contains(string(r.body), `"connected":true`) {
		t.Errorf("GET /v2/proxy-status: %d %s", r.status, r.body)
	}
	if got["connected"] != true || got["connectionError"] != "" {
		t.Errorf("status = %v", got)
	}
}
