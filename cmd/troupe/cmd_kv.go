package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/troupehq/troupe/client"
)

func newKVCmd(sf *serverFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kv",
		Short: "Read and write key-value store records",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newKVGetCmd(sf), newKVSetCmd(sf), newKVKeysCmd(sf), newKVDeleteCmd(sf))
	return cmd
}

func newKVGetCmd(sf *serverFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "get STORE KEY",
		Short: `Print the value of the record KEY of STORE (an id, "username/name" or name) as stored`,
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			kv, err := storeRef(ctx, sf.client(), args[0])
			if err != nil {
				return err
			}
			rec, err := kv.GetRecord(ctx, args[1])
			if err != nil {
				return err
			}
			if rec == nil {
				return fmt.Errorf("store %s has no record %q", args[0], args[1])
			}
			_, err = cmd.OutOrStdout().Write(rec.Value)
			return err
		},
	}
}

func newKVSetCmd(sf *serverFlags) *cobra.Command {
	var file, value, contentType string
	cmd := &cobra.Command{
		Use:   "set STORE KEY",
		Short: "Store a record from --value, --file or standard input",
		Long: `Store the record KEY of STORE (an id, "username/name" or name), replacing
any record there. The value is --value, the contents of --file, or else
standard input. Its content type is --content-type, else guessed: from the
file name's extension, then application/json for a JSON object or array,
text/plain for other text, application/octet-stream for the rest.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var data []byte
			var err error
			switch {
			case cmd.Flags().Changed("value"):
				data = []byte(value)
			case file != "":
				if data, err = os.ReadFile(file); err != nil {
					return err
				}
			default:
				if data, err = io.ReadAll(cmd.InOrStdin()); err != nil {
					return fmt.Errorf("read standard input: %w", err)
				}
			}
			if contentType == "" {
				contentType = guessContentType(file, data)
			}
			ctx := cmd.Context()
			kv, err := storeRef(ctx, sf.client(), args[0])
			if err != nil {
				return err
			}
			return kv.SetRecord(ctx, args[1], data, contentType)
		},
	}
	f := cmd.Flags()
	f.StringVar(&value, "value", "", "the value")
	f.StringVar(&file, "file", "", "read the value from this file")
	f.StringVar(&contentType, "content-type", "", "the value's content type (default: guessed)")
	cmd.MarkFlagsMutuallyExclusive("value", "file")
	return cmd
}

// guessContentType guesses the content type of a record value read from
// file (empty for none).
func guessContentType(file string, data []byte) string {
	if ext := filepath.Ext(file); ext != "" {
		if ct := mime.TypeByExtension(ext); ct != "" {
			return ct
		}
	}
	trimmed := strings.TrimSpace(string(data))
	switch {
	case (strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[")) && json.Valid(data):
		return "application/json; charset=utf-8"
	case utf8.Valid(data) && !strings.ContainsRune(string(data), 0):
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

func newKVKeysCmd(sf *serverFlags) *cobra.Command {
	var (
		out    outputFlag
		prefix string
		limit  int
	)
	cmd := &cobra.Command{
		Use:   "keys STORE",
		Short: `List the keys of STORE (an id, "username/name" or name) with their sizes`,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			if limit < 0 {
				return fmt.Errorf("--limit must not be negative")
			}
			ctx := cmd.Context()
			kv, err := storeRef(ctx, sf.client(), args[0])
			if err != nil {
				return err
			}
			keys := []client.KeyInfo{}
			for k, err := range kv.Keys(ctx, &client.KeyListOptions{Prefix: prefix, Limit: limit}) {
				if err != nil {
					return err
				}
				keys = append(keys, k)
			}
			return out.print(cmd.OutOrStdout(), keys, func(w io.Writer) error {
				tw := newTable(w)
				fmt.Fprintln(tw, "KEY\tSIZE")
				for _, k := range keys {
					fmt.Fprintf(tw, "%s\t%s\n", k.Key, strconv.Itoa(k.Size))
				}
				return tw.Flush()
			})
		},
	}
	out.register(cmd)
	cmd.Flags().StringVar(&prefix, "prefix", "", "list only keys that start with this")
	cmd.Flags().IntVar(&limit, "limit", 0, "list at most this many keys (0: all)")
	return cmd
}

func newKVDeleteCmd(sf *serverFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete STORE KEY",
		Short: "Delete the record KEY of STORE",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			kv, err := storeRef(ctx, sf.client(), args[0])
			if err != nil {
				return err
			}
			return kv.DeleteRecord(ctx, args[1])
		},
	}
}

// storeRef returns the client of the key-value store the STORE argument
// names: an id, "username/name" or "~name", or a bare word, tried as an id
// first and taken as the name of one of the user's stores when no store
// has that id.
func storeRef(ctx context.Context, c *client.Client, arg string) (*client.KeyValueStoreClient, error) {
	if arg == "" {
		return nil, fmt.Errorf("no key-value store given")
	}
	if strings.ContainsAny(arg, "/~") {
		return c.KeyValueStore(arg), nil
	}
	st, err := c.KeyValueStore(arg).Get(ctx)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return c.KeyValueStore("~" + arg), nil
	}
	return c.KeyValueStore(arg), nil
}
