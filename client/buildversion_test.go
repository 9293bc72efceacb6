package client

import (
	"encoding/json"
	"testing"
)

func TestBuildVersionDecodesObjectAndListForm(t *testing.T) {
	var b struct{ Items []Build }
	body := `{"Items":[{"id":"a","actVersion":{"versionNumber":"0.1","buildTag":"latest"}},{"id":"b","actVersion":"0.2"}]}`
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatal(err)
	}
	if v := b.Items[0].ActVersion; v == nil || v.VersionNumber != "0.1" || v.BuildTag != "latest" {
		t.Errorf("object form: %+v", v)
	}
	if v := b.Items[1].ActVersion; v == nil || v.VersionNumber != "0.2" {
		t.Errorf("list form: %+v", v)
	}
}
