package p9

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func serve(t testing.TB, a Attacher, opts ServerOptions) (*Client, <-chan error) {
	t.Helper()
	cs, ss, err := Socketpair()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- NewServer(a, opts).Serve(ss) }()
	c, err := NewClient(context.Background(), cs, ClientOptions{CallerReads: callerReads})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return c, done
}

func attach(t testing.TB, c *Client) *Fid {
	t.Helper()
	root, qid, err := c.Attach(context.Background(), "root", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if qid.Type != QTDir {
		t.Fatalf("root qid %v", qid)
	}
	return root
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestVersionAndAttach(t *testing.T) {
	c, _ := serve(t, newMemFS(), ServerOptions{MaxMessageSize: 8192})
	if c.MessageSize() != 8192 || !c.Extended() {
		t.Fatalf("msize %d ext %v", c.MessageSize(), c.Extended())
	}
	if _, _, err := c.Attach(context.Background(), "", 0, "nope"); !errors.Is(err, unix.EACCES) {
		t.Fatalf("attach nope: %v", err)
	}
	attach(t, c)
}

// TestFileOperations drives every client call against the memory backend.
func TestFileOperations(t *testing.T) {
	ctx := context.Background()
	fs := newMemFS()
	c, _ := serve(t, fs, ServerOptions{})
	root := attach(t, c)

	_, dir, err := root.Walk(ctx, nil)
	must(t, err)
	qid, err := dir.Mkdir(ctx, "d", 0o750, 7)
	must(t, err)
	if qid.Type != QTDir {
		t.Fatalf("mkdir qid %v", qid)
	}
	if _, err := dir.Mkdir(ctx, "d", 0o750, 7); !errors.Is(err, unix.EEXIST) {
		t.Fatalf("mkdir twice: %v", err)
	}
	for _, bad := range []string{"..", ".", "a/b", "", "x\x00"} {
		if _, err := dir.Mkdir(ctx, bad, 0o755, 0); !errors.Is(err, unix.EINVAL) {
			t.Errorf("mkdir %q: %v", bad, err)
		}
		if _, _, err := root.Walk(ctx, []string{bad}); !errors.Is(err, unix.EINVAL) {
			t.Errorf("walk %q: %v", bad, err)
		}
	}

	_, d, err := root.Walk(ctx, []string{"d"})
	must(t, err)
	_, f, err := d.Walk(ctx, nil)
	must(t, err)
	_, _, donated, err := f.Create(ctx, "file", ReadWrite, 0o640, 7)
	must(t, err)
	if donated == nil {
		t.Fatal("no fd donated by Rlcreate")
	}
	donated.Close()
	data := bytes.Repeat([]byte("0123456789"), 500_000) // several messages
	n, err := f.WriteAt(ctx, data, 0)
	if err != nil || n != len(data) {
		t.Fatalf("write: %d %v", n, err)
	}
	buf := make([]byte, len(data)+10)
	n, err = f.ReadAt(ctx, buf, 0)
	if !errors.Is(err, io.EOF) || n != len(data) || !bytes.Equal(buf[:n], data) {
		t.Fatalf("read back: %d %v", n, err)
	}
	must(t, f.FSync(ctx, true))
	must(t, f.Clunk(ctx))

	qids, fw, valid, attr, err := root.WalkGetAttr(ctx, []string{"d", "file"})
	must(t, err)
	if len(qids) != 2 || attr.Size != uint64(len(data)) || attr.Mode != S_IFREG|0o640 || attr.GID != 7 || valid&AttrSize == 0 {
		t.Fatalf("walkgetattr: %v %+v", qids, attr)
	}
	_, _, f2, err := fw.Open(ctx, ReadOnly)
	must(t, err)
	got, err := io.ReadAll(io.NewSectionReader(f2, 0, 1<<30))
	f2.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("donated fd read %d bytes, %v", len(got), err)
	}
	if _, _, _, err := fw.Open(ctx, ReadOnly); !errors.Is(err, unix.EBADF) {
		t.Fatalf("second open: %v", err)
	}

	must(t, fw.SetAttr(ctx, SetAttrMode|SetAttrSize, SetAttr{Mode: 0o600, Size: 3}))
	_, _, attr, err = fw.GetAttr(ctx, AttrAll)
	must(t, err)
	if attr.Size != 3 || attr.Mode != S_IFREG|0o600 {
		t.Fatalf("after setattr: %+v", attr)
	}

	// xattrs through xattrwalk/xattrcreate.
	must(t, fw.SetXattr(ctx, "user.a", []byte("va"), XattrCreate))
	must(t, fw.SetXattr(ctx, "user.b", bytes.Repeat([]byte{1}, 30000), 0))
	if err := fw.SetXattr(ctx, "user.a", []byte("x"), XattrCreate); !errors.Is(err, unix.EEXIST) {
		t.Fatalf("xattr create twice: %v", err)
	}
	v, err := fw.GetXattr(ctx, "user.a")
	if err != nil || string(v) != "va" {
		t.Fatalf("getxattr: %q %v", v, err)
	}
	v, err = fw.GetXattr(ctx, "user.b")
	if err != nil || len(v) != 30000 {
		t.Fatalf("getxattr big: %d %v", len(v), err)
	}
	names, err := fw.ListXattr(ctx)
	if err != nil || !reflect.DeepEqual(names, []string{"user.a", "user.b"}) {
		t.Fatalf("listxattr: %v %v", names, err)
	}
	must(t, fw.RemoveXattr(ctx, "user.a"))
	if _, err := fw.GetXattr(ctx, "user.a"); !errors.Is(err, unix.ENODATA) {
		t.Fatalf("removed xattr: %v", err)
	}

	// Locks.
	st, err := fw.Lock(ctx, Lock{Type: LockWrite, ProcID: 1, ClientID: "a"})
	if err != nil || st != LockSuccess {
		t.Fatalf("lock: %v %v", st, err)
	}
	st, err = fw.Lock(ctx, Lock{Type: LockWrite, ProcID: 2, ClientID: "b"})
	if err != nil || st != LockBlocked {
		t.Fatalf("conflicting lock: %v %v", st, err)
	}
	l, err := fw.GetLock(ctx, Lock{Type: LockWrite, ProcID: 2})
	if err != nil || l.ProcID != 1 || l.ClientID != "a" {
		t.Fatalf("getlock: %+v %v", l, err)
	}

	// Links, symlinks, nodes, renames, removal.
	must(t, d.Link(ctx, fw, "hard"))
	if _, err := d.Symlink(ctx, "sym", "../outside", 0); err != nil {
		t.Fatal(err)
	}
	_, sym, err := d.Walk(ctx, []string{"sym"})
	must(t, err)
	if target, err := sym.Readlink(ctx); err != nil || target != "../outside" {
		t.Fatalf("readlink: %q %v", target, err)
	}
	if _, err := fw.Readlink(ctx); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("readlink of file: %v", err)
	}
	if _, err := d.Mknod(ctx, "fifo", S_IFIFO|0o600, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	must(t, d.RenameAt(ctx, "hard", root, "moved"))
	must(t, sym.Rename(ctx, root, "sym2"))
	must(t, sym.Clunk(ctx))
	if _, _, err := root.Walk(ctx, []string{"moved"}); err != nil {
		t.Fatal(err)
	}
	qids, _, err = root.Walk(ctx, []string{"d", "missing", "x"})
	if !errors.Is(err, unix.ENOENT) || len(qids) != 1 {
		t.Fatalf("partial walk: %v %v", qids, err)
	}
	if err := root.UnlinkAt(ctx, "d", RemoveDir); !errors.Is(err, unix.ENOTEMPTY) {
		t.Fatalf("rmdir non-empty: %v", err)
	}
	must(t, d.UnlinkAt(ctx, "fifo", 0))
	must(t, fw.Remove(ctx))
	if _, _, err := d.Walk(ctx, []string{"file"}); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("after remove: %v", err)
	}
	if _, _, _, err := fw.GetAttr(ctx, AttrAll); !errors.Is(err, unix.EBADF) {
		t.Fatalf("removed fid still valid: %v", err)
	}
	sfs, err := root.StatFS(ctx)
	if err != nil || sfs.BlockSize != 4096 || sfs.NameLen != 255 {
		t.Fatalf("statfs: %+v %v", sfs, err)
	}

	// Readdir pagination over many entries.
	_, big, err := root.Walk(ctx, nil)
	must(t, err)
	_, err = big.Mkdir(ctx, "big", 0o755, 0)
	must(t, err)
	_, big, err = root.Walk(ctx, []string{"big"})
	must(t, err)
	for i := range 300 {
		_, cf, err := big.Walk(ctx, nil)
		must(t, err)
		_, _, df, err := cf.Create(ctx, fmt.Sprintf("entry-%04d", i), WriteOnly, 0o644, 0)
		must(t, err)
		df.Close()
		must(t, cf.Clunk(ctx))
	}
	_, _, _, err = big.Open(ctx, ReadOnly)
	must(t, err)
	var all []Dirent
	for off := uint64(0); ; {
		ents, err := big.Readdir(ctx, off, 512)
		must(t, err)
		if len(ents) == 0 {
			break
		}
		all = append(all, ents...)
		off = ents[len(ents)-1].Offset
	}
	if len(all) != 300 || all[299].Name != "entry-0299" {
		t.Fatalf("readdir got %d entries", len(all))
	}
	if _, err := root.Readdir(ctx, 0, 0); !errors.Is(err, unix.EBADF) {
		t.Fatalf("readdir of unopened fid: %v", err)
	}
}

