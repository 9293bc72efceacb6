package api_test

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
	"github.com/pb33f/libopenapi-validator/paths"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// specDir holds the Apify API's OpenAPI document as published (see its
// README): the contract troupe's answers are checked against.
const specDir = "testdata/openapi"

// apiSpec is the loaded OpenAPI document.
type apiSpec struct {
	v     validator.Validator
	model *v3.Document
	opts  *config.ValidationOptions
	// errorSchema is the schema of every error answer (ErrorResponse).
	errorSchema *base.Schema
	schemas     schema_validation.SchemaValidator
}

var (
	specOnce   sync.Once
	specLoaded *apiSpec
	specErr    error
)

// loadSpec loads the committed OpenAPI document once per test binary.
func loadSpec(t *testing.T) *apiSpec {
	t.Helper()
	specOnce.Do(func() { specLoaded, specErr = readSpec() })
	if specErr != nil {
		t.Fatalf("load OpenAPI document: %v", specErr)
	}
	return specLoaded
}

func readSpec() (*apiSpec, error) {
	dir, err := filepath.Abs(specDir)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(dir, "openapi.yaml"))
	if err != nil {
		return nil, err
	}
	doc, err := libopenapi.NewDocumentWithConfiguration(raw, &datamodel.DocumentConfiguration{
		BasePath: dir, SpecFilePath: "openapi.yaml", AllowFileReferences: true,
	})
	if err != nil {
		return nil, err
	}
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions())
	if len(errs) > 0 {
		return nil, errs[0]
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		return nil, err
	}
	s := &apiSpec{v: v, model: &m.Model, opts: config.NewValidationOptions(config.WithFormatAssertions()),
		schemas: schema_validation.NewSchemaValidator(config.WithFormatAssertions())}
	// Every error answer of the API shares one schema; take it from an
	// operation that documents a 400.
	item := m.Model.Paths.PathItems.GetOrZero("/v2/actor-runs/{runId}")
	if item == nil || item.Get == nil {
		return nil, fmt.Errorf("no GET /v2/actor-runs/{runId} in the document")
	}
	res := item.Get.Responses.Codes.GetOrZero("400")
	if res == nil || res.Content.GetOrZero("application/json") == nil {
		return nil, fmt.Errorf("GET /v2/actor-runs/{runId} documents no JSON 400")
	}
	s.errorSchema = res.Content.GetOrZero("application/json").Schema.Schema()
	return s, nil
}

// runUnderActor matches a run named under its actor (the deprecated
// paths), which the document describes under /v2/actor-runs.
var runUnderActor = regexp.MustCompile(`^/v2/(?:actors|actor-tasks)/[^/]+/runs/([^/]+)/?(.*)$`)

// specPaths are the paths of the document a request path may be
// described at: as it is, with the legacy /v2/acts prefix as /v2/actors,
// and a run under its actor as /v2/actor-runs/{runId}.
func specPaths(path string) []string {
	out := []string{path}
	if rest, ok := strings.CutPrefix(path, "/v2/acts"); ok {
		path = "/v2/actors" + rest
		out = append(out, path)
	}
	// A run under its actor, or as its actor's last run, is answered as
	// the run by id is.
	if m := runUnderActor.FindStringSubmatch(path); m != nil {
		out = append(out, strings.TrimSuffix("/v2/actor-runs/"+m[1]+"/"+m[2], "/"))
	}
	return out
}

// operation finds the operation of the document that describes a request.
func (s *apiSpec) operation(method, target string) (*http.Request, *v3.Operation) {
	path, query, _ := strings.Cut(target, "?")
	for _, p := range specPaths(path) {
		u := "https://api.apify.com" + p
		if query != "" {
			u += "?" + query
		}
		req, err := http.NewRequest(method, u, nil)
		if err != nil {
			return nil, nil
		}
		item, _, _ := paths.FindPath(req, s.model, s.opts)
		if item == nil {
			continue
		}
		if op := helpers.ExtractOperation(req, item); op != nil {
			return req, op
		}
	}
	return nil, nil
}

// check validates one answer against the document and returns what is
// wrong with it. pattern is the server's route ("" when none matched);
// troupeOnly marks a route the document does not describe.
func (s *apiSpec) check(method, target, pattern string, troupeOnly bool, res response) []string {
	req, op := s.operation(method, target)
	if op == nil {
		switch {
		case res.status >= 400:
			return s.checkError(res)
		case troupeOnly:
			return nil
		}
		return []string{fmt.Sprintf("route %q is not in the OpenAPI document: list it in troupeOnlyRoutes", pattern)}
	}
	if res.status >= 400 && op.Responses.Codes.GetOrZero(strconv.Itoa(res.status)) == nil {
		// An error status the operation does not list: the body must
		// still be the API's error.
		return s.checkError(res)
	}
	if mt, _, _ := mime.ParseMediaType(res.header.Get("Content-Type")); res.status < 400 && mt != "application/json" {
		// Logs, records, CSV, JSONL...: the status and content type only.
		code := op.Responses.Codes.GetOrZero(strconv.Itoa(res.status))
		if code == nil {
			return []string{fmt.Sprintf("status %d is not documented", res.status)}
		}
		if code.Content != nil && code.Content.Len() > 0 && res.status != http.StatusNoContent {
			if _, ok := helpers.FindMediaType(code.Content, res.header.Get("Content-Type")); !ok {
				return []string{fmt.Sprintf("content type %q is not documented for %d", res.header.Get("Content-Type"), res.status)}
			}
		}
		return nil
	}
	if res.status == http.StatusNoContent && len(res.body) == 0 {
		// The document gives some 204 answers a JSON body; HTTP gives a
		// 204 none.
		return nil
	}
	resp := &http.Response{StatusCode: res.status, Header: res.header, Request: req,
		Body: io.NopCloser(bytes.NewReader(res.body))}
	if ok, errs := s.v.ValidateHttpResponse(req, resp); !ok {
		return describe(errs)
	}
	return nil
}

func (s *apiSpec) checkError(res response) []string {
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return []string{"error with Content-Type " + ct}
	}
	if ok, errs := s.schemas.ValidateSchemaBytes(s.errorSchema, res.body); !ok {
		return describe(errs)
	}
	return nil
}

func describe(errs []*liberrors.ValidationError) []string {
	var out []string
	for _, e := range errs {
		if len(e.SchemaValidationErrors) == 0 {
			out = append(out, e.Message+": "+e.Reason)
		}
		for _, f := range e.SchemaValidationErrors {
			r := f.Reason
			if len(r) > 160 {
				r = r[:160] + "…"
			}
			out = append(out, fmt.Sprintf("%s: %s", f.FieldPath, r))
		}
	}
	return out
}
