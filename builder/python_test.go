package builder

import "testing"

func TestSelfContainedRequirements(t *testing.T) {
	t.Parallel()
	for req, want := range map[string]bool{
		"apify==2.0\n# comment\n\nrequests>=2\n":    true,
		"apify[scrapy]~=2.0 ; python_version>'3.9'": true,
		"-r base.txt\napify\n":                      false,
		"--requirement base.txt\n":                  false,
		"-c constraints.txt\n":                      false,
		"-e .\n":                                    false,
		"./libs/mine\n":                             false,
		"/opt/wheels/x.whl\n":                       false,
		"mine @ file:///src/mine\n":                 false,
	} {
		if got := selfContained([]byte(req)); got != want {
			t.Errorf("selfContained(%q) = %v, want %v", req, got, want)
		}
	}
}
