package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/troupehq/troupe/client"
)

// itemFormats are the formats `datasets items` can print.
var itemFormats = []string{"json", "jsonl", "csv", "html", "xml"}

func newDatasetsCmd(sf *serverFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "datasets",
		Short: "Read datasets",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newDatasetsItemsCmd(sf))
	return cmd
}

func newDatasetsItemsCmd(sf *serverFlags) *cobra.Command {
	var (
		format string
		opts   client.DownloadOptions
		bom    bool
	)
	cmd := &cobra.Command{
		Use:   "items DATASET",
		Short: `Print the items of DATASET (an id, "username/name" or name)`,
		Long: `Print the items of DATASET (an id, "username/name" or name) in a format:
json (default), jsonl, csv, html or xml. The server streams them, so any
size of dataset can be exported, e.g. troupe datasets items ID --format csv > items.csv.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format = strings.ToLower(format)
			if !slices.Contains(itemFormats, format) {
				return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(itemFormats, ", "))
			}
			if opts.Limit < 0 || opts.Offset < 0 {
				return fmt.Errorf("--limit and --offset must not be negative")
			}
			opts.BOM = &bom
			ctx := cmd.Context()
			ds, err := datasetRef(ctx, sf.client(), args[0])
			if err != nil {
				return err
			}
			body, err := ds.DownloadItems(ctx, format, &opts)
			if err != nil {
				return err
			}
			defer body.Close()
			_, err = io.Copy(cmd.OutOrStdout(), body)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "json", "output format: "+strings.Join(itemFormats, ", "))
	f.IntVar(&opts.Limit, "limit", 0, "print at most this many items (0: all)")
	f.IntVar(&opts.Offset, "offset", 0, "skip this many items")
	f.BoolVar(&opts.Desc, "desc", false, "newest items first")
	f.BoolVar(&opts.Clean, "clean", false, `leave out fields starting with "#" and empty items`)
	f.StringSliceVar(&opts.Fields, "fields", nil, "keep only these fields, in this order (comma-separated)")
	f.StringSliceVar(&opts.Omit, "omit", nil, "leave out these fields (comma-separated)")
	f.BoolVar(&bom, "bom", false, "start the output with a UTF-8 byte order mark (spreadsheets like it in csv files)")
	return cmd
}

// datasetRef returns the client of the dataset the DATASET argument names:
// an id, "username/name" or "~name", or a bare word, tried as an id first
// and taken as the name of one of the user's datasets when no dataset has
// that id.
func datasetRef(ctx context.Context, c *client.Client, arg string) (*client.DatasetClient, error) {
	if arg == "" {
		return nil, fmt.Errorf("no dataset given")
	}
	if strings.ContainsAny(arg, "/~") {
		return c.Dataset(arg), nil
	}
	ds, err := c.Dataset(arg).Get(ctx)
	if err != nil {
		return nil, err
	}
	if ds == nil {
		return c.Dataset("~" + arg), nil
	}
	return c.Dataset(arg), nil
}
