package main

import "github.com/spf13/cobra"

// addClientCommands adds the client commands (push, call, actors, runs, builds, ...).
// They find the server through --url/--token or TROUPE_URL/TROUPE_TOKEN.
func addClientCommands(root *cobra.Command) {
	sf := &serverFlags{}
	for _, cmd := range []*cobra.Command{
		newPushCmd(sf),
		newCallCmd(sf),
		newRunsCmd(sf),
		newBuildsCmd(sf),
		newRqCmd(sf),
		newDatasetsCmd(sf),
		newKVCmd(sf),
		newActorsCmd(sf),
		newWebhooksCmd(sf),
		newTasksCmd(sf),
		newSchedulesCmd(sf),
	} {
		sf.register(cmd)
		explainErrors(cmd, sf)
		root.AddCommand(cmd)
	}
}
