package api

import "github.com/troupehq/troupe"

// routes registers every /v2 route, one function per resource.
func (s *Server) routes() {
	for _, p := range actorPrefixes {
		s.routeActors(p)
	}
	s.routeTasks()
	s.routeSchedules()
	s.routeRuns()
	s.routeUsers()
	s.routeBuilds()
	s.routeWebhooks()
	s.handleGuarded("GET /v2/logs/{jobId}", s.logGuard, s.getLog)
	s.routeStorages(troupe.KindDataset, s.routeItems)
	s.routeStorages(troupe.KindKeyValueStore, s.routeKeyValueStore)
	s.routeStorages(troupe.KindRequestQueue, s.routeRequestQueue)
	// The SDK asks for STATUS_URL + "/?format=json".
	s.mux.HandleFunc("GET /v2/proxy-status", s.getProxyStatus)
	s.mux.HandleFunc("GET /v2/proxy-status/{$}", s.getProxyStatus)
}

// actorPrefixes are the two prefixes of actor routes: /v2/acts is the
// legacy alias older clients and SDKs call.
var actorPrefixes = []string{"/v2/actors", "/v2/acts"}

// runPrefixes lists every prefix that names one run: by id, the last run
// of an actor or a task (status filter in ?status=) and the deprecated run
// path under its actor.
func runPrefixes() []string {
	out := []string{"/v2/actor-runs/{runId}", "/v2/actor-tasks/{actorTaskId}/runs/last"}
	for _, p := range actorPrefixes {
		out = append(out, p+"/{actorId}/runs/last", p+"/{actorId}/runs/{runId}")
	}
	return out
}

func (s *Server) routeActors(p string) {
	s.handle("GET "+p, s.listActors)
	s.handle("POST "+p, s.createActor)
	a := p + "/{actorId}"
	// A limited run reads actors and their default builds to start them.
	s.handleGuarded("GET "+a, allowLimited, s.getActor)
	s.handle("PUT "+a, s.updateActor)
	s.handle("DELETE "+a, s.deleteActor)

	s.handle("GET "+a+"/versions", s.listVersions)
	s.handle("POST "+a+"/versions", s.createVersion)
	s.handle("GET "+a+"/versions/{versionNumber}", s.getVersion)
	s.handle("PUT "+a+"/versions/{versionNumber}", s.updateVersion)
	s.handle("DELETE "+a+"/versions/{versionNumber}", s.deleteVersion)

	s.handle("GET "+a+"/builds", s.listBuilds)
	s.handle("POST "+a+"/builds", s.createBuild)
	s.handleGuarded("GET "+a+"/builds/default", allowLimited, s.getDefaultBuild)

	s.handle("GET "+a+"/runs", s.listRuns)
	// Any run may start actors; a limited run's runs are limited too.
	s.handleGuarded("POST "+a+"/runs", allowLimited, s.runActor)
	s.handleGuarded("GET "+a+"/run-sync", allowLimited, s.runSync)
	s.handleGuarded("POST "+a+"/run-sync", allowLimited, s.runSync)
	s.handleGuarded("GET "+a+"/run-sync-get-dataset-items", allowLimited, s.runSyncItems)
	s.handleGuarded("POST "+a+"/run-sync-get-dataset-items", allowLimited, s.runSyncItems)
}

func (s *Server) routeRuns() {
	s.handle("GET /v2/actor-runs", s.listRuns)
	own, ownOrStarted := s.runGuard(ownRun), s.runGuard(ownOrStartedRun)
	for _, p := range runPrefixes() {
		s.handleGuarded("GET "+p, ownOrStarted, s.getRunHandler)
		s.handleOutliving("PUT "+p, own, s.updateRunHandler)
		s.handle("DELETE "+p, s.deleteRunHandler)
		s.handleGuarded("POST "+p+"/abort", ownOrStarted, s.abortRun)
		s.handleGuarded("POST "+p+"/metamorph", own, s.metamorphRun)
		s.handleGuarded("POST "+p+"/reboot", own, s.rebootRun)
		s.handle("POST "+p+"/resurrect", s.resurrectRun)
		s.handleGuarded("GET "+p+"/log", ownOrStarted, s.getRunLog)
		s.handleGuarded("POST "+p+"/charge", own, s.chargeRun)
	}
	// runEvents admits only the admin and the run's own token.
	s.handleGuarded("GET /v2/actor-runs/{runId}/events", allowLimited, s.runEvents)
}

func (s *Server) routeBuilds() {
	s.handleGuarded("GET /v2/actor-builds/{buildId}", allowLimited, s.getBuildHandler)
	s.handle("GET /v2/actor-builds/{buildId}/log", s.getBuildLog)
	// The handler admits only the admin and the runs of the build.
	s.handleGuarded("GET /v2/actor-builds/{buildId}/artifact", allowLimited, s.getBuildArtifact)
	s.handle("POST /v2/actor-builds/{buildId}/abort", s.abortBuild)
	s.handle("DELETE /v2/actor-builds/{buildId}", s.deleteBuild)
	s.routeInstall()
}

// routeStorages registers the collection routes of a kind of storage and,
// under every prefix that names one storage of the kind (storageMounts), its
// object routes plus what sub adds (records, items, requests...). Content
// routes of a kind go in a function like routeRecords, called here for each
// mount, so that run shortcuts get them too.
func (s *Server) routeStorages(kind troupe.StorageKind, sub func(m storageMount)) {
	s.handle("GET /v2/"+string(kind), s.listStorages(kind))
	// createStorage refuses a limited run an existing storage it does not
	// reach.
	s.handleGuarded("POST /v2/"+string(kind), allowLimited, s.createStorage(kind))
	for _, m := range s.storageMounts(kind) {
		s.handleMount(m, "GET "+m.prefix, s.getStorage(m.ref))
		s.handleMount(m, "PUT "+m.prefix, s.updateStorage(m.ref))
		s.handleMount(m, "DELETE "+m.prefix, s.deleteStorage(m.ref))
		if sub != nil {
			sub(m)
		}
	}
}

// handleMount registers h for a route of a storage mount: a limited run
// reaches it only for a storage it reaches (storageGuard).
func (s *Server) handleMount(m storageMount, pattern string, h handlerFunc) {
	s.handleGuarded(pattern, s.storageGuard(m.ref), h)
}

// routeRecords registers the record routes of one key-value store mount.
func (s *Server) routeRecords(m storageMount) {
	rec := m.prefix + "/records/{recordKey}"
	s.handleMount(m, "GET "+rec, s.getRecord(m.ref))
	s.handleMount(m, "PUT "+rec, s.putRecord(m.ref))
	s.handleMount(m, "POST "+rec, s.putRecord(m.ref))
	s.handleMount(m, "DELETE "+rec, s.deleteRecord(m.ref))
}
