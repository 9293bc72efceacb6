package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/troupehq/troupe"
)

// statusByType is the one table from error types to HTTP statuses. Coded
// errors of a type not listed here are client errors (400); uncoded errors
// are internal (500).
var statusByType = map[string]int{
	troupe.ErrInvalidInput:      http.StatusBadRequest,
	troupe.ErrInvalidParameter:  http.StatusBadRequest,
	troupe.ErrInvalidValue:      http.StatusBadRequest,
	troupe.ErrParameterRequired: http.StatusBadRequest,
	troupe.ErrInvalidRecordKey:  http.StatusBadRequest,
	troupe.ErrInputNotValidJSON: http.StatusBadRequest,
	troupe.ErrInvalidRequest:    http.StatusBadRequest,
	troupe.ErrUnknownBuildTag:   http.StatusBadRequest,
	troupe.ErrMaxMetamorphs:     http.StatusBadRequest,
	troupe.ErrRunNotTerminal:    http.StatusBadRequest,
	troupe.ErrRunNotRunning:     http.StatusBadRequest,
	troupe.ErrJobFinished:       http.StatusBadRequest,
	troupe.ErrBuildFailed:       http.StatusBadRequest,

	troupe.ErrTokenNotProvided: http.StatusUnauthorized,
	troupe.ErrInvalidToken:     http.StatusUnauthorized,

	troupe.ErrInsufficientPermissions: http.StatusForbidden,

	troupe.ErrRecordNotFound: http.StatusNotFound,
	troupe.ErrPageNotFound:   http.StatusNotFound,

	troupe.ErrMethodNotAllowed:   http.StatusMethodNotAllowed,
	troupe.ErrRunTimeoutExceeded: http.StatusRequestTimeout,

	troupe.ErrNameNotUnique:        http.StatusConflict,
	troupe.ErrStorageNameNotUnique: http.StatusConflict,
	troupe.ErrConflict:             http.StatusConflict,
	troupe.ErrVersionExists:        http.StatusConflict,

	troupe.ErrRequestTooLarge:     http.StatusRequestEntityTooLarge,
	troupe.ErrUnsupportedEncoding: http.StatusUnsupportedMediaType,

	troupe.ErrInternal: http.StatusInternalServerError,
}

// statusOf returns the HTTP status of an error type.
func statusOf(typ string) int {
	if st, ok := statusByType[typ]; ok {
		return st
	}
	return http.StatusBadRequest
}

type errorBody struct {
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError answers with err as an API error. Internal errors are logged
// and answered with a generic message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var body errorBody
	var e *troupe.Error
	if errors.As(err, &e) {
		body.Error.Type, body.Error.Message = e.Type, e.Message
	} else {
		s.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		body.Error.Type, body.Error.Message = troupe.ErrInternal, "Internal server error."
	}
	h := w.Header()
	for _, k := range []string{"Content-Encoding", "Content-Disposition", "Content-Length", "Location"} {
		h.Del(k)
	}
	writeJSONStatus(w, statusOf(body.Error.Type), body)
}

// writeJSONStatus writes v as the JSON response with the given status.
func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// envelope is the API's success body.
type envelope struct {
	Data any `json:"data"`
}

// writeData answers {"data": v} with the given status.
func writeData(w http.ResponseWriter, status int, v any) {
	writeJSONStatus(w, status, envelope{Data: v})
}

// notFound is the record-not-found error for a kind of thing.
func notFound(what, id string) error {
	return troupe.Errorf(troupe.ErrRecordNotFound, "%s %q was not found.", what, id)
}
