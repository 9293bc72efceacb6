package api

import "net/http"

// proxyStatus is the answer of the proxy status endpoint, shaped like that
// of Apify Proxy's status page, which the SDKs' createProxyConfiguration()
// fetches through the proxy to check access.
type proxyStatus struct {
	Connected        bool   `json:"connected"`
	ConnectionError  string `json:"connectionError"`
	IsManInTheMiddle bool   `json:"isManInTheMiddle"`
}

// NoProxyError is the status endpoint's connectionError when the operator
// configured no upstream proxy. An SDK actor running on troupe throws it
// from Actor.createProxyConfiguration() unless it passes proxyUrls.
const NoProxyError = "troupe has no upstream proxy configured: start `troupe serve` with --proxy-url " +
	"(or TROUPE_PROXY_URL) to hand runs one, or pass your own proxyUrls to createProxyConfiguration()."

// getProxyStatus answers the SDK's proxy access check (runs get
// APIFY_PROXY_STATUS_URL pointing here, so the check never leaves troupe).
// It needs no token: the SDK sends none, and the answer only says whether
// the operator configured a proxy. A request that reaches it through the
// configured proxy has been carried by that proxy: connected.
func (s *Server) getProxyStatus(w http.ResponseWriter, _ *http.Request) {
	st := proxyStatus{Connected: s.cfg.ProxyConfigured}
	if !st.Connected {
		st.ConnectionError = NoProxyError
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSONStatus(w, http.StatusOK, st)
}