func TestFIDLimit(t *testing.T) {
	ctx := context.Background()
	c, _ := serve(t, newMemFS(), ServerOptions{MaxFIDs: 3})
	root := attach(t, c)
	_, _, err := root.Walk(ctx, nil)
	must(t, err)
	_, f3, err := root.Walk(ctx, nil)
	must(t, err)
	if _, _, err := root.Walk(ctx, nil); !errors.Is(err, unix.EMFILE) {
		t.Fatalf("4th fid: %v", err)
	}
	must(t, f3.Clunk(ctx))
	if _, _, err := root.Walk(ctx, nil); err != nil {
		t.Fatalf("after clunk: %v", err)
	}
}

// TestConcurrentTags keeps hundreds of requests in flight and checks that the
// server handles them at the same time: the getattr hook only returns once
// 32 calls are inside it together.
func TestConcurrentTags(t *testing.T) {
	ctx := context.Background()
	fs := newMemFS()
	c, _ := serve(t, fs, ServerOptions{})
	root := attach(t, c)
	for i := range 200 {
		_, err := root.Mkdir(ctx, fmt.Sprintf("d%d", i), 0o755, GID(i))
		must(t, err)
	}
	var inside atomic.Int32
	barrier := make(chan struct{})
	var once sync.Once
	fs.setHook(func(string) {
		if inside.Add(1) >= 32 {
			once.Do(func() { close(barrier) })
		}
		select {
		case <-barrier:
		case <-time.After(10 * time.Second):
		}
	})
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	start := time.Now()
	for i := range 200 {
		wg.Go(func() {
			_, f, valid, attr, err := root.WalkGetAttr(ctx, []string{fmt.Sprintf("d%d", i)})
			if err == nil && (attr.GID != GID(i) || valid == 0) {
				err = fmt.Errorf("d%d: got gid %d", i, attr.GID)
			}
			if err == nil {
				err = f.Clunk(ctx)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("requests were not handled concurrently")
	}
}

// TestFlush cancels a request the server is still working on: the server
// finishes it, replies, then answers Tflush, and the client returns the reply.
func TestFlush(t *testing.T) {
	ctx := context.Background()
	fs := newMemFS()
	entered := make(chan struct{})
	release := make(chan struct{})
	fs.setHook(func(name string) {
		if name == "slow" {
			close(entered)
			<-release
		}
	})
	c, _ := serve(t, fs, ServerOptions{})
	root := attach(t, c)
	_, err := root.Mkdir(ctx, "slow", 0o755, 0)
	must(t, err)
	_, slow, err := root.Walk(ctx, []string{"slow"})
	must(t, err)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, _, _, err := slow.GetAttr(cctx, AttrAll)
		done <- err
	}()
	<-entered
	cancel()
	// Other requests proceed while the flush waits.
	if _, _, _, err := root.GetAttr(ctx, AttrAll); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("returned before the server answered: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("flushed request whose reply preceded Rflush: %v", err)
	}
	// Tags were recycled correctly: the connection still works.
	for range 2000 {
		if _, _, _, err := root.GetAttr(ctx, AttrMode); err != nil {
			t.Fatal(err)
		}
	}
}

// rawPeer is the far end of a socketpair driven by hand, to play a server or
// client that misbehaves.
type rawPeer struct {
	t      *testing.T
	fd     int
	closed bool
}

// close closes the peer's end once; cleanup calls it again harmlessly, so a
// reused fd number is never closed by mistake.
func (p *rawPeer) close() {
	if !p.closed {
		p.closed = true
		unix.Close(p.fd)
	}
}

func newRawPair(t *testing.T) (*os.File, *rawPeer) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	must(t, err)
	p := &rawPeer{t: t, fd: fds[1]}
	t.Cleanup(p.close)
	return os.NewFile(uintptr(fds[0]), "a"), p
}

func (p *rawPeer) recv() (msgType, uint16, []byte) {
	p.t.Helper()
	buf := make([]byte, DefaultMessageSize)
	n, err := unix.Read(p.fd, buf)
	if err != nil || n < headerSize {
		p.t.Fatalf("raw read: %d %v", n, err)
	}
	return msgType(buf[4]), uint16(buf[5]) | uint16(buf[6])<<8, buf[headerSize:n]
}

func (p *rawPeer) send(tag uint16, m message) {
	p.t.Helper()
	if _, err := unix.Write(p.fd, encodeMessage(nil, tag, m)); err != nil {
		p.t.Fatal(err)
	}
}

func (p *rawPeer) sendRaw(b []byte) {
	p.t.Helper()
	if _, err := unix.Write(p.fd, b); err != nil {
		p.t.Fatal(err)
	}
}

// rawServer answers the version handshake as a standard 9P2000.L server
// would (truncating the proposed version at the period).
func rawServer(t *testing.T) (*Client, *rawPeer) {
	cs, p := newRawPair(t)
	type res struct {
		c   *Client
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := NewClient(context.Background(), cs, ClientOptions{MessageSize: 8192, CallerReads: callerReads})
		ch <- res{c, err}
	}()
	typ, tag, body := p.recv()
	var tv tversion
	if typ != mTversion || tag != NoTag || decodeBody(&tv, body) != nil || tv.Version != VersionExt {
		t.Fatalf("handshake: type %d tag %d %+v", typ, tag, tv)
	}
	p.send(NoTag, &rversion{MSize: 8192, Version: VersionL})
	r := <-ch
	must(t, r.err)
	t.Cleanup(func() { r.c.Close() })
	if r.c.Extended() {
		t.Fatal("extension on with a standard server")
	}
	return r.c, p
}

func TestFlushDropsReply(t *testing.T) {
	c, p := rawServer(t)
	f := &Fid{c, 1}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := f.ReadAt(ctx, make([]byte, 10), 0)
		done <- err
	}()
	typ, oldtag, _ := p.recv()
	if typ != mTread {
		t.Fatalf("got type %d", typ)
	}
	cancel()
	typ, tag, body := p.recv()
	var fl tflush
	if typ != mTflush || decodeBody(&fl, body) != nil || fl.OldTag != oldtag {
		t.Fatalf("expected Tflush(%d), got type %d %+v", oldtag, typ, fl)
	}
	p.send(tag, &rflush{})
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("flushed read: %v", err)
	}
}

