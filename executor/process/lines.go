package process

import (
	"bufio"
	"errors"
	"io"
)

// MaxLineBytes is the longest line delivered to ExecSpec.Output in one call.
// A longer line is delivered as several consecutive pieces of this size (the
// last piece holds the rest); nothing is dropped.
const MaxLineBytes = 8 << 20

// readBufferBytes is the read buffer of each output pipe. It is kept small
// because every live run holds two of them for its whole life (with 64 KiB,
// 1,000 sleeping runs pinned 125 MB of server heap); longer lines are
// assembled across reads, and a chatty process costs a few more reads.
const readBufferBytes = 4 << 10

// readLines reads r until EOF or an error and calls emit with each line,
// without its "\n" (or "\r\n"). The last line is delivered even when it has
// no newline. Lines longer than max are split into pieces of max bytes.
func readLines(r io.Reader, max int, emit func([]byte)) {
	br := bufio.NewReaderSize(r, readBufferBytes)
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if err == nil {
			frag = frag[:len(frag)-1]
			if len(line) == 0 {
				emit(trimCR(frag))
				continue
			}
			line = append(line, frag...)
			line = splitLong(line, max, emit)
			emit(trimCR(line))
			line = reuse(line)
			continue
		}
		line = append(line, frag...)
		line = splitLong(line, max, emit)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		// EOF, or the read end was closed after the drain deadline.
		if len(line) > 0 {
			emit(line)
		}
		return
	}
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
