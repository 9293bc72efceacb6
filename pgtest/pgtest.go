// Package pgtest starts throwaway PostgreSQL servers for tests, from the
// PostgreSQL binaries installed on the machine (initdb and postgres). No
// external database is assumed.
//
// A test binary shares one server, started on first use, and gives every
// test its own fresh database:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		url := pgtest.NewDatabase(t) // postgres://postgres@127.0.0.1:PORT/t_1?sslmode=disable
//		...
//	}
//
// Each database is created from template0 and dropped (in the background)
// when its test ends. NewPreparedDatabase instead copies a template that is
// set up once per test binary, e.g. with a schema already applied.
//
// The server listens on 127.0.0.1 only, on a free port, with its unix socket
// in its own temporary folder, trusts every local connection (user
// "postgres", no password) and trades durability for speed (fsync,
// synchronous_commit and full_page_writes are off; StartDurable keeps
// PostgreSQL's durable defaults instead). When the tests run as
// root, initdb and postgres (which refuse to run as root) run as the
// "postgres" system user (or "nobody" when there is none).
//
// The cluster files initdb makes are cached (per PostgreSQL version) in the
// temporary folder, so that only the first test binary of a machine pays for
// initdb; every server still gets its own copy. The server gets SIGQUIT
// (immediate shutdown) when the test process exits, even when Main is not
// called, but only Main (or Server.Stop) removes its folder.
//
// A test that needs PostgreSQL fails (it is never skipped) when the binaries
// are missing. The binaries are looked up in $TROUPE_PG_BIN, then in the
// folder `pg_config --bindir` names, then in /usr/lib/postgresql/*/bin (the
// newest version), /usr/local/pgsql/bin and $PATH.
package pgtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// BinEnv names the environment variable that can point at the folder of the
// PostgreSQL server binaries.
const BinEnv = "TROUPE_PG_BIN"

// Superuser is the name of the superuser of the servers pgtest starts.
const Superuser = "postgres"

// startTimeout bounds how long a server may take to accept connections.
const startTimeout = 60 * time.Second

// Server is a running throwaway PostgreSQL server. Its methods are safe for
// concurrent use.
type Server struct {
	dir    string // temporary folder: socket and data/
	port   int
	binDir string
	major  int
	// durable keeps PostgreSQL's durable defaults (StartDurable).
	durable bool

	cmd    *exec.Cmd
	exited chan struct{} // closed when postgres has exited
	log    *tail

	admin *pgxpool.Pool // connections to the "postgres" database
	drops sync.WaitGroup

	templates sync.Map // name → *template

	dbSeq    atomic.Int64
	stopOnce sync.Once
	stopErr  error
}

// Start initialises a new cluster in a temporary folder and starts a server
// on it. The caller must Stop it.
func Start(ctx context.Context) (*Server, error) { return start(ctx, false) }

// StartDurable is Start with PostgreSQL's own durable settings (fsync,
// synchronous_commit and full_page_writes on, autovacuum on) instead of the
// tests' fast ones, for measurements that must match a production server.
func StartDurable(ctx context.Context) (*Server, error) { return start(ctx, true) }

func start(ctx context.Context, durable bool) (*Server, error) {
	binDir, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	runAs, err := serverUser()
	if err != nil {
		return nil, err
	}
	version, major, err := serverVersion(binDir)
	if err != nil {
		return nil, err
	}
	template, err := cachedCluster(ctx, binDir, version, runAs)
	if err != nil {
		return nil, err
	}

	dir, err := os.MkdirTemp("", "troupe-pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &Server{dir: dir, binDir: binDir, major: major, durable: durable}
	ok := false
	defer func() {
		if !ok {
			s.Stop()
		}
	}()
	if err := chownTo(dir, runAs); err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := copyTree(template, data, runAs); err != nil {
		return nil, fmt.Errorf("pgtest: copy cluster: %w", err)
	}

	// The port is found free, then given to postgres: another process may
	// take it in between, so a failed start is tried again on another one.
	for attempt := 1; ; attempt++ {
		err = s.startServer(ctx, data, runAs)
		if err == nil {
			break
		}
		if attempt == 3 || ctx.Err() != nil {
			return nil, err
		}
	}
	if err := s.connectAdmin(ctx); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// startServer starts postgres on data and waits until it accepts
// connections.
func (s *Server) startServer(ctx context.Context, data string, runAs *account) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.port = port
	args := []string{
		"-D", data,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + s.dir,
		"-c", "max_connections=300",
		"-c", "shared_buffers=64MB",
		"-c", "jit=off",
		"-c", "huge_pages=off",
		"-c", "lc_messages=C",
		"-c", "log_checkpoints=off",
	}
	if !s.durable {
		args = append(args,
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
			"-c", "wal_level=minimal",
			"-c", "max_wal_senders=0",
			"-c", "autovacuum=off",
		)
	}
	cmd := exec.Command(filepath.Join(s.binDir, "postgres"), args...)
	cmd.Dir = s.dir
	cmd.Env = serverEnv()
	// Immediate shutdown when the test process dies, whatever the way.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	runAs.apply(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	cmd.Stdout = nil

	s.log = newTail(200)
	ready := make(chan struct{})
	exited := make(chan struct{})
	started := make(chan error, 1)
	// The parent-death signal fires when the thread that started the child
	// exits, so the child is started from a goroutine that keeps its thread
	// until the child is gone.
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			runtime.UnlockOSThread()
			return
		}
		started <- nil
		var once sync.Once
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.log.add(line)
			if strings.Contains(line, "ready to accept connections") {
				once.Do(func() { close(ready) })
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
		close(exited)
		// Returning with the thread locked ends the thread; the child has
		// exited, so no signal is sent.
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	s.cmd, s.exited = cmd, exited

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case <-ready:
		return nil
	case <-exited:
		return fmt.Errorf("pgtest: postgres exited before accepting connections:\n%s", s.log.String())
	case <-ctx.Done():
		s.kill()
		return ctx.Err()
	case <-timer.C:
		s.kill()
		return fmt.Errorf("pgtest: postgres did not accept connections within %s:\n%s", startTimeout, s.log.String())
	}
}

