package controller

import (
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"syscall"

	"github.com/troupehq/troupe"
)

// startError is why a run's process could not start, in two forms: msg for
// the run's user (its status message and log), which names no server path
// and no secret, and err, the cause for the server's own log.
type startError struct {
	msg string
	err error
}

func (e *startError) Error() string { return e.msg + " (" + e.err.Error() + ")" }
func (e *startError) Unwrap() error { return e.err }

// serverMessage is what the user is told when the server itself failed.
const serverMessage = "troupe could not launch it because of a problem on the server; the server's log has the details."

// serverFailure is a failure of the server itself while it prepared a start.
func serverFailure(what string, err error) error {
	return &startError{msg: serverMessage, err: fmt.Errorf("%s: %w", what, err)}
}

// execFailure words an error of troupe.Executor.Start for the user. A coded
// error (*troupe.Error) carries its own message for users; the usual causes
// of an uncoded one (the program is missing, not executable, not a program)
// are named; anything else is the server's failure.
func execFailure(program string, err error) error {
	var msg string
	switch {
	case troupe.ErrorType(err) != troupe.ErrInternal:
		msg = troupe.ErrorMessage(err)
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		msg = fmt.Sprintf("the program %q of the build's start command was not found.", program)
	case errors.Is(err, fs.ErrPermission):
		msg = fmt.Sprintf("the program %q of the build's start command may not be executed (permission denied).", program)
	case errors.Is(err, syscall.ENOEXEC):
		msg = fmt.Sprintf("the program %q of the build's start command is not a program this server can run.", program)
	default:
		msg = serverMessage
	}
	return &startError{msg: msg, err: err}
}

// startFailure returns the words for the user of an error of startProc.
func startFailure(err error) string {
	var se *startError
	switch {
	case errors.As(err, &se):
		return se.msg
	case troupe.ErrorType(err) != troupe.ErrInternal:
		return troupe.ErrorMessage(err)
	}
	return serverMessage
}
