package process

import (
	"bytes"
	"errors"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// MaxLineBytes is the longest line delivered to ExecSpec.Output in one call.
// A longer line is delivered as several consecutive pieces of this size (the
// last piece holds the rest); nothing is dropped.
const MaxLineBytes = 8 << 20

// readBufferBytes is the size of the buffers output pipes are read into.
// Every live run has two pipes for its whole life, but a reader holds a
// buffer only while a read returns data, not while it waits for output:
// buffers come from readBuffers, so sleeping runs hold none (a buffer per
// pipe, even of 4 KiB, pinned 8 MB of heap at 1,000 sleeping runs). Longer
// lines are assembled across reads.
const readBufferBytes = 16 << 10

var readBuffers = sync.Pool{New: func() any {
	b := make([]byte, readBufferBytes)
	return &b
}}

// readLines reads f (a pipe in the runtime's poller) until EOF or an error
// and calls emit with each line, without its "\n" (or "\r\n"). The last line
// is delivered even when it has no newline. Lines longer than max are split
// into pieces of max bytes. emit must not keep the slice it is given.
func readLines(f *os.File, max int, emit func([]byte)) {
	var line []byte // the start of a line whose end has not been read yet
	rc, err := f.SyscallConn()
	for err == nil {
		var bp *[]byte
		var n int
		var rerr error
		err = rc.Read(func(fd uintptr) bool {
			if bp == nil {
				bp = readBuffers.Get().(*[]byte)
			}
			for {
				n, rerr = unix.Read(int(fd), *bp)
				if !errors.Is(rerr, unix.EINTR) {
					break
				}
			}
			if errors.Is(rerr, unix.EAGAIN) {
				// Nothing to read: wait for output without a buffer.
				readBuffers.Put(bp)
				bp = nil
				return false
			}
			return true
		})
		switch {
		case err == nil && rerr == nil && n > 0:
			line = splitLines((*bp)[:n], line, max, emit)
		case err == nil:
			err = errors.New("end of output") // EOF (n == 0) or a read error
		}
		if bp != nil {
			readBuffers.Put(bp)
		}
	}
	// EOF, or the read end was closed after the drain deadline.
	if len(line) > 0 {
		emit(line)
	}
}

// splitLines emits the lines chunk completes, line being the start of the
// first one, and returns the start of the line chunk leaves unfinished.
func splitLines(chunk, line []byte, max int, emit func([]byte)) []byte {
	for {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			break
		}
		frag := chunk[:i]
		chunk = chunk[i+1:]
		if len(line) == 0 && len(frag) <= max {
			emit(trimCR(frag))
			continue
		}
		line = append(line, frag...)
		line = splitLong(line, max, emit)
		emit(trimCR(line))
		line = reuse(line)
	}
	line = append(line, chunk...)
	return splitLong(line, max, emit)
}

// splitLong emits max-sized pieces from the front of line while it is longer
// than max and returns the rest.
func splitLong(line []byte, max int, emit func([]byte)) []byte {
	if len(line) <= max {
		return line
	}
	n := 0
	for len(line)-n > max {
		emit(line[n : n+max])
		n += max
	}
	return append(line[:0], line[n:]...)
}

// reuse empties line for the next one, dropping a big buffer so that one
// huge line does not pin its memory for the life of the process.
func reuse(line []byte) []byte {
	if cap(line) > 1<<20 {
		return nil
	}
	return line[:0]
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}