// kill shuts the server down at once and waits for it to exit.
func (s *Server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGQUIT) // immediate shutdown, like pg_ctl stop -m immediate
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
}

func (s *Server) connectAdmin(ctx context.Context) error {
	cfg, err := pgxpool.ParseConfig(s.URL("postgres"))
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		return fmt.Errorf("pgtest: connect: %w\n%s", err, s.log.String())
	}
	s.admin = pool
	return nil
}

// Stop shuts the server down immediately (SIGQUIT, as `pg_ctl stop -m
// immediate` does) and removes its folder. It may be called more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		// Drops still under way end with the server; nobody waits for
		// them.
		s.kill()
		if s.admin != nil {
			s.admin.Close()
		}
		if s.dir != "" {
			s.stopErr = os.RemoveAll(s.dir)
		}
	})
	return s.stopErr
}

// PID returns the process id of the server (the postmaster).
func (s *Server) PID() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Port returns the TCP port the server listens on (on 127.0.0.1).
func (s *Server) Port() int { return s.port }

// Dir returns the server's temporary folder, which holds its unix socket
// and, in data/, its cluster.
func (s *Server) Dir() string { return s.dir }

// Log returns the last lines the server logged.
func (s *Server) Log() string { return s.log.String() }

// URL returns the connection URL of a database of the server, as the
// superuser, over TCP.
func (s *Server) URL(database string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", Superuser, s.port, database)
}

// CreateDatabase creates a new, empty database (from template0) and returns
// its name.
func (s *Server) CreateDatabase(ctx context.Context) (string, error) {
	return s.createDatabase(ctx, "template0")
}

// CreateDatabaseFrom creates a new database that is a copy of the database
// template (which nobody may be connected to) and returns its name.
func (s *Server) CreateDatabaseFrom(ctx context.Context, template string) (string, error) {
	return s.createDatabase(ctx, template)
}

func (s *Server) createDatabase(ctx context.Context, template string) (string, error) {
	name := fmt.Sprintf("t_%d", s.dbSeq.Add(1))
	stmt := "CREATE DATABASE " + name + " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	if s.major >= 15 {
		// Copying the template's files is faster here than writing them
		// all to the WAL (the default since 15), as fsync is off.
		stmt += " STRATEGY FILE_COPY"
	}
	if err := s.adminExec(ctx, stmt); err != nil {
		return "", fmt.Errorf("pgtest: create database: %w", err)
	}
	return name, nil
}

// DropDatabase drops a database, closing the connections that still use it.
func (s *Server) DropDatabase(ctx context.Context, name string) error {
	stmt := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize()
	if s.major >= 13 {
		stmt += " WITH (FORCE)"
	}
	if err := s.adminExec(ctx, stmt); err != nil {
		return fmt.Errorf("pgtest: drop database: %w", err)
	}
	return nil
}

func (s *Server) adminExec(ctx context.Context, sql string) error {
	if s.admin == nil {
		return errors.New("server not started")
	}
	_, err := s.admin.Exec(ctx, sql)
	return err
}

// WaitDrops waits until the databases of the tests that ended so far are
// dropped.
func (s *Server) WaitDrops() { s.drops.Wait() }

// template is a database made once to be copied.
type template struct {
	once sync.Once
	err  error
}

