package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/troupehq/troupe/client"
)

// newExampleClient returns a client of a local troupe server.
func newExampleClient() *client.Client {
	return client.New(
		client.WithBaseURL("http://127.0.0.1:8700"),
		client.WithToken(os.Getenv("TROUPE_TOKEN")),
	)
}

func ExampleRunClient_Get() {
	c := newExampleClient()
	run, err := c.Run("HG7ML7M8z78YcAPEB").Get(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	if run == nil {
		fmt.Println("no such run")
		return
	}
	fmt.Println(run.Status)
}

func ExampleRunClient_WaitForFinish() {
	c := newExampleClient()
	// Wait at most five minutes; 0 waits as long as the run lasts.
	run, err := c.Run("HG7ML7M8z78YcAPEB").WaitForFinish(context.Background(), 300)
	if err != nil {
		log.Fatal(err)
	}
	if !run.Status.Terminal() {
		fmt.Println("still", run.Status)
		return
	}
	fmt.Println("finished", run.Status)
}

func ExampleRunClient_Abort() {
	c := newExampleClient()
	// Gracefully: the actor gets the aborting event and time to persist its
	// state before it is stopped.
	run, err := c.Run("HG7ML7M8z78YcAPEB").Abort(context.Background(), true)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(run.Status) // ABORTING, then ABORTED
}

func ExampleRunClient_Delete() {
	c := newExampleClient()
	if err := c.Run("HG7ML7M8z78YcAPEB").Delete(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func ExampleRunClient_Metamorph() {
	c := newExampleClient()
	// Usually called by the run itself, with the run's own token.
	input := []byte(`{"startUrls":["https://example.com"]}`)
	run, err := c.Run("HG7ML7M8z78YcAPEB").Metamorph(context.Background(), "alice/crawler", input,
		&client.MetamorphOptions{Build: "latest"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(run.Metamorphs[len(run.Metamorphs)-1].InputKey) // INPUT-METAMORPH-1
}

func ExampleRunClient_Reboot() {
	c := newExampleClient()
	run, err := c.Run("HG7ML7M8z78YcAPEB").Reboot(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(run.Stats.RebootCount)
}

func ExampleRunClient_Resurrect() {
	c := newExampleClient()
	run, err := c.Run("HG7ML7M8z78YcAPEB").Resurrect(context.Background(), &client.ResurrectOptions{
		MemoryMbytes: client.Ptr(2048),
		TimeoutSecs:  client.Ptr(600),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(run.Status) // RUNNING
}

func ExampleRunClient_Update() {
	c := newExampleClient()
	run, err := c.Run("HG7ML7M8z78YcAPEB").Update(context.Background(), &client.RunUpdate{
		StatusMessage:           client.Ptr("Crawled 120 of 500 pages"),
		IsStatusMessageTerminal: client.Ptr(false),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(*run.StatusMessage)
}

func ExampleRunClient_Log() {
	c := newExampleClient()
	ctx := context.Background()

	// The log so far.
	text, err := c.Run("HG7ML7M8z78YcAPEB").Log().Get(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(text)

	// Or follow it live until the run ends.
	stream, err := c.Run("HG7ML7M8z78YcAPEB").Log().Stream(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer stream.Close()
	if _, err := io.Copy(os.Stdout, stream); err != nil {
		log.Fatal(err)
	}
}

func ExampleActorClient_Call() {
	c := newExampleClient()
	run, err := c.Actor("alice/hello").Call(context.Background(), []byte(`{"name":"world"}`),
		&client.StartOptions{MemoryMbytes: client.Ptr(1024)}, 0)
	if err != nil {
		log.Fatal(err)
	}
	out, err := c.Run(run.ID).KeyValueStore().GetRecord(context.Background(), "OUTPUT")
	if err != nil {
		log.Fatal(err)
	}
	if out != nil {
		fmt.Printf("%s\n", out.Value)
	}
}

// Do reaches an endpoint the client does not wrap: here the user's
// account (GET /v2/users/me).
func ExampleClient_Do() {
	c := newExampleClient()
	ctx := context.Background()
	req, err := c.NewRequest(ctx, "GET", "/users/me", nil)
	if err != nil {
		log.Fatal(err)
	}
	var me struct {
		ID       string `json:"id"`
		Username string `json:"username"`
	}
	if _, err := c.Do(ctx, req, &me); err != nil {
		var apiErr *client.Error
		if errors.As(err, &apiErr) {
			log.Fatalf("%s: %s", apiErr.Type, apiErr.Message)
		}
		log.Fatal(err)
	}
	fmt.Println(me.Username)
}
