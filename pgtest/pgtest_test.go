package pgtest_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sys/unix"

	"github.com/troupehq/troupe/pgtest"
)

func TestMain(m *testing.M) {
	if os.Getenv("PGTEST_ORPHAN") != "" {
		orphan()
		return
	}
	pgtest.Main(m)
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestNewDatabase(t *testing.T) {
	ctx := t.Context()
	url1, url2 := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	if url1 == url2 {
		t.Fatalf("two tests got the same database %s", url1)
	}
	c1, c2 := connect(t, url1), connect(t, url2)
	if _, err := c1.Exec(ctx, `CREATE TABLE only_here (x int)`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c2.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'only_here'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("a table of one database is seen in another: %d, %v", n, err)
	}

	// The fast, local settings the server promises.
	for name, want := range map[string]string{
		"listen_addresses":   "127.0.0.1",
		"fsync":              "off",
		"synchronous_commit": "off",
		"full_page_writes":   "off",
		"server_encoding":    "UTF8",
	} {
		var got string
		if err := c1.QueryRow(ctx, `SELECT current_setting($1)`, name).Scan(&got); err != nil || got != want {
			t.Errorf("%s = %q (%v), want %q", name, got, err, want)
		}
	}
	srv, err := pgtest.Shared()
	if err != nil {
		t.Fatal(err)
	}
	var sockets string
	if err := c1.QueryRow(ctx, `SELECT current_setting('unix_socket_directories')`).Scan(&sockets); err != nil || sockets != srv.Dir() {
		t.Errorf("unix_socket_directories = %q (%v), want the server's folder %s", sockets, err, srv.Dir())
	}
	if !strings.Contains(url1, fmt.Sprintf("127.0.0.1:%d/", srv.Port())) {
		t.Errorf("url %s does not point at 127.0.0.1:%d", url1, srv.Port())
	}
	// Superuser, so that tests may do anything.
	var super bool
	if err := c1.QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil || !super {
		t.Errorf("connected as superuser = %v (%v)", super, err)
	}
}

// TestDatabaseDroppedAtEnd checks that a test's database goes when the test
// ends.
func TestDatabaseDroppedAtEnd(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		conn := connect(t, pgtest.NewDatabase(t))
		if err := conn.QueryRow(t.Context(), `SELECT current_database()`).Scan(&name); err != nil {
			t.Fatal(err)
		}
	})
	srv, err := pgtest.Shared()
	if err != nil {
		t.Fatal(err)
	}
	srv.WaitDrops()
	conn := connect(t, srv.URL("postgres"))
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil || n != 0 {
		t.Fatalf("database %s after its test: %d rows, %v", name, n, err)
	}
}

func TestPreparedDatabase(t *testing.T) {
	calls := 0
	prepare := func(ctx context.Context, url string) error {
		calls++
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, `CREATE TABLE prepared (x int); INSERT INTO prepared VALUES (42)`)
		return err
	}
	// A name of its own: templates are made once per process, and the
	// test may run more than once (-count).
	name := fmt.Sprintf("tmpl_test_%d", time.Now().UnixNano())
	c1 := connect(t, pgtest.NewPreparedDatabase(t, name, prepare))
	c2 := connect(t, pgtest.NewPreparedDatabase(t, name, prepare))
	if calls != 1 {
		t.Fatalf("prepare ran %d times, want once", calls)
	}
	// Each copy has the template's content and is its own.
	if _, err := c1.Exec(t.Context(), `INSERT INTO prepared VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c2.QueryRow(t.Context(), `SELECT count(*) FROM prepared`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows in the second copy: %d, %v; want 1", n, err)
	}
}

func TestStartStop(t *testing.T) {
	ctx := t.Context()
	srv, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	name, err := srv.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, srv.URL(name))
	if err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	dir := srv.Dir()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the server's folder is still there after Stop: %v", err)
	}
	if _, err := pgx.Connect(ctx, srv.URL(name)); err == nil {
		t.Fatal("connected to a stopped server")
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func TestMissingBinaries(t *testing.T) {
	t.Setenv(pgtest.BinEnv, t.TempDir())
	_, err := pgtest.FindBinDir()
	if err == nil || !strings.Contains(err.Error(), pgtest.BinEnv) || !strings.Contains(err.Error(), "initdb") {
		t.Fatalf("FindBinDir with an empty %s: %v", pgtest.BinEnv, err)
	}
	if _, err := pgtest.Start(t.Context()); err == nil {
		t.Fatal("Start without binaries succeeded")
	}
}

// orphan is the test binary started by TestServerDiesWithProcess: it starts
// a server, reports its postmaster's pid and exits without stopping it.
func orphan() {
	srv, err := pgtest.Start(context.Background())
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("pid", srv.PID())
	fmt.Println("dir", srv.Dir())
	os.Exit(0)
}

// TestServerDiesWithProcess checks that a server does not outlive a test
// process that exits without stopping it.
func TestServerDiesWithProcess(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PGTEST_ORPHAN=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var pid int
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "pid" {
			pid, _ = strconv.Atoi(f[1])
		} else if len(f) >= 2 && f[0] == "dir" && strings.Contains(f[1], "troupe-pgtest-") {
			t.Cleanup(func() { os.RemoveAll(f[1]) })
		} else if len(f) > 0 && f[0] == "error" {
			t.Fatal(sc.Text())
		}
	}
	if err := cmd.Wait(); err != nil || pid == 0 {
		t.Fatalf("orphan process: %v (pid %d)", err, pid)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err == unix.ESRCH {
		return // already gone
	}
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	// The pidfd becomes readable when the process exits.
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, int((30 * time.Second).Milliseconds()))
	if err != nil || n != 1 {
		t.Fatalf("postgres (pid %d) still runs after its test process exited: %d, %v", pid, n, err)
	}
}
