package p9

// Fuzz targets. Their seed corpus under testdata/fuzz/ is real traffic,
// captured by TestCaptureCorpus (run with P9_CAPTURE_CORPUS=1 to rewrite it)
// from a client/server session relayed through a recording proxy.
//
// Inputs of FuzzServer and FuzzClient are a sequence of records, each a
// little-endian u16 length and that many bytes: one datagram per record.

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func records(b []byte) [][]byte {
	var out [][]byte
	for len(b) >= 2 {
		n := int(binary.LittleEndian.Uint16(b))
		b = b[2:]
		n = min(n, len(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func joinRecords(msgs [][]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(m)))
		b = append(b, m...)
	}
	return b
}

// FuzzDecode decodes arbitrary bodies as every message type: no panics, and
// whatever decodes re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(uint8(m.typ()), encodeMessage(nil, 0, m)[headerSize:])
	}
	types := map[msgType]message{}
	for _, m := range sampleMessages() {
		types[m.typ()] = m
	}
	f.Fuzz(func(t *testing.T, typ uint8, body []byte) {
		proto, ok := types[msgType(typ)]
		if !ok {
			return
		}
		m := newOfType(proto)
		if decodeBody(m, body) != nil {
			return
		}
		again := encodeMessage(nil, 0, m)[headerSize:]
		m2 := newOfType(proto)
		if err := decodeBody(m2, again); err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-decode of %T: %v", m, err)
		}
		if rd, ok := m.(*rreaddir); ok {
			parseDirents(rd.Data)
		}
	})
}

const fuzzMsize = 64 << 10

// FuzzServer sends the records, after a valid Tversion, to a server over the
// memory backend. The server must answer or hang up, never panic or hang.
func FuzzServer(f *testing.F) {
	addSeeds(f, "server")
	f.Fuzz(func(t *testing.T, in []byte) {
		a, ss, err := Socketpair()
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		done := make(chan error, 1)
		go func() { done <- NewServer(newMemFS(), ServerOptions{MaxMessageSize: fuzzMsize, MaxFIDs: 64}).Serve(ss) }()
		fd := int(a.Fd())
		unix.Write(fd, encodeMessage(nil, NoTag, &tversion{MSize: fuzzMsize, Version: VersionExt}))
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			buf := make([]byte, fuzzMsize+1)
			for {
				n, err := unix.Read(fd, buf)
				if n <= 0 || err != nil {
					return
				}
			}
		}()
		for _, r := range records(in) {
			if _, err := unix.Write(fd, r); err != nil {
				break
			}
		}
		unix.Shutdown(fd, unix.SHUT_WR)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("server did not finish after the client hung up")
		}
		<-drained
	})
}

// FuzzClient answers a handful of concurrent client calls with the records.
// Every call must return once the fake server hangs up.
func FuzzClient(f *testing.F) {
	addSeeds(f, "client")
	f.Fuzz(func(t *testing.T, in []byte) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		srv := fds[1]
		// Queue the Rversion up front; the Tversion is never read.
		unix.Write(srv, encodeMessage(nil, NoTag, &rversion{MSize: fuzzMsize, Version: VersionExt}))
		c, err := NewClient(context.Background(), os.NewFile(uintptr(fds[0]), "c"), ClientOptions{MessageSize: fuzzMsize, CallerReads: callerReads})
		if err != nil {
			unix.Close(srv)
			return
		}
		defer c.Close()
		var wg sync.WaitGroup
		fid := &Fid{c, 1}
		ctx := context.Background()
		wg.Go(func() { fid.GetAttr(ctx, AttrAll) })
		wg.Go(func() { fid.ReadAt(ctx, make([]byte, 100), 0) })
		wg.Go(func() { fid.Readdir(ctx, 0, 0) })
		wg.Go(func() { fid.WalkGetAttr(ctx, []string{"a", "b"}) })
		wg.Go(func() {
			if _, _, f, err := fid.Open(ctx, ReadOnly); err == nil && f != nil {
				f.Close()
			}
		})
		wg.Go(func() { fid.GetXattr(ctx, "user.a") })
		for _, r := range records(in) {
			if _, err := unix.Write(srv, r); err != nil {
				break
			}
		}
		unix.Close(srv)
		finished := make(chan struct{})
		go func() { wg.Wait(); close(finished) }()
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Fatal("client calls hang after the server hung up")
		}
	})
}

func addSeeds(f *testing.F, side string) {
	// The committed corpus is read by the fuzzing engine itself; here we add
	// one minimal hand-written seed so the target runs without it.
	if side == "server" {
		f.Add(joinRecords([][]byte{encodeMessage(nil, 1, &tattach{FID: 1, AFID: NoFID})}))
	} else {
		f.Add(joinRecords([][]byte{encodeMessage(nil, 0, &rlerror{Ecode: 2})}))
	}
}