func TestPeerDeath(t *testing.T) {
	c, p := rawServer(t)
	f := &Fid{c, 1}
	done := make(chan error, 1)
	go func() {
		_, _, _, err := f.GetAttr(context.Background(), AttrAll)
		done <- err
	}()
	p.recv()
	p.close()
	select {
	case err := <-done:
		var e unix.Errno
		if !errors.Is(err, ErrClosed) || !errors.Is(err, unix.EIO) || !errors.As(err, &e) || e != unix.EIO {
			t.Fatalf("pending call after peer death: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pending call hangs after peer death")
	}
	if _, _, _, err := f.GetAttr(context.Background(), AttrAll); !errors.Is(err, ErrClosed) {
		t.Fatalf("call after peer death: %v", err)
	}
}

func TestServerDeath(t *testing.T) {
	fs := newMemFS()
	entered := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	fs.setHook(func(name string) {
		if name == "d" {
			close(entered)
			<-release
		}
	})
	cs, ss, err := Socketpair()
	must(t, err)
	go NewServer(fs, ServerOptions{}).Serve(ss)
	c, err := NewClient(context.Background(), cs, ClientOptions{CallerReads: callerReads})
	must(t, err)
	defer c.Close()
	root := attach(t, c)
	_, err = root.Mkdir(context.Background(), "d", 0o755, 0)
	must(t, err)
	_, d, err := root.Walk(context.Background(), []string{"d"})
	must(t, err)
	done := make(chan error, 1)
	go func() {
		_, _, _, err := d.GetAttr(context.Background(), AttrAll)
		done <- err
	}()
	<-entered
	c.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestClientRejectsHostileReplies(t *testing.T) {
	for name, reply := range map[string][]byte{
		"unknown tag":  encodeMessage(nil, 999, &rclunk{}),
		"wrong type":   encodeMessage(nil, 0, &rclunk{}),
		"short":        {3, 0, 0, 0},
		"size lies":    {100, 0, 0, 0, byte(mRgetattr), 0, 0},
		"truncated":    encodeMessage(nil, 0, &rgetattr{})[:20],
		"huge walk":    {9, 0, 0, 0, byte(mRwalk), 0, 0, 0xff, 0xff},
		"zero length ": {},
	} {
		t.Run(name, func(t *testing.T) {
			c, p := rawServer(t)
			done := make(chan error, 1)
			go func() {
				_, _, _, err := (&Fid{c, 1}).GetAttr(context.Background(), AttrAll)
				done <- err
			}()
			p.recv()
			if len(reply) > 4 && name != "short" && name != "size lies" {
				reply[0] = byte(len(reply))
			}
			p.sendRaw(reply)
			select {
			case err := <-done:
				if !errors.Is(err, ErrClosed) {
					t.Fatalf("got %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("hang")
			}
		})
	}
}

func TestServerRejectsHostileRequests(t *testing.T) {
	a, ss, err := Socketpair()
	must(t, err)
	done := make(chan error, 1)
	go func() { done <- NewServer(newMemFS(), ServerOptions{MaxMessageSize: 8192}).Serve(ss) }()
	p := &rawPeer{t: t, fd: int(a.Fd())}
	defer a.Close()

	// Before Tversion, requests are refused.
	p.send(1, &tclunk{fidOnly{1}})
	if typ, tag, _ := p.recv(); typ != mRlerror || tag != 1 {
		t.Fatalf("pre-version request: type %d tag %d", typ, tag)
	}
	p.send(NoTag, &tversion{MSize: 1 << 30, Version: "9P2000.L.future"})
	typ, _, body := p.recv()
	var rv rversion
	if typ != mRversion || decodeBody(&rv, body) != nil || rv.Version != VersionL || rv.MSize != 8192 {
		t.Fatalf("version: %d %+v", typ, rv)
	}
	expectErr := func(tag uint16, want unix.Errno) {
		t.Helper()
		typ, gotTag, body := p.recv()
		var rl rlerror
		if typ != mRlerror || gotTag != tag || decodeBody(&rl, body) != nil || unix.Errno(rl.Ecode) != want {
			t.Fatalf("want Rlerror(%v) tag %d, got type %d tag %d %v", want, tag, typ, gotTag, unix.Errno(rl.Ecode))
		}
	}
	p.sendRaw([]byte{7, 0, 0, 0, 250, 5, 0})
	expectErr(5, unix.EOPNOTSUPP)
	p.sendRaw([]byte{9, 0, 0, 0, byte(mTwalk), 6, 0, 1, 0})
	expectErr(6, unix.EINVAL)
	p.sendRaw([]byte{13, 0, 0, 0, byte(mTwalk), 7, 0, 1, 0, 0, 0, 2, 0}) // fid 1 only partly
	expectErr(7, unix.EINVAL)
	p.send(8, &txattrcreate{FID: 1, Name: "user.x", Size: 1 << 40})
	expectErr(8, unix.E2BIG)
	p.send(9, &tread{FID: 77, Count: 1 << 31})
	expectErr(9, unix.EBADF)
	p.send(10, &twalkgetattr{twalk{FID: 1, NewFID: 2}})
	expectErr(10, unix.EOPNOTSUPP) // extension not negotiated
	p.send(11, &tattach{FID: 1, AFID: NoFID, NUName: 0})
	if typ, _, _ := p.recv(); typ != mRattach {
		t.Fatalf("attach: %d", typ)
	}
	p.send(12, &tattach{FID: 1, AFID: NoFID})
	expectErr(12, unix.EBADF) // fid in use
	// A message above msize closes the connection.
	big := encodeMessage(nil, 13, &twrite{FID: 1, Data: make([]byte, 9000)})
	p.sendRaw(big)
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("oversized message: Serve returned nil")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server kept an oversized message")
	}
}

func TestVersionUnknown(t *testing.T) {
	a, ss, err := Socketpair()
	must(t, err)
	defer a.Close()
	go NewServer(newMemFS(), ServerOptions{}).Serve(ss)
	p := &rawPeer{t: t, fd: int(a.Fd())}
	p.send(NoTag, &tversion{MSize: 8192, Version: "9P2000"})
	typ, _, body := p.recv()
	var rv rversion
	if typ != mRversion || decodeBody(&rv, body) != nil || rv.Version != "unknown" {
		t.Fatalf("got %d %+v", typ, rv)
	}
	p.send(NoTag, &tversion{MSize: 100, Version: VersionL})
	if typ, _, body = p.recv(); typ != mRversion || decodeBody(&rv, body) != nil || rv.Version != "unknown" {
		t.Fatalf("tiny msize accepted: %+v", rv)
	}
}

func TestClunkClosesBackend(t *testing.T) {
	ctx := context.Background()
	fs := newMemFS()
	c, done := serve(t, fs, ServerOptions{})
	root := attach(t, c)
	for range 10 {
		_, f, err := root.Walk(ctx, nil)
		must(t, err)
		must(t, f.Clunk(ctx))
	}
	fs.mu.Lock()
	n := fs.closes
	fs.mu.Unlock()
	if n != 10 {
		t.Fatalf("%d backend closes after 10 clunks", n)
	}
	_ = done
}

// TestStreamTransport runs the protocol over SOCK_STREAM, as with diod.
func TestStreamTransport(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	must(t, err)
	go NewServer(newMemFS(), ServerOptions{}).Serve(os.NewFile(uintptr(fds[1]), "s"))
	c, err := NewClient(context.Background(), os.NewFile(uintptr(fds[0]), "c"), ClientOptions{CallerReads: callerReads})
	must(t, err)
	defer c.Close()
	ctx := context.Background()
	root := attach(t, c)
	_, f, err := root.Walk(ctx, nil)
	must(t, err)
	_, _, donated, err := f.Create(ctx, "x", ReadWrite, 0o644, 0)
	must(t, err)
	if donated != nil {
		t.Fatal("fd donated over a stream socket")
	}
	data := bytes.Repeat([]byte("abc"), 1<<20)
	_, err = f.WriteAt(ctx, data, 0)
	must(t, err)
	got := make([]byte, len(data))
	_, err = f.ReadAt(ctx, got, 0)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stream read: %v", err)
	}
}

// callerReads runs the client tests a second time with
// ClientOptions.CallerReads (TestMain).
var callerReads bool

func TestMain(m *testing.M) {
	code := m.Run()
	callerReads = true
	if c := m.Run(); code == 0 {
		code = c
	}
	os.Exit(code)
}