// Template makes, the first time it is asked for name, a database of that
// name by running prepare on its URL (e.g. to apply a schema); prepare must
// close every connection it opens. Later calls with the same name return
// what the first one did. Copy the template with CreateDatabaseFrom.
func (s *Server) Template(ctx context.Context, name string, prepare func(ctx context.Context, url string) error) error {
	v, _ := s.templates.LoadOrStore(name, new(template))
	tp := v.(*template)
	tp.once.Do(func() {
		if err := s.adminExec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
			tp.err = fmt.Errorf("pgtest: create template %s: %w", name, err)
			return
		}
		if err := prepare(ctx, s.URL(name)); err != nil {
			tp.err = fmt.Errorf("pgtest: prepare template %s: %w", name, err)
		}
	})
	return tp.err
}

// The server shared by the tests of one binary.
var shared struct {
	mu      sync.Mutex
	started bool
	srv     *Server
	err     error
}

// Shared returns the server shared by the tests of this process, starting
// it on first use. A failed start is reported to every caller.
func Shared() (*Server, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.started {
		shared.started = true
		ctx, cancel := context.WithTimeout(context.Background(), 2*startTimeout)
		shared.srv, shared.err = Start(ctx)
		cancel()
		if shared.err == nil {
			stopOnInterrupt()
		}
	}
	return shared.srv, shared.err
}

// StopShared stops the shared server, if it was started.
func StopShared() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil {
		return nil
	}
	return shared.srv.Stop()
}

// Main runs the tests of m and then stops the shared server and removes its
// folder. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if err := StopShared(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
	}
	os.Exit(code)
}

// stopOnInterrupt stops the shared server when the test process is
// interrupted (^C, or go test's timeout), so its folder does not stay.
func stopOnInterrupt() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-ch
		_ = StopShared()
		signal.Reset(sig.(syscall.Signal))
		_ = syscall.Kill(os.Getpid(), sig.(syscall.Signal))
	}()
}

// NewDatabase creates a fresh database on the shared server for tb and
// returns its URL; the database is dropped when tb ends. It fails tb (it
// never skips) when no server can be started, e.g. when the PostgreSQL
// binaries are missing.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	return newDatabase(tb, "", nil)
}

// NewPreparedDatabase is NewDatabase for a database that starts as a copy
// of a template the shared server makes once per process, the first time it
// is asked for name, by running prepare on it (see Server.Template). It
// saves doing the same slow setup, such as applying a schema, in every
// test.
func NewPreparedDatabase(tb testing.TB, name string, prepare func(ctx context.Context, url string) error) string {
	tb.Helper()
	return newDatabase(tb, name, prepare)
}

