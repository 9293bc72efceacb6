package artifact

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestUnpackRefusesSparse: a GNU sparse file in PAX form, whose header
// claims 1 GiB of holes (under MaxBytes) in a few bytes of archive, is
// refused before anything is written.
func TestUnpackRefusesSparse(t *testing.T) {
	var pax bytes.Buffer
	for _, rec := range []string{"GNU.sparse.major=1", "GNU.sparse.minor=0", "GNU.sparse.name=big", "GNU.sparse.realsize=1073741824"} {
		line := " " + rec + "\n"
		n := len(line) + len(strconv.Itoa(len(line)))
		if len(strconv.Itoa(n)) != len(strconv.Itoa(len(line))) {
			n++
		}
		pax.WriteString(strconv.Itoa(n) + line)
	}
	// tar.Writer writes no PAX header by hand: the blocks are made here.
	var raw bytes.Buffer
	raw.Write(rawHeader("PaxHeaders/big", 'x', pax.Len()))
	raw.Write(padded(pax.Bytes()))
	// PAX sparse 1.0: the sparse map (no data blocks) leads the file's data.
	data := padded([]byte("0\n"))
	raw.Write(rawHeader("big", '0', len(data)))
	raw.Write(data)
	raw.Write(make([]byte, 1024))
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(raw.Bytes())
	_ = zw.Close()

	dest := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Unpack(&buf, dest); !errors.Is(err, ErrRefused) {
		t.Fatalf("Unpack = %v, want ErrRefused", err)

	}
	if got, _ := os.ReadDir(dest); len(got) != 0 {
		t.Fatalf("the folder holds %d entries", len(got))
	}
}

// rawHeader is a ustar header block.
func rawHeader(name string, typ byte, size int) []byte {
	b := make([]byte, 512)
	copy(b[0:100], name)
	copy(b[100:108], "0000644\x00")
	copy(b[108:116], "0000000\x00")
	copy(b[116:124], "0000000\x00")
	copy(b[124:136], fmt.Sprintf("%011o\x00", size))
	copy(b[136:148], "00000000000\x00")
	b[156] = typ
	copy(b[257:265], "ustar\x0000")
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

func padded(p []byte) []byte {
	return append(p, make([]byte, (512-len(p)%512)%512)...)
}
