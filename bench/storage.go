package main

import "context"

// ---- 8. storages -----------------------------------------------------------

// storageScenarios are the storage benchmarks of the storages issue: dataset
// push and read throughput (1 KB items in batches of 1,000), key-value record
// put/get, and the request-queue add + lock + handle cycle, each as a ratio
// to a bare SQLite insert/select loop measured in the same run.
//
// This is the hook for them: append a scenario here (a method value such as (*bench).datasetPush; it gets the running
// server in b.srv, a client from b.srv.client, and b.sizes / b.opts.quick
// for its counts) and it runs after the growth scenario, its rows going into
// the same table. While the list is empty the table says the storages
// scenarios are not built yet.
var storageScenarios []scenario

func (b *bench) storages(ctx context.Context) ([]Row, error) {
	if len(storageScenarios) == 0 {
		return []Row{{Scenario: "storages (dataset, key-value, request queue)",
			Note: "not built yet: the storages issue adds its scenarios to storageScenarios in bench/storage.go"}}, nil
	}
	var rows []Row
	for _, sc := range storageScenarios {
		r, err := sc.run(b, ctx)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r...)
	}
	return rows, nil
}
