package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/client"
)

// hintError is an error whose message tells a person what to do.
type hintError struct {
	msg string
	err error
}

func (e *hintError) Error() string { return e.msg }
func (e *hintError) Unwrap() error { return e.err }

// cliErrorMessage is what the CLI prints after "troupe: " for err: the
// hint of an explained error, the message of an API error, the message of
// a troupe error, and the error text of anything else (bad arguments).
func cliErrorMessage(err error) string {
	var he *hintError
	if errors.As(err, &he) {
		return he.msg
	}
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Message
	}
	var te *troupe.Error
	if errors.As(err, &te) {
		return te.Message
	}
	return err.Error()
}

// explain turns the errors a person can act on into a hintError that
// says what to do: a server that cannot be reached at serverURL, a token
// that is missing or refused, an address that is not a troupe server.
// Other errors are returned as they are.
func explain(err error, serverURL string) error {
	if err == nil {
		return nil
	}
	hint := func(format string, a ...any) error { return &hintError{msg: fmt.Sprintf(format, a...), err: err} }
	var ce *client.Error
	var ue *url.Error
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return hint("interrupted")
	case errors.Is(err, syscall.ECONNREFUSED):
		return hint("cannot reach troupe at %s: is `troupe serve` running? (set the address with --url or TROUPE_URL)", serverURL)
	case errors.As(err, &ce):
		switch {
		case ce.StatusCode == http.StatusUnauthorized && ce.Type == "token-not-provided":
			return hint("no token was given: the admin token is in %s (pass it with --token or set TROUPE_TOKEN)", tokenPath())
		case ce.StatusCode == http.StatusUnauthorized:
			return hint("the token was refused: the admin token is in %s (or set TROUPE_TOKEN)", tokenPath())
		case ce.StatusCode == http.StatusNotFound && ce.Type == "":
			// Not an answer of troupe's API, which always gives a type.
			return hint("%s answered 404 Not Found: is it a troupe server?", serverURL)
		}
	case errors.As(err, &ue) && !errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne):
		msg := err.Error()
		if ue != nil {
			msg = ue.Err.Error()
		}
		return hint("cannot reach troupe at %s: %s", serverURL, msg)
	}
	return err
}

// tokenPath is where `troupe serve` keeps the admin token by default, with
// the home folder written "~".
func tokenPath() string {
	p := filepath.Join(defaultDataDir(), "token")
	if home, err := os.UserHomeDir(); err == nil && home != "" && strings.HasPrefix(p, home+string(filepath.Separator)) {
		p = "~" + p[len(home):]
	}
	return p
}

// explainErrors makes every command under cmd explain its errors (see
// explain) with the server sf names.
func explainErrors(cmd *cobra.Command, sf *serverFlags) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			return explain(run(cmd, args), sf.serverURL())
		}
	}
	for _, sub := range cmd.Commands() {
		explainErrors(sub, sf)
	}
}
