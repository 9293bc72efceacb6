// Command benchactor is the trivial program the benchmark runs, both as a
// troupe actor and, for the baselines, directly with fork/exec. It imports
// almost nothing, so that its own start costs as little as a Go program's
// can. It reports what it does on stdout, one line per event, each carrying
// the system-wide monotonic clock (CLOCK_MONOTONIC, nanoseconds) so that the
// benchmark can compare it with its own clock:
//
//	bench-start <ns>   first thing the program does
//	bench-exit <ns>    last thing before it exits
//
// Modes (first argument):
//
//	exit              print bench-start and bench-exit, and exit 0
//	linger MS         print bench-start, sleep MS milliseconds, print bench-exit, exit 0
//	sleep             print bench-start and sleep until killed; SIGTERM makes it
//	                  print bench-exit and exit 0
//
// bench/benchnet has the modes that need the network.
package main

import (
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: benchactor exit|linger MS|sleep")
	}
	switch os.Args[1] {
	case "exit":
		stamp("bench-start")
		stamp("bench-exit")
	case "linger":
		stamp("bench-start")
		ms := 50
		if len(os.Args) > 2 {
			ms, _ = strconv.Atoi(os.Args[2])
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		stamp("bench-exit")
	case "sleep":
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		stamp("bench-start")
		<-term
		stamp("bench-exit")
	default:
		fail("unknown mode " + os.Args[1])
	}
}

// stamp writes one event line with one write(2): os.Stdout is unbuffered,
// so the line has left the process before the next statement runs.
func stamp(event string) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		fail(err.Error())
	}
	line := append([]byte(event+" "), strconv.FormatInt(ts.Nano(), 10)...)
	_, _ = os.Stdout.Write(append(line, '\n'))
}

func fail(msg string) {
	_, _ = os.Stderr.WriteString("benchactor: " + msg + "\n")
	os.Exit(2)
}
