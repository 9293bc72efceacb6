// Package client is a Go client for the Apify API v2 as troupe serves it. It
// works as well against the hosted API (the default base URL).
//
// Create one [Client] with [New] and reach resources through it:
//
//	c := client.New(client.WithBaseURL("http://127.0.0.1:8700"), client.WithToken(tok))
//	run, err := c.Actor("alice/hello").Call(ctx, []byte(`{"n":1}`), nil, 0)
//	log, err := c.Run(run.ID).Log().Get(ctx)
//
// Resource clients ([RunClient], [ActorClient], [BuildClient],
// [KeyValueStoreClient], [LogClient], ...) are cheap values that only hold a
// path; they do no I/O until a method is called. Every method takes a
// context, sends exactly one logical API call (retried on network errors,
// 429 and 5xx answers with exponential backoff and jitter) and returns an
// [*Error] for answers with an error status.
//
// Get methods return nil and no error when the resource does not exist (a 404
// answer of type record-not-found), like the reference clients do; other
// methods return the error, which [IsNotFound] recognises.
//
// Optional parameters live in options structs whose pointer fields tell
// "not given" from a zero value; [Ptr] makes such pointers.
//
// Its types ([Run], [Actor], [Build], [Storage], ...) hold what the API
// sends and nothing more. For an endpoint the client does not wrap, build a
// request with [Client.NewRequest] and send it with [Client.Do], which
// decodes the data envelope and returns API errors as [*Error].
//
// The package imports only the standard library.
package client
