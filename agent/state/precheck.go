package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// precheck walks a bbolt file's page tree with bounds checks before bbolt
// opens it. bbolt trusts its file: a damaged one can make it slice past a
// page or read past the end of the mmap, and tx.Check runs in a goroutine
// of its own, where a panic cannot be recovered and kills the agent on
// every start. This walk reads the same structures (bbolt 1.4 layout: meta,
// freelist, branch and leaf pages, nested and inline buckets) and refuses
// a file whose pointers leave the file; bbolt's own Check does the rest.
//
// It holds bbolt's lock (flock) while it reads, so it never judges a file
// another agent is writing: that returns bolt.ErrTimeout, as bbolt would.
func precheck(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // missing: bbolt creates it (or reports why it cannot)
	}
	defer f.Close()
	for deadline := time.Now().Add(time.Second); ; time.Sleep(50 * time.Millisecond) { // as bbolt waits
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil // no locking here: leave it to bbolt
		}
		if time.Now().After(deadline) {
			return bolt.ErrTimeout
		}
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	b, err := io.ReadAll(f)
	if err != nil || len(b) == 0 {
		return nil // unreadable: bbolt reports it; empty: bbolt initialises it
	}
	ps := pageSize(b)
	if ps < 512 || ps > 1<<24 || ps&(ps-1) != 0 || len(b) < 2*ps {
		return fmt.Errorf("state: %d-byte file with page size %d is not a state file", len(b), ps)
	}
	m, ok := pickMeta(b, ps)
	if !ok {
		return errors.New("state: no valid meta page")
	}
	w := walker{b: b, ps: ps, hwm: m.pgid, seen: map[uint64]bool{}}
	if m.pgid < 2 || m.pgid > uint64(len(b)/ps) {
		return fmt.Errorf("state: meta page counts %d pages, the file holds %d", m.pgid, len(b)/ps)
	}
	for id := uint64(0); id < 2; id++ { // tx.Check reads both meta pages
		if err := w.header(id); err != nil {
			return err
		}
	}
	if m.freelist != ^uint64(0) {
		if err := w.freelist(m.freelist); err != nil {
			return err
		}
	}
	return w.page(m.root, 0)
}

// Layout constants of bbolt 1.4 (go.etcd.io/bbolt/internal/common).
const (
	pageHeaderSize = 16 // id u64, flags u16, count u16, overflow u32
	elementSize    = 16 // branch: pos, ksize u32, pgid u64; leaf: flags, pos, ksize, vsize u32
	bucketHeader   = 16 // root pgid u64, sequence u64
	metaSize       = 64 // up to and with the checksum
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	branchPage     = 0x01
	leafPage       = 0x02
	metaPage       = 0x04
	freelistPage   = 0x10
	bucketLeaf     = 0x01
	maxDepth       = 64
)

type meta struct {
	ok             bool
	pageSize       int
	root, freelist uint64
	pgid, txid     uint64
}

func readMeta(b []byte, off int) meta {
	if off < 0 || off+pageHeaderSize+metaSize > len(b) {
		return meta{}
	}
	m := b[off+pageHeaderSize : off+pageHeaderSize+metaSize]
	le := binary.LittleEndian
	h := fnv.New64a()
	h.Write(m[:56])
	return meta{
		ok:       le.Uint32(m[0:]) == boltMagic && le.Uint32(m[4:]) == boltVersion && le.Uint64(m[56:]) == h.Sum64(),
		pageSize: int(le.Uint32(m[8:])),
		root:     le.Uint64(m[16:]),
		freelist: le.Uint64(m[32:]),
		pgid:     le.Uint64(m[40:]),
		txid:     le.Uint64(m[48:]),
	}
}

// pageSize finds the page size as bbolt does: from meta 0, else from the
// first valid meta 1 at 1 KiB << i, else the OS page size.
func pageSize(b []byte) int {
	if m := readMeta(b, 0); m.ok {
		return m.pageSize
	}
	for i := 0; i <= 14; i++ {
		pos := 1024 << i
		if pos >= len(b)-1024 {
			break
		}
		if m := readMeta(b, pos); m.ok {
			return m.pageSize
		}
	}
	return os.Getpagesize()
}

// pickMeta returns the meta bbolt uses: the valid one with the higher txid.
func pickMeta(b []byte, ps int) (meta, bool) {
	a, c := readMeta(b, 0), readMeta(b, ps)
	if c.txid > a.txid {
		a, c = c, a
	}
	switch {
	case a.ok:
		return a, true
	case c.ok:
		return c, true
	}
	return meta{}, false
}

type walker struct {
	b    []byte
	ps   int
	hwm  uint64
	seen map[uint64]bool
}

