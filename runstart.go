package troupe

import (
	"bytes"
	"encoding/json"
	"mime"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// RunDefaults are the server's options for runs whose actor sets none.
type RunDefaults struct {
	TimeoutSecs  int
	MemoryMbytes int
}

// StartOptions are the options a caller sets when starting a run. An empty
// Build or a nil field keeps the actor's default. New options are added
// here and applied in [NewRun].
type StartOptions struct {
	// Build is a build tag or number; empty means the actor's default
	// build, else "latest".
	Build             string
	TimeoutSecs       *int
	MemoryMbytes      *int
	MaxItems          *int
	MaxTotalChargeUsd *float64
	RestartOnError    *bool
	// ForcePermissionLevel is PermissionsLimited or PermissionsFull; empty
	// keeps the actor's level.
	ForcePermissionLevel string
	// Webhooks is the webhooks option: Base64 of a JSON array of ad-hoc
	// webhooks for the new run (see [ParseAdHocWebhooks]).
	Webhooks string
}

// Resurrect returns the options o gives a resurrected run; b is the build
// o.Build names, resolved (nil keeps the run's build). Options o leaves
// unset keep the run's values.
func (o StartOptions) Resurrect(b *Build) ResurrectOptions {
	return ResurrectOptions{
		Build:          b,
		MemoryMbytes:   o.MemoryMbytes,
		TimeoutSecs:    o.TimeoutSecs,
		MaxItems:       o.MaxItems,
		RestartOnError: o.RestartOnError,
	}
}

// NewRunParams is everything a new run is made of. Build is the resolved
// build (see [CheckRunBuild]); Input and ContentType are the request body
// that becomes the run's INPUT record.
type NewRunParams struct {
	Actor       *Actor
	Build       *Build
	Options     StartOptions
	Defaults    RunDefaults
	UserID      string
	Meta        RunMeta
	Input       []byte
	ContentType string
	Now         time.Time
	// StartedBy is the run whose token starts the new run (nil for the
	// admin). The new run of a limited run is limited too.
	StartedBy *Run
}

// NewRun returns a new READY run of p.Actor's build p.Build and its INPUT
// record (nil when the run has no input). Options come from p.Options,
// else the actor's default run options, else p.Defaults; the disk is twice
// the memory. Ad-hoc webhooks of o.Webhooks go in run.AdHocWebhooks
// (invalid-parameter when they are not valid). The run gets fresh default storages, and its timeout counts from
// p.Now. Its permission level is o.ForcePermissionLevel, else the actor's
// default run options', else the actor's, and always LIMITED_PERMISSIONS
// when p.StartedBy is limited; it keeps the strings of its input that may
// name storages (InputRefs). run-input-body-not-valid-json when a JSON input
// is not valid JSON.
func NewRun(p NewRunParams) (*Run, *Record, error) {
	input, err := RunInput("INPUT", p.Input, p.ContentType, p.Build.InputSchema)
	if err != nil {
		return nil, nil, err
	}
	d := p.Actor.DefaultRunOptions
	o := p.Options
	opts := RunOptions{
		Build:             BuildRef(p.Actor, o.Build),
		TimeoutSecs:       d.TimeoutSecs,
		MemoryMbytes:      d.MemoryMbytes,
		MaxItems:          d.MaxItems,
		RestartOnError:    d.RestartOnError,
		MaxTotalChargeUsd: o.MaxTotalChargeUsd,
	}
	if opts.TimeoutSecs <= 0 {
		opts.TimeoutSecs = p.Defaults.TimeoutSecs
	}
	if opts.MemoryMbytes <= 0 {
		opts.MemoryMbytes = p.Defaults.MemoryMbytes
	}
	if o.TimeoutSecs != nil {
		opts.TimeoutSecs = *o.TimeoutSecs
	}
	if o.MemoryMbytes != nil {
		opts.MemoryMbytes = *o.MemoryMbytes
	}
	if o.MaxItems != nil {
		opts.MaxItems = o.MaxItems
	}
	if o.RestartOnError != nil {
		opts.RestartOnError = *o.RestartOnError
	}
	opts.DiskMbytes = 2 * opts.MemoryMbytes

	bodyLen := len(p.Input)
	run := &Run{
		ID:                        NewID(),
		ActID:                     p.Actor.ID,
		UserID:                    p.UserID,
		StartedAt:                 p.Now,
		Status:                    StatusReady,
		Meta:                      p.Meta,
		Stats:                     RunStats{InputBodyLen: &bodyLen},
		Options:                   opts,
		BuildID:                   p.Build.ID,
		BuildNumber:               p.Build.BuildNumber,
		GeneralAccess:             "FOLLOW_USER_SETTING",
		DefaultKeyValueStoreID:    NewID(),
		DefaultDatasetID:          NewID(),
		DefaultRequestQueueID:     NewID(),
		Usage:                     map[string]float64{},
		UsageUsd:                  map[string]float64{},
		PricingInfo:               FreePricing(p.Now),
		ChargedEventCounts:        map[string]int{},
		Metamorphs:                []Metamorph{},
		PlatformUsageBillingModel: "USER",
		Control:                   RunControl{Generation: 1, InputKey: "INPUT"},
	}
	run.StorageIDs = StorageIDs{
		Datasets:       map[string]string{"default": run.DefaultDatasetID},
		KeyValueStores: map[string]string{"default": run.DefaultKeyValueStoreID},
		RequestQueues:  map[string]string{"default": run.DefaultRequestQueueID},
	}
	run.Control.PermissionLevel = runPermissionLevel(p.Actor, o.ForcePermissionLevel, p.StartedBy)
	if p.StartedBy != nil {
		run.Control.StartedBy = p.StartedBy.ID
	}
	run.Control.InputRefs = InputRefs(input)
	run.SetTimeout(p.Now)
	if o.Webhooks != "" {
		if run.AdHocWebhooks, err = ParseAdHocWebhooks(o.Webhooks, p.UserID, run.ID, p.Now); err != nil {
			return nil, nil, err
		}
	}
	return run, input, nil
}

// BuildRef returns the build tag or number a run of a uses: ref when given,
// else the actor's default build, else "latest". It is what options.build
// shows.
func BuildRef(a *Actor, ref string) string {
	if ref == "" {
		ref = a.DefaultRunOptions.Build
	}
	if ref == "" {
		ref = "latest"
	}
	return ref
}

// CheckRunBuild checks that b, the build ref names for actor a (nil when
// ref names none), can run: it must exist and have succeeded.
// unknown-build-tag.
func CheckRunBuild(a *Actor, ref string, b *Build) error {
	if b == nil {
		return Errorf(ErrUnknownBuildTag, "Actor %s has no build with tag or number %q.", a.ID, ref)
	}
	if b.Status != StatusSucceeded {
		return Errorf(ErrUnknownBuildTag, "Build %s (%q) of actor %s is %s, not SUCCEEDED.", b.BuildNumber, ref, a.ID, b.Status)
	}
	return nil
}

// IsJSONContentType reports whether a Content-Type is JSON
// (application/json or any +json type).
func IsJSONContentType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt, _, _ = strings.Cut(contentType, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// RunInput turns a request body into the input record (under key) of a
// run: the body as received with its content type, JSON checked, and the
// input schema's defaults (properties.*.default) merged into a JSON object
// input, or making up the whole input when there is no body or it is JSON
// null. It returns nil when there is no input.
// run-input-body-not-valid-json (invalid UTF-8 included).
func RunInput(key string, body []byte, contentType string, schema json.RawMessage) (*Record, error) {
	defaults := schemaDefaults(schema)
	if len(body) == 0 {
		if len(defaults) == 0 {
			return nil, nil
		}
		return &Record{Key: key, Value: mergeDefaults([]byte("{}"), nil, defaults), ContentType: jsonUTF8}, nil
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	rec := &Record{Key: key, Value: body, ContentType: contentType}
	if !IsJSONContentType(contentType) {
		return rec, nil
	}
	if !json.Valid(body) || !utf8.Valid(body) {
		return nil, Errorf(ErrInputNotValidJSON, "The input is not valid JSON although its Content-Type is %s.", contentType)
	}
	if len(defaults) == 0 {
		return rec, nil
	}
	trimmed := bytes.TrimSpace(body)
	switch {
	case string(trimmed) == "null":
		rec.Value = mergeDefaults([]byte("{}"), nil, defaults)
	case len(trimmed) > 0 && trimmed[0] == '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &obj); err == nil {
			rec.Value = mergeDefaults(trimmed, obj, defaults)
		}
	}
	return rec, nil
}

const jsonUTF8 = "application/json; charset=utf-8"

type schemaDefault struct {
	key   string
	value json.RawMessage
}

// schemaDefaults returns the defaults an input schema gives its top-level
// properties (properties.*.default), in name order.
func schemaDefaults(schema json.RawMessage) []schemaDefault {
	if len(schema) == 0 {
		return nil
	}
	var sc struct {
		Properties map[string]struct {
			Default json.RawMessage `json:"default"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(schema, &sc); err != nil {
		return nil
	}
	var out []schemaDefault
	for name, p := range sc.Properties {
		if len(p.Default) > 0 {
			out = append(out, schemaDefault{name, p.Default})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// mergeDefaults adds the defaults missing from the JSON object obj (whose
// text is objText) before its closing brace, keeping the rest of the text
// as it was.
func mergeDefaults(objText []byte, obj map[string]json.RawMessage, defaults []schemaDefault) []byte {
	var add bytes.Buffer
	n := len(obj)
	for _, d := range defaults {
		if _, ok := obj[d.key]; ok {
			continue
		}
		if n > 0 {
			add.WriteByte(',')
		}
		k, _ := json.Marshal(d.key)
		add.Write(k)
		add.WriteByte(':')
		add.Write(d.value)
		n++
	}
	if add.Len() == 0 {
		return objText
	}
	end := bytes.LastIndexByte(objText, '}')
	out := make([]byte, 0, len(objText)+add.Len())
	out = append(out, objText[:end]...)
	out = append(out, add.Bytes()...)
	return append(out, objText[end:]...)
}

// FreePricing is the pricing of every run on troupe: free, with no
// margin, in effect since the run started.
func FreePricing(started time.Time) map[string]any {
	return map[string]any{"pricingModel": "FREE", "apifyMarginPercentage": 0,
		"createdAt": started, "startedAt": started}
}
