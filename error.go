package troupe

import (
	"errors"
	"fmt"
)

// Error types used across troupe. They are the `error.type` strings of the
// API; the api package maps each to an HTTP status.
const (
	ErrInternal                = "internal-server-error"
	ErrRecordNotFound          = "record-not-found"
	ErrInvalidInput            = "invalid-input"
	ErrInvalidParameter        = "invalid-parameter"
	ErrInvalidValue            = "invalid-value"
	ErrParameterRequired       = "parameter-required"
	ErrInvalidRecordKey        = "invalid-record-key"
	ErrInputNotValidJSON       = "run-input-body-not-valid-json"
	ErrInvalidRequest          = "invalid-request"
	ErrNameNotUnique           = "actor-name-not-unique"
	ErrUnknownBuildTag         = "unknown-build-tag"
	ErrMaxMetamorphs           = "max-metamorphs-exceeded"
	ErrRunNotTerminal          = "cannot-remove-running-run"
	ErrRunNotRunning           = "operation-not-allowed"
	ErrRunNotFinished          = "operation-not-allowed"
	ErrJobFinished             = "job-finished"
	ErrConflict                = "concurrent-update-detected"
	ErrTokenNotProvided        = "token-not-provided"
	ErrInvalidToken            = "invalid-token"
	ErrMethodNotAllowed        = "method-not-allowed"
	ErrPageNotFound            = "page-not-found"
	ErrRequestTooLarge         = "request-too-large"
	ErrUnsupportedEncoding     = "unsupported-content-encoding"
	ErrRunTimeoutExceeded      = "run-timeout-exceeded"
	ErrBuildFailed             = "invalid-build"
	ErrVersionExists           = "version-already-exists"
	ErrDeletingUnfinishedBuild = "deleting-unfinished-build"
	ErrDeletingDefaultBuild    = "deleting-default-build"
	ErrStorageNameNotUnique    = "name-not-unique"
	ErrCannotCharge            = "cannot-charge-non-pay-per-event-actor"
	// ErrInsufficientPermissions: a run's token may not make the request.
	ErrInsufficientPermissions = "insufficient-permissions"
)

// Error is troupe's one coded error. Type is one of the Err* constants (or
// another documented API error type); Message is safe to show to users.
type Error struct {
	Type    string
	Message string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// Errorf returns an *Error of the given type with a formatted message.
func Errorf(typ, format string, args ...any) *Error {
	return &Error{Type: typ, Message: fmt.Sprintf(format, args...)}
}

// ErrorType returns the type of err when it is (or wraps) an *Error, and
// ErrInternal otherwise.
func ErrorType(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Type
	}
	return ErrInternal
}

// ErrorMessage returns the user-facing message of err. Uncoded errors are
// internal and get a generic message so that no detail leaks.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// IsNotFound reports whether err is a record-not-found error.
func IsNotFound(err error) bool { return ErrorType(err) == ErrRecordNotFound }