// span returns the bytes of page id and its overflow pages.
func (w *walker) span(id uint64) ([]byte, error) {
	if id < 2 || id >= w.hwm {
		return nil, fmt.Errorf("state: page %d out of bounds (%d pages)", id, w.hwm)
	}
	off := int(id) * w.ps
	if err := w.header(id); err != nil {
		return nil, err
	}
	overflow := uint64(binary.LittleEndian.Uint32(w.b[off+12:]))
	if id+overflow >= w.hwm {
		return nil, fmt.Errorf("state: page %d overflows past the last page", id)
	}
	return w.b[off : off+int(overflow+1)*w.ps], nil
}

// header checks what bbolt asserts of every page it reads (FastCheck):
// the page names its own id and has exactly one known type.
func (w *walker) header(id uint64) error {
	off := int(id) * w.ps
	self, flags := binary.LittleEndian.Uint64(w.b[off:]), binary.LittleEndian.Uint16(w.b[off+8:])
	if self != id {
		return fmt.Errorf("state: page %d names itself %d", id, self)
	}
	switch flags {
	case branchPage, leafPage, metaPage, freelistPage:
		return nil
	}
	return fmt.Errorf("state: page %d has unknown flags %#x", id, flags)
}

func (w *walker) freelist(id uint64) error {
	p, err := w.span(id)
	if err != nil {
		return err
	}
	if binary.LittleEndian.Uint16(p[8:]) != freelistPage {
		return fmt.Errorf("state: page %d is not the freelist", id)
	}
	n, off := uint64(binary.LittleEndian.Uint16(p[10:])), pageHeaderSize
	if n == 0xFFFF { // the count is in the first element
		if len(p) < off+8 {
			return errors.New("state: freelist truncated")
		}
		n, off = binary.LittleEndian.Uint64(p[off:]), off+8
	}
	if n > uint64(len(p)-off)/8 {
		return fmt.Errorf("state: freelist of %d ids does not fit its page", n)
	}
	for i := uint64(0); i < n; i++ {
		if id := binary.LittleEndian.Uint64(p[off+int(i)*8:]); id < 2 || id >= w.hwm {
			return fmt.Errorf("state: freelist names page %d out of bounds", id)
		}
	}
	return nil
}

// page checks a branch or leaf page and everything below it.
func (w *walker) page(id uint64, depth int) error {
	if depth > maxDepth || w.seen[id] {
		return fmt.Errorf("state: page %d reached twice or too deep", id)
	}
	w.seen[id] = true
	p, err := w.span(id)
	if err != nil {
		return err
	}
	return w.elements(p, id, depth)
}

// elements checks the elements of page p (a file page or an inline
// bucket's page) and recurses into children and nested buckets.
func (w *walker) elements(p []byte, id uint64, depth int) error {
	le := binary.LittleEndian
	if depth > maxDepth {
		return fmt.Errorf("state: page %d: buckets nested too deep", id)
	}
	if len(p) < pageHeaderSize {
		return fmt.Errorf("state: page %d truncated", id)
	}
	flags, count := le.Uint16(p[8:]), int(le.Uint16(p[10:]))
	if pageHeaderSize+count*elementSize > len(p) {
		return fmt.Errorf("state: page %d: %d elements do not fit", id, count)
	}
	for i := 0; i < count; i++ {
		e := pageHeaderSize + i*elementSize
		switch flags {
		case branchPage:
			pos, ksize, child := uint64(le.Uint32(p[e:])), uint64(le.Uint32(p[e+4:])), le.Uint64(p[e+8:])
			if ksize == 0 || uint64(e)+pos+ksize > uint64(len(p)) {
				return fmt.Errorf("state: page %d: key %d empty or past the page", id, i)
			}
			if err := w.page(child, depth+1); err != nil {
				return err
			}
		case leafPage:
			fl, pos := le.Uint32(p[e:]), uint64(le.Uint32(p[e+4:]))
			ksize, vsize := uint64(le.Uint32(p[e+8:])), uint64(le.Uint32(p[e+12:]))
			start := uint64(e) + pos + ksize
			if ksize == 0 || start+vsize > uint64(len(p)) {
				return fmt.Errorf("state: page %d: record %d past the page", id, i)
			}
			if fl&bucketLeaf == 0 {
				continue
			}
			v := p[start : start+vsize]
			if len(v) < bucketHeader {
				return fmt.Errorf("state: page %d: bucket %d header truncated", id, i)
			}
			if root := le.Uint64(v); root != 0 {
				if err := w.page(root, depth+1); err != nil {
					return err
				}
			} else if err := w.elements(v[bucketHeader:], id, depth+1); err != nil { // inline bucket
				return err
			}
		default:
			return fmt.Errorf("state: page %d is neither branch nor leaf (flags %#x)", id, flags)
		}
	}
	return nil
}
