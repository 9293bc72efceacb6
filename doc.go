// Package troupe holds the domain of the troupe platform: actors, their
// versions and builds, runs and the statuses they move through, the storages a
// run owns, and the interfaces (Store, Executor) that adapters implement.
//
// The package imports only the standard library. Adapters live in
// subpackages named after their dependency (sqlite, executor/process, ...)
// and only cmd/troupe wires them together.
package troupe
