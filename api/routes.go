package api

import "github.com/troupehq/troupe"

// routes registers every /v2 route, one function per resource.
func (s *Server) routes() {
	for _, p := range actorPrefixes {
		s.routeActors(p)
	}
	s.routeRuns()
	s.routeBuilds()
	s.handle("GET /v2/logs/{jobId}", s.getLog)
	s.routeStorages(troupe.KindDataset, s.routeItems)
	s.routeStorages(troupe.KindKeyValueStore, s.routeKeyValueStore)
	s.routeStorages(troupe.KindRequestQueue, s.routeRequestQueue)
}

// actorPrefixes are the two prefixes of actor routes: /v2/acts is the
// legacy alias older clients and SDKs call.
var actorPrefixes = []string{"/v2/actors", "/v2/acts"}

// runPrefixes lists every prefix that names one run: by id, the last run
// of an actor (status filter in ?status=) and the deprecated run path under
// its actor.
func runPrefixes() []string {
	out := []string{"/v2/actor-runs/{runId}"}
	for _, p := range actorPrefixes {
		out = append(out, p+"/{actorId}/runs/last", p+"/{actorId}/runs/{runId}")
	}
	return out
}

func (s *Server) routeActors(p string) {
	s.handle("GET "+p, s.listActors)
	s.handle("POST "+p, s.createActor)
	a := p + "/{actorId}"
	s.handle("GET "+a, s.getActor)
	s.handle("PUT "+a, s.updateActor)
	s.handle("DELETE "+a, s.deleteActor)

	s.handle("GET "+a+"/versions", s.listVersions)
	s.handle("POST "+a+"/versions", s.createVersion)
	s.handle("GET "+a+"/versions/{versionNumber}", s.getVersion)
	s.handle("PUT "+a+"/versions/{versionNumber}", s.updateVersion)
	s.handle("DELETE "+a+"/versions/{versionNumber}", s.deleteVersion)

	s.handle("GET "+a+"/builds", s.listBuilds)
	s.handle("POST "+a+"/builds", s.createBuild)
	s.handle("GET "+a+"/builds/default", s.getDefaultBuild)

	s.handle("GET "+a+"/runs", s.listRuns)
	s.handle("POST "+a+"/runs", s.runActor)
	s.handle("GET "+a+"/run-sync", s.runSync)
	s.handle("POST "+a+"/run-sync", s.runSync)
	s.handle("GET "+a+"/run-sync-get-dataset-items", s.runSyncItems)
	s.handle("POST "+a+"/run-sync-get-dataset-items", s.runSyncItems)
}

func (s *Server) routeRuns() {
	s.handle("GET /v2/actor-runs", s.listRuns)
	for _, p := range runPrefixes() {
		s.handle("GET "+p, s.getRunHandler)
		s.handle("PUT "+p, s.updateRunHandler)
		s.handle("DELETE "+p, s.deleteRunHandler)
		s.handle("POST "+p+"/abort", s.abortRun)
		s.handle("POST "+p+"/metamorph", s.metamorphRun)
		s.handle("POST "+p+"/reboot", s.rebootRun)
		s.handle("POST "+p+"/resurrect", s.resurrectRun)
		s.handle("GET "+p+"/log", s.getRunLog)
		s.handle("POST "+p+"/charge", s.chargeRun)
	}
	s.handle("GET /v2/actor-runs/{runId}/events", s.runEvents)
}

func (s *Server) routeBuilds() {
	s.handle("GET /v2/actor-builds/{buildId}", s.getBuildHandler)
	s.handle("GET /v2/actor-builds/{buildId}/log", s.getBuildLog)
	s.handle("POST /v2/actor-builds/{buildId}/abort", s.abortBuild)
}

// routeStorages registers the collection routes of a kind of storage and,
// under every prefix that names one storage of the kind (storageMounts), its
// object routes plus what sub adds (records, items, requests...). Content
// routes of a kind go in a function like routeRecords, called here for each
// mount, so that run shortcuts get them too.
func (s *Server) routeStorages(kind troupe.StorageKind, sub func(m storageMount)) {
	s.handle("GET /v2/"+string(kind), s.listStorages(kind))
	s.handle("POST /v2/"+string(kind), s.createStorage(kind))
	for _, m := range s.storageMounts(kind) {
		s.handle("GET "+m.prefix, s.getStorage(m.ref))
		s.handle("PUT "+m.prefix, s.updateStorage(m.ref))
		s.handle("DELETE "+m.prefix, s.deleteStorage(m.ref))
		if sub != nil {
			sub(m)
		}
	}
}

// routeRecords registers the record routes of one key-value store mount.
func (s *Server) routeRecords(m storageMount) {
	rec := m.prefix + "/records/{recordKey}"
	s.handle("GET "+rec, s.getRecord(m.ref))
	s.handle("PUT "+rec, s.putRecord(m.ref))
	s.handle("POST "+rec, s.putRecord(m.ref))
	s.handle("DELETE "+rec, s.deleteRecord(m.ref))
}