func newDatabase(tb testing.TB, template string, prepare func(ctx context.Context, url string) error) string {
	tb.Helper()
	srv, err := Shared()
	if err != nil {
		tb.Fatalf("PostgreSQL for tests: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var name string
	if template == "" {
		name, err = srv.CreateDatabase(ctx)
	} else if err = srv.Template(ctx, template, prepare); err == nil {
		name, err = srv.CreateDatabaseFrom(ctx, template)
	}
	if err != nil {
		tb.Fatalf("%v\n%s", err, srv.Log())
	}
	tb.Cleanup(func() {
		// The test is over: drop its database in the background (the
		// server goes at the end anyway; this only keeps the disk use
		// down).
		srv.drops.Add(1)
		go func() {
			defer srv.drops.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = srv.DropDatabase(ctx, name)
		}()
	})
	return srv.URL(name)
}

// FindBinDir returns the folder that holds the PostgreSQL server binaries
// (initdb and postgres); see the package documentation for where it looks.
func FindBinDir() (string, error) {
	has := func(dir string) bool {
		for _, name := range []string{"initdb", "postgres"} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv(BinEnv); dir != "" {
		if !has(dir) {
			return "", fmt.Errorf("pgtest: %s=%s does not hold initdb and postgres", BinEnv, dir)
		}
		return dir, nil
	}
	var candidates []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	// Debian and Ubuntu keep each major version apart; prefer the newest.
	versioned, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(versioned, func(a, b string) int {
		return compareVersions(filepath.Base(filepath.Dir(b)), filepath.Base(filepath.Dir(a)))
	})
	candidates = append(candidates, versioned...)
	candidates = append(candidates, "/usr/local/pgsql/bin", "/usr/pgsql/bin")
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	for _, dir := range candidates {
		if dir != "" && has(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("pgtest: the PostgreSQL server binaries (initdb, postgres) were not found " +
		"(looked at pg_config --bindir, /usr/lib/postgresql/*/bin, /usr/local/pgsql/bin and $PATH); " +
		"install PostgreSQL (e.g. apt-get install postgresql) or set " + BinEnv + " to their folder")
}

// compareVersions compares dotted version numbers numerically.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return 0
}

// serverVersion returns the output of `postgres --version` and the major
// version number.
func serverVersion(binDir string) (string, int, error) {
	out, err := exec.Command(filepath.Join(binDir, "postgres"), "--version").Output()
	if err != nil {
		return "", 0, fmt.Errorf("pgtest: postgres --version: %w", err)
	}
	version := strings.TrimSpace(string(out))
	major := 0
	for _, f := range strings.Fields(version) {
		if n, err := strconv.Atoi(strings.SplitN(f, ".", 2)[0]); err == nil {
			major = n
			break
		}
	}
	return version, major, nil
}

// account is the system user the server runs as; nil means the current
// user.
type account struct {
	name     string
	uid, gid uint32
}

func (a *account) apply(cmd *exec.Cmd) {
	if a == nil {
		return
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: a.uid, Gid: a.gid}
}

// serverUser returns whom initdb and postgres run as: the current user, or
// when that is root (which PostgreSQL refuses) the "postgres" user, else
// "nobody".
func serverUser() (*account, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return &account{name: name, uid: uint32(uid), gid: uint32(gid)}, nil
	}
	return nil, errors.New("pgtest: running as root, and there is neither a postgres nor a nobody user to run PostgreSQL as")
}

func chownTo(path string, a *account) error {
	if a == nil {
		return nil
	}
	if err := os.Chown(path, int(a.uid), int(a.gid)); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

// serverEnv is the environment of initdb and postgres: the current one
// without the libpq variables that could change what they do, in the C
// locale.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "PG") || strings.HasPrefix(name, "LC_") || name == "LANG" || name == "LANGUAGE" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "LANG=C")
}

// cachedCluster returns the folder of a freshly initialised cluster for
// this PostgreSQL version and user, running initdb the first time. The
// cache lives in the temporary folder; a file lock keeps concurrent test
// binaries from initialising it twice.
func cachedCluster(ctx context.Context, binDir, version string, runAs *account) (string, error) {
	args := []string{"--auth=trust", "--username=" + Superuser, "--encoding=UTF8", "--locale=C", "--no-sync"}
	owner := "self"
	if runAs != nil {
		owner = runAs.name
	}
	sum := sha256.Sum256([]byte(strings.Join(append([]string{binDir, version, owner, strconv.Itoa(os.Geteuid())}, args...), "\x00")))
	root := filepath.Join(os.TempDir(), fmt.Sprintf("troupe-pgtest-cache-%d", os.Geteuid()))
	if err := os.MkdirAll(root, 0o711); err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	// The cache must be this user's: another user's files could be anything.
	if fi, err := os.Lstat(root); err != nil || !fi.IsDir() || fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Geteuid()) {
		return "", fmt.Errorf("pgtest: %s is not a folder owned by this user", root)
	}
	// The server user must be able to reach the folders below.
	if err := os.Chmod(root, 0o711); err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	key := hex.EncodeToString(sum[:8])
	data := filepath.Join(root, key)

	lock, err := os.OpenFile(data+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("pgtest: lock cluster cache: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err == nil {
		return data, nil
	}
	tmp, err := os.MkdirTemp(root, key+".init-")
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := chownTo(tmp, runAs); err != nil {
		return "", err
	}
	target := filepath.Join(tmp, "data")
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"), append([]string{"-D", target}, args...)...)
	cmd.Dir = tmp
	cmd.Env = serverEnv()
	runAs.apply(cmd)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	_ = os.RemoveAll(data)
	if err := os.Rename(target, data); err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	return data, nil
}

// copyTree copies the cluster folder src to dst (which must not exist),
// keeping modes and giving every file to runAs.
func copyTree(src, dst string, runAs *account) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.Mkdir(target, info.Mode().Perm()); err != nil {
				return err
			}
		case d.Type().IsRegular():
			if err := copyFile(path, target, info.Mode().Perm()); err != nil {
				return err
			}
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
			if runAs != nil {
				return os.Lchown(target, int(runAs.uid), int(runAs.gid))
			}
			return nil
		default:
			return nil // sockets, pipes: nothing a stopped cluster needs
		}
		return chownTo(target, runAs)
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// freePort returns a TCP port on 127.0.0.1 that nothing listened on a
// moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tail keeps the last lines of a log.
type tail struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func newTail(n int) *tail { return &tail{max: n} }

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == t.max {
		t.lines = append(t.lines[:0], t.lines[1:]...)
	}
	t.lines = append(t.lines, line)
}

func (t *tail) String() string {
	if t == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var b bytes.Buffer
	for _, l := range t.lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}
