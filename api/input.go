package api

import (
	"bytes"
	"encoding/json"
	"sort"

	"github.com/troupehq/troupe"
)

// schemaDefaults returns the defaults an input schema gives its top-level
// properties (properties.*.default), in name order.
func schemaDefaults(schema json.RawMessage) []keyValue {
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
	var out []keyValue
	for name, p := range sc.Properties {
		if len(p.Default) > 0 {
			out = append(out, keyValue{name, p.Default})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

type keyValue struct {
	key   string
	value json.RawMessage
}

// runInput turns a request body into the input record of a run: the body
// as received with its content type, JSON checked, and the input schema's
// defaults merged into a JSON object input (or making up the whole input
// when there is no body, or it is JSON null). It returns nil when there is
// no input. run-input-body-not-valid-json.
func runInput(key string, body []byte, contentType string, schema json.RawMessage) (*troupe.Record, error) {
	defaults := schemaDefaults(schema)
	if len(body) == 0 {
		if len(defaults) == 0 {
			return nil, nil
		}
		return &troupe.Record{Key: key, Value: mergeDefaults([]byte("{}"), nil, defaults), ContentType: jsonContentType}, nil
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	rec := &troupe.Record{Key: key, Value: body, ContentType: contentType}
	if !isJSONType(contentType) {
		return rec, nil
	}
	if !json.Valid(body) {
		return nil, troupe.Errorf(troupe.ErrInputNotValidJSON, "The input is not valid JSON although its Content-Type is %s.", contentType)
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

const jsonContentType = "application/json; charset=utf-8"

// mergeDefaults adds the defaults missing from the JSON object obj (whose
// text is objText) before its closing brace, keeping the rest of the text
// as it was.
func mergeDefaults(objText []byte, obj map[string]json.RawMessage, defaults []keyValue) []byte {
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