// relay copies datagrams (and their fds) between two sockets, recording
// them.
func relay(from, to int, mu *sync.Mutex, rec *[][]byte) {
	buf := make([]byte, DefaultMessageSize)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(from, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != nil || n == 0 {
			unix.Shutdown(to, unix.SHUT_WR)
			return
		}
		mu.Lock()
		*rec = append(*rec, append([]byte(nil), buf[:n]...))
		mu.Unlock()
		fds, _ := parseRights(oob[:oobn])
		var o []byte
		if len(fds) > 0 {
			o = unix.UnixRights(fds...)
		}
		unix.Sendmsg(to, buf[:n], o, nil, 0)
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
}

// TestCaptureCorpus records a real session through a relay and, with
// P9_CAPTURE_CORPUS=1, writes it as the fuzz seed corpus.
func TestCaptureCorpus(t *testing.T) {
	cfd, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	must(t, err)
	sfd, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	must(t, err)
	var mu sync.Mutex
	var reqs, reps [][]byte
	var relays sync.WaitGroup
	relays.Go(func() { relay(cfd[1], sfd[0], &mu, &reqs) })
	relays.Go(func() { relay(sfd[0], cfd[1], &mu, &reps) })
	done := make(chan error, 1)
	go func() {
		done <- NewServer(newMemFS(), ServerOptions{MaxMessageSize: fuzzMsize}).Serve(os.NewFile(uintptr(sfd[1]), "s"))
	}()
	c, err := NewClient(context.Background(), os.NewFile(uintptr(cfd[0]), "c"), ClientOptions{MessageSize: fuzzMsize, CallerReads: callerReads})
	must(t, err)
	session(t, c)
	c.Close()
	<-done
	// The relays end on their own once both sides hung up; only then may
	// their fds be closed (and their numbers reused).
	relays.Wait()
	unix.Close(cfd[1])
	unix.Close(sfd[0])
	mu.Lock()
	defer mu.Unlock()
	if len(reqs) < 30 || len(reps) < 30 {
		t.Fatalf("captured %d requests, %d replies", len(reqs), len(reps))
	}
	if os.Getenv("P9_CAPTURE_CORPUS") != "1" {
		return
	}
	write := func(target, name string, data []byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		must(t, os.MkdirAll(dir, 0o755))
		must(t, os.WriteFile(filepath.Join(dir, name), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data), 0o644))
	}
	// Requests after the Tversion: the whole session, then each alone.
	write("FuzzServer", "session", joinRecords(reqs[1:]))
	for i, r := range reqs[1:] {
		write("FuzzServer", fmt.Sprintf("req-%03d", i), joinRecords([][]byte{r}))
	}
	write("FuzzClient", "session", joinRecords(reps[1:]))
	must(t, os.MkdirAll(filepath.Join("testdata", "fuzz", "FuzzDecode"), 0o755))
	for i, r := range reps[1:] {
		write("FuzzClient", fmt.Sprintf("rep-%03d", i), joinRecords([][]byte{r}))
		os.WriteFile(filepath.Join("testdata", "fuzz", "FuzzDecode", fmt.Sprintf("rep-%03d", i)),
			fmt.Appendf(nil, "go test fuzz v1\nbyte(%q)\n[]byte(%q)\n", r[4], r[headerSize:]), 0o644)
	}
	for i, r := range reqs[1:] {
		os.WriteFile(filepath.Join("testdata", "fuzz", "FuzzDecode", fmt.Sprintf("req-%03d", i)),
			fmt.Appendf(nil, "go test fuzz v1\nbyte(%q)\n[]byte(%q)\n", r[4], r[headerSize:]), 0o644)
	}
}

// session exercises most message types.
func session(t *testing.T, c *Client) {
	ctx := context.Background()
	root, _, err := c.Attach(ctx, "root", 0, "")
	must(t, err)
	_, d, err := root.Walk(ctx, nil)
	must(t, err)
	_, err = d.Mkdir(ctx, "dir", 0o755, 0)
	must(t, err)
	_, dir, _, _, err := root.WalkGetAttr(ctx, []string{"dir"})
	must(t, err)
	_, f, err := dir.Walk(ctx, nil)
	must(t, err)
	_, _, df, err := f.Create(ctx, "file", ReadWrite, 0o644, 0)
	must(t, err)
	df.Close()
	_, err = f.WriteAt(ctx, []byte("some file data"), 0)
	must(t, err)
	f.ReadAt(ctx, make([]byte, 32), 0)
	must(t, f.FSync(ctx, false))
	must(t, f.SetXattr(ctx, "user.x", []byte("val"), 0))
	f.GetXattr(ctx, "user.x")
	f.ListXattr(ctx)
	f.Lock(ctx, Lock{Type: LockWrite, ProcID: 1, ClientID: "me"})
	f.GetLock(ctx, Lock{Type: LockRead, ProcID: 2, ClientID: "you"})
	must(t, f.SetAttr(ctx, SetAttrSize|SetAttrMode, SetAttr{Size: 4, Mode: 0o600}))
	f.GetAttr(ctx, AttrAll)
	_, err = dir.Symlink(ctx, "link", "../target", 0)
	must(t, err)
	_, l, err := dir.Walk(ctx, []string{"link"})
	must(t, err)
	l.Readlink(ctx)
	dir.Mknod(ctx, "fifo", S_IFIFO|0o644, 0, 0, 0)
	must(t, dir.Link(ctx, f, "hard"))
	must(t, dir.RenameAt(ctx, "hard", root, "hard2"))
	must(t, l.Rename(ctx, root, "link2"))
	root.Walk(ctx, []string{"dir", "missing"})
	root.StatFS(ctx)
	_, _, _, err = dir.Open(ctx, ReadOnly)
	must(t, err)
	dir.Readdir(ctx, 0, 0)
	must(t, dir.UnlinkAt(ctx, "fifo", 0))
	must(t, f.Remove(ctx))
	must(t, root.UnlinkAt(ctx, "hard2", 0))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	dir.GetAttr(cctx, AttrAll)
	must(t, dir.Clunk(ctx))
}
