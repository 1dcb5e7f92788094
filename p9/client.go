package p9

// Client side: callers on many goroutines issue requests concurrently, each
// under its own tag; one reader goroutine matches replies to tags.
//
// Lock order: Client.mu before Client.fmu. Neither is held while blocking on
// the socket (transport.wmu serialises writes on its own).
//
// Invariants:
//   - A tag is in c.tags (free) or in c.pending (waiting), never both. A
//     flushed request keeps its tag until its Rflush arrives, so a late reply
//     can never be matched to a newer request.
//   - Once c.err is set (connection failed or closed) it never changes,
//     c.pending is empty, and every new request fails at once.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ErrClosed matches (errors.Is) every error caused by a lost or closed
// connection. Such errors also match unix.EIO with errors.Is and errors.As,
// so a filesystem can hand them to a program as they are.
var ErrClosed = errors.New("p9: connection closed")

type connError struct{ cause error }

func (e *connError) Error() string { return fmt.Sprintf("p9: connection lost: %v", e.cause) }

func (e *connError) Is(target error) bool { return target == ErrClosed || target == unix.EIO }

func (e *connError) As(target any) bool {
	if p, ok := target.(*unix.Errno); ok {
		*p = unix.EIO
		return true
	}
	return false
}

// ClientOptions tune NewClient. Zero values pick the defaults.
type ClientOptions struct {
	// MessageSize is the msize to propose (default DefaultMessageSize).
	MessageSize uint32
	// MaxInFlight caps concurrent requests (default 1024, at most 65535).
	MaxInFlight int
	// CallerReads: no reader goroutine; the callers waiting for replies
	// take turns reading them, blocked in the kernel's recvmsg rather than
	// in Go's netpoller. A reply then wakes the waiting thread itself (on
	// its CPU, if it is pinned) instead of a reader that must hand the
	// reply over through the Go scheduler: two wake-ups fewer per round
	// trip. Packet sockets only.
	CallerReads bool
}

// Client is one 9P2000.L connection. It is safe for concurrent use.
type Client struct {
	t     *transport
	msize uint32
	ext   bool
	tags  chan uint16
	done  chan struct{} // closed when the connection fails
	bufs  sync.Pool

	mu      sync.Mutex
	pending map[uint16]*call
	err     error

	fmu      sync.Mutex
	nextFID  uint32
	freeFIDs []uint32

	// CallerReads: the waiting caller that takes the one token from tok
	// reads one message into rbuf, then gives the token back.
	tok  chan struct{}
	rbuf []byte
}

type call struct {
	reply message
	rdata []byte // Tread destination: the reader copies Rread data here
	n     int    // bytes copied into rdata
	fd    int    // donated fd, or -1
	err   error
	done  chan struct{}
	// after, if set, runs once the reply is delivered (ClunkAsync).
	after func()
}

// NewClient negotiates the version and msize on sock (a connected
// SOCK_SEQPACKET unix socket for fd donation, or any SOCK_STREAM socket) and
// takes ownership of it. It proposes VersionExt and falls back to VersionL
// when the server does not know the extension.
func NewClient(ctx context.Context, sock *os.File, opts ClientOptions) (*Client, error) {
	t, err := newTransport(sock)
	if err != nil {
		return nil, err
	}
	msize := opts.MessageSize
	if msize == 0 || msize > DefaultMessageSize {
		msize = DefaultMessageSize
	}
	msize = max(MinMessageSize, min(msize, uint32(t.maxMsg)))
	inflight := opts.MaxInFlight
	if inflight <= 0 {
		inflight = 1024
	}
	inflight = min(inflight, int(NoTag))
	stop := context.AfterFunc(ctx, func() { t.close() })
	rv, err := handshake(t, msize, VersionExt)
	if err == nil && rv.Version == "unknown" {
		rv, err = handshake(t, msize, VersionL)
	}
	if !stop() {
		err = errors.Join(ctx.Err(), err)
	}
	if err == nil {
		switch {
		case rv.Version != VersionExt && rv.Version != VersionL:
			err = fmt.Errorf("p9: server speaks %q, not %s", rv.Version, VersionL)
		case rv.MSize > msize || rv.MSize < MinMessageSize:
			err = fmt.Errorf("p9: server chose msize %d (proposed %d)", rv.MSize, msize)
		}
	}
	if err != nil {
		t.close()
		return nil, err
	}
	c := &Client{
		t:       t,
		msize:   rv.MSize,
		ext:     rv.Version == VersionExt,
		tags:    make(chan uint16, inflight),
		done:    make(chan struct{}),
		pending: make(map[uint16]*call),
		nextFID: 1,
	}
	for i := range inflight {
		c.tags <- uint16(i)
	}
	if !opts.CallerReads || !t.packet {
		go c.readLoop()
		return c, nil
	}
	if err := t.block(); err != nil {
		t.close()
		return nil, fmt.Errorf("p9: %w", err)
	}
	c.tok = make(chan struct{}, 1)
	c.tok <- struct{}{}
	c.rbuf = make([]byte, c.msize)
	return c, nil
}

func handshake(t *transport, msize uint32, version string) (*rversion, error) {
	if err := t.writeMsg(encodeMessage(nil, NoTag, &tversion{MSize: msize, Version: version}), -1); err != nil {
		return nil, fmt.Errorf("p9: sending Tversion: %w", err)
	}
	buf := make([]byte, msize)
	n, fd, err := t.readMsg(buf)
	if fd >= 0 {
		unix.Close(fd)
	}
	if err != nil {
		return nil, fmt.Errorf("p9: reading Rversion: %w", err)
	}
	rv := &rversion{}
	switch msgType(buf[4]) {
	case mRversion:
		err = decodeBody(rv, buf[headerSize:n])
	case mRlerror:
		// Some servers refuse an unknown version with an error.
		rv.Version = "unknown"
	default:
		err = fmt.Errorf("p9: reply of type %d to Tversion", buf[4])
	}
	return rv, err
}

// MessageSize returns the negotiated msize.
func (c *Client) MessageSize() uint32 { return c.msize }

// Extended reports whether the server speaks VersionExt.
func (c *Client) Extended() bool { return c.ext }

// Close closes the connection; calls in flight fail with ErrClosed.
func (c *Client) Close() error {
	c.fail(errors.New("client closed"))
	return nil
}

func (c *Client) fail(cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = &connError{cause}
	for tag, cl := range c.pending {
		cl.err = c.err
		close(cl.done)
		delete(c.pending, tag)
	}
	close(c.done)
	c.t.close()
}

func (c *Client) readLoop() {
	buf := make([]byte, c.msize)
	for c.readOne(buf) == nil {
	}
}

// readOne reads one message into buf and delivers it; an error ends the
// connection.
func (c *Client) readOne(buf []byte) error {
	n, fd, err := c.t.readMsg(buf)
	if err == nil {
		if err = c.deliver(buf[:n], fd); err != nil && fd >= 0 {
			unix.Close(fd)
		}
	}
	if err != nil {
		c.fail(err)
	}
	return err
}

// deliver completes the call that msg answers. An error means the peer broke
// the protocol and the connection must go.
func (c *Client) deliver(msg []byte, fd int) error {
	typ, tag := msgType(msg[4]), uint16(msg[5])|uint16(msg[6])<<8
	c.mu.Lock()
	cl := c.pending[tag]
	delete(c.pending, tag)
	c.mu.Unlock()
	if cl == nil {
		return fmt.Errorf("p9: reply for unknown tag %d", tag)
	}
	var err error
	switch {
	case typ == mRlerror:
		var rl rlerror
		if err = decodeBody(&rl, msg[headerSize:]); err == nil {
			cl.err = unix.Errno(rl.Ecode)
			if rl.Ecode == 0 {
				cl.err = unix.EIO
			}
		}
	case typ != cl.reply.typ():
		err = fmt.Errorf("p9: reply type %d to a request expecting %d", typ, cl.reply.typ())
	default:
		err = decodeBody(cl.reply, msg[headerSize:])
	}
	if err != nil {
		cl.err = &connError{err}
		close(cl.done)
		return err
	}
	switch r := cl.reply.(type) {
	case *rread:
		if len(r.Data) > len(cl.rdata) {
			cl.err = &connError{errors.New("p9: Rread longer than requested")}
			close(cl.done)
			return cl.err
		}
		cl.n = copy(cl.rdata, r.Data)
		r.Data = nil
	case *rreaddir:
		r.Data = bytes.Clone(r.Data)
	}
	cl.fd = fd
	close(cl.done)
	if cl.after != nil {
		cl.after()
	}
	return nil
}

func (c *Client) getBuf() []byte {
	if b, ok := c.bufs.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, c.msize)
}

func (c *Client) putBuf(b []byte) { c.bufs.Put(&b) }

// rpc sends req and waits for reply (or an Rlerror). If ctx ends first, it
// flushes the request; when the server still answered before Rflush, that
// answer is returned, as 9P requires.
func (c *Client) rpc(ctx context.Context, req, reply message, rdata []byte) (*call, error) {
	var tag uint16
	select {
	case tag = <-c.tags:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		return nil, c.err
	}
	cl, err := c.send(tag, req, reply, rdata, nil)
	if err != nil {
		c.tags <- tag
		return nil, err
	}
	if !c.await(ctx, cl) {
		c.flush(tag, cl)
		select {
		case <-cl.done:
		default:
			c.tags <- tag
			return nil, ctx.Err()
		}
	}
	c.tags <- tag
	return cl, cl.err
}

// send registers the call under tag and sends req; after, if set, runs
// when the reply is delivered.
func (c *Client) send(tag uint16, req, reply message, rdata []byte, after func()) (*call, error) {
	cl := &call{reply: reply, rdata: rdata, fd: -1, done: make(chan struct{}), after: after}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.pending[tag] = cl
	c.mu.Unlock()
	buf := c.getBuf()
	b := encodeMessage(buf, tag, req)
	var err error
	if len(b) > int(c.msize) {
		err = unix.EMSGSIZE
	} else if err = c.t.writeMsg(b, -1); err != nil {
		c.fail(err)
		err = c.err
	}
	c.putBuf(buf)
	if err != nil {
		c.mu.Lock()
		if c.pending[tag] == cl {
			delete(c.pending, tag)
		}
		c.mu.Unlock()
		return nil, err
	}
	return cl, nil
}

// await waits until cl is answered (true) or ctx ends (false). Under
// CallerReads the waiting callers take turns reading: the one holding the
// token reads one message, delivers it to whichever call it answers, and
// gives the token back. A caller whose ctx can end waits for the socket
// in slices of readPoll, so that it notices.
func (c *Client) await(ctx context.Context, cl *call) bool {
	for {
		select {
		case <-cl.done:
			return true
		case <-ctx.Done():
			return false
		case <-c.tok: // nil unless CallerReads: never ready
		}
		select {
		case <-cl.done:
		default:
			if ctx.Done() != nil && !c.t.readable(readPoll) {
				break
			}
			c.readOne(c.rbuf)
		}
		c.tok <- struct{}{}
	}
}

// readPoll is how long a cancellable caller waits for a reply before it
// looks at its context again (CallerReads).
const readPoll = 10 * time.Millisecond

// flush sends Tflush for oldtag and waits for Rflush (or connection loss),
// then forgets oldtag.
func (c *Client) flush(oldtag uint16, old *call) {
	var tag uint16
	select {
	case tag = <-c.tags:
	case <-old.done:
		return
	case <-c.done:
		return
	}
	if fl, err := c.send(tag, &tflush{OldTag: oldtag}, &rflush{}, nil, nil); err == nil {
		c.await(context.Background(), fl)
	}
	c.tags <- tag
	c.mu.Lock()
	if c.pending[oldtag] == old {
		delete(c.pending, oldtag)
	}
	c.mu.Unlock()
}

// closeFD releases a donated fd the caller will not use.
func (cl *call) closeFD() {
	if cl != nil && cl.fd >= 0 {
		unix.Close(cl.fd)
		cl.fd = -1
	}
}

func (c *Client) allocFID() uint32 {
	c.fmu.Lock()
	defer c.fmu.Unlock()
	if n := len(c.freeFIDs); n > 0 {
		f := c.freeFIDs[n-1]
		c.freeFIDs = c.freeFIDs[:n-1]
		return f
	}
	c.nextFID++
	return c.nextFID - 1
}

func (c *Client) freeFID(f uint32) {
	c.fmu.Lock()
	c.freeFIDs = append(c.freeFIDs, f)
	c.fmu.Unlock()
}

// Fid is a client handle on a server file. Methods are safe for concurrent
// use, but a Fid must not be used after Clunk or Remove.
type Fid struct {
	c   *Client
	fid uint32
}

// Client returns the connection f belongs to.
func (f *Fid) Client() *Client { return f.c }

// Attach attaches to the server's tree aname as uid.
func (c *Client) Attach(ctx context.Context, uname string, uid UID, aname string) (*Fid, QID, error) {
	if !checkString(uname) || !checkString(aname) {
		return nil, QID{}, unix.ENAMETOOLONG
	}
	fid := c.allocFID()
	r := &rattach{}
	cl, err := c.rpc(ctx, &tattach{FID: fid, AFID: NoFID, UName: uname, AName: aname, NUName: uid}, r, nil)
	cl.closeFD()
	if err != nil {
		c.freeFID(fid)
		return nil, QID{}, err
	}
	return &Fid{c, fid}, r.QID, nil
}

func checkNames(names []string) error {
	if len(names) > MaxWalkElements {
		return unix.E2BIG
	}
	for _, n := range names {
		if !checkString(n) {
			return unix.ENAMETOOLONG
		}
	}
	return nil
}

// Walk walks names (at most MaxWalkElements; none clones f) and returns the
// new fid. When only a prefix resolves, it returns that prefix's QIDs and
// ENOENT.
func (f *Fid) Walk(ctx context.Context, names []string) ([]QID, *Fid, error) {
	if err := checkNames(names); err != nil {
		return nil, nil, err
	}
	nf := f.c.allocFID()
	r := &rwalk{}
	cl, err := f.c.rpc(ctx, &twalk{FID: f.fid, NewFID: nf, Names: names}, r, nil)
	cl.closeFD()
	if err == nil && len(r.QIDs) != len(names) {
		if len(r.QIDs) > len(names) {
			return nil, nil, &connError{errors.New("p9: Rwalk with more QIDs than names")}
		}
		f.c.freeFID(nf)
		return r.QIDs, nil, unix.ENOENT
	}
	if err != nil {
		f.c.freeFID(nf)
		return nil, nil, err
	}
	return r.QIDs, &Fid{f.c, nf}, nil
}

// WalkGetAttr walks like Walk and returns the attributes of the last element
// (of f itself for no names): one round trip on a VersionExt server, Twalk
// then Tgetattr elsewhere.
func (f *Fid) WalkGetAttr(ctx context.Context, names []string) ([]QID, *Fid, AttrMask, Attr, error) {
	if !f.c.ext {
		qids, nf, err := f.Walk(ctx, names)
		if err != nil {
			return qids, nil, 0, Attr{}, err
		}
		_, valid, attr, err := nf.GetAttr(ctx, AttrAll)
		if err != nil {
			nf.Clunk(context.Background())
			return nil, nil, 0, Attr{}, err
		}
		return qids, nf, valid, attr, nil
	}
	if err := checkNames(names); err != nil {
		return nil, nil, 0, Attr{}, err
	}
	nf := f.c.allocFID()
	r := &rwalkgetattr{}
	cl, err := f.c.rpc(ctx, &twalkgetattr{twalk{FID: f.fid, NewFID: nf, Names: names}}, r, nil)
	cl.closeFD()
	if err == nil && len(r.QIDs) != len(names) {
		if len(r.QIDs) > len(names) {
			return nil, nil, 0, Attr{}, &connError{errors.New("p9: Rwalkgetattr with more QIDs than names")}
		}
		f.c.freeFID(nf)
		return r.QIDs, nil, 0, Attr{}, unix.ENOENT
	}
	if err != nil {
		f.c.freeFID(nf)
		return nil, nil, 0, Attr{}, err
	}
	return r.QIDs, &Fid{f.c, nf}, r.Valid, r.Attr, nil
}

// simple runs a request whose reply carries nothing the caller needs beyond
// reply itself.
func (f *Fid) simple(ctx context.Context, req, reply message) error {
	cl, err := f.c.rpc(ctx, req, reply, nil)
	cl.closeFD()
	return err
}

// GetAttr returns the attributes selected by mask (the server may return
// more or fewer; valid says which).
func (f *Fid) GetAttr(ctx context.Context, mask AttrMask) (QID, AttrMask, Attr, error) {
	r := &rgetattr{}
	err := f.simple(ctx, &tgetattr{FID: f.fid, Mask: mask}, r)
	return r.QID, r.Valid, r.Attr, err
}

// SetAttr changes the attributes selected by valid.
func (f *Fid) SetAttr(ctx context.Context, valid SetAttrMask, attr SetAttr) error {
	return f.simple(ctx, &tsetattr{FID: f.fid, Valid: valid, Attr: attr}, &rsetattr{})
}

// Open opens f for I/O. When the server donates the host file (the
// extension), it is returned; the caller owns it.
func (f *Fid) Open(ctx context.Context, flags OpenFlags) (QID, uint32, *os.File, error) {
	r := &rlopen{}
	cl, err := f.c.rpc(ctx, &tlopen{FID: f.fid, Flags: flags}, r, nil)
	if err != nil {
		cl.closeFD()
		return QID{}, 0, nil, err
	}
	return r.QID, r.IOUnit, donated(cl), nil
}

func donated(cl *call) *os.File {
	if cl.fd < 0 {
		return nil
	}
	return os.NewFile(uintptr(cl.fd), "p9-donated")
}

// Create creates and opens name in directory f; f then refers to the new
// file (9P's Tlcreate). The donated host file, if any, is returned.
func (f *Fid) Create(ctx context.Context, name string, flags OpenFlags, mode uint32, gid GID) (QID, uint32, *os.File, error) {
	if !checkString(name) {
		return QID{}, 0, nil, unix.ENAMETOOLONG
	}
	r := &rlcreate{}
	cl, err := f.c.rpc(ctx, &tlcreate{FID: f.fid, Name: name, Flags: flags, Mode: mode, GID: gid}, r, nil)
	if err != nil {
		cl.closeFD()
		return QID{}, 0, nil, err
	}
	return r.QID, r.IOUnit, donated(cl), nil
}

// ReadAt reads len(p) bytes at off in msize-sized requests. Like
// io.ReaderAt, a short count comes with io.EOF.
func (f *Fid) ReadAt(ctx context.Context, p []byte, off uint64) (int, error) {
	chunk := int(f.c.msize) - ioHeaderSize
	total := 0
	for total < len(p) {
		dst := p[total:min(len(p), total+chunk)]
		r := &rread{}
		cl, err := f.c.rpc(ctx, &tread{FID: f.fid, Offset: off + uint64(total), Count: uint32(len(dst))}, r, dst)
		if err != nil {
			return total, err
		}
		cl.closeFD()
		total += cl.n
		if cl.n == 0 {
			return total, io.EOF
		}
	}
	return total, nil
}

// WriteAt writes p at off in msize-sized requests.
func (f *Fid) WriteAt(ctx context.Context, p []byte, off uint64) (int, error) {
	chunk := int(f.c.msize) - ioHeaderSize
	total := 0
	for total < len(p) {
		src := p[total:min(len(p), total+chunk)]
		r := &rwrite{}
		if err := f.simple(ctx, &twrite{FID: f.fid, Offset: off + uint64(total), Data: src}, r); err != nil {
			return total, err
		}
		if int(r.Count) > len(src) {
			return total, &connError{errors.New("p9: Rwrite count larger than sent")}
		}
		total += int(r.Count)
		if r.Count == 0 {
			return total, io.ErrShortWrite
		}
	}
	return total, nil
}

// Readdir returns the entries after cookie off (0 for the start), at most
// count bytes of them (0 means as many as fit in one message). An empty
// result means the end of the directory.
func (f *Fid) Readdir(ctx context.Context, off uint64, count uint32) ([]Dirent, error) {
	limit := f.c.msize - ioHeaderSize
	if count == 0 || count > limit {
		count = limit
	}
	r := &rreaddir{}
	if err := f.simple(ctx, &treaddir{FID: f.fid, Offset: off, Count: count}, r); err != nil {
		return nil, err
	}
	ents, err := parseDirents(r.Data)
	if err != nil {
		return nil, &connError{err}
	}
	return ents, nil
}

// Mkdir creates directory name in f.
func (f *Fid) Mkdir(ctx context.Context, name string, mode uint32, gid GID) (QID, error) {
	if !checkString(name) {
		return QID{}, unix.ENAMETOOLONG
	}
	r := &rmkdir{}
	err := f.simple(ctx, &tmkdir{DirFID: f.fid, Name: name, Mode: mode, GID: gid}, r)
	return r.QID, err
}

// Mknod creates a node name in f; mode includes the file type.
func (f *Fid) Mknod(ctx context.Context, name string, mode, major, minor uint32, gid GID) (QID, error) {
	if !checkString(name) {
		return QID{}, unix.ENAMETOOLONG
	}
	r := &rmknod{}
	err := f.simple(ctx, &tmknod{DirFID: f.fid, Name: name, Mode: mode, Major: major, Minor: minor, GID: gid}, r)
	return r.QID, err
}

// Symlink creates symlink name in f pointing at target.
func (f *Fid) Symlink(ctx context.Context, name, target string, gid GID) (QID, error) {
	if !checkString(name) || !checkString(target) {
		return QID{}, unix.ENAMETOOLONG
	}
	r := &rsymlink{}
	err := f.simple(ctx, &tsymlink{FID: f.fid, Name: name, Target: target, GID: gid}, r)
	return r.QID, err
}

// Link creates name in directory f as a hard link to target.
func (f *Fid) Link(ctx context.Context, target *Fid, name string) error {
	if !checkString(name) {
		return unix.ENAMETOOLONG
	}
	if target.c != f.c {
		return unix.EXDEV
	}
	return f.simple(ctx, &tlink{DirFID: f.fid, FID: target.fid, Name: name}, &rlink{})
}

// RenameAt renames oldName in directory f to newName in directory newDir
// (Trenameat, or Twalk+Trename on servers without it).
func (f *Fid) RenameAt(ctx context.Context, oldName string, newDir *Fid, newName string) error {
	if !checkString(oldName) || !checkString(newName) {
		return unix.ENAMETOOLONG
	}
	if newDir.c != f.c {
		return unix.EXDEV
	}
	err := f.simple(ctx, &trenameat{OldDirFID: f.fid, OldName: oldName, NewDirFID: newDir.fid, NewName: newName}, &rrenameat{})
	if !errors.Is(err, unix.EOPNOTSUPP) {
		return err
	}
	// Servers without Trenameat (older diod) take Trename, as Linux falls
	// back to.
	_, old, err := f.Walk(ctx, []string{oldName})
	if err != nil {
		return err
	}
	err = old.Rename(ctx, newDir, newName)
	old.Clunk(context.Background())
	return err
}

// Rename moves the file f itself to newName in newDir (Trename).
func (f *Fid) Rename(ctx context.Context, newDir *Fid, newName string) error {
	if !checkString(newName) {
		return unix.ENAMETOOLONG
	}
	if newDir.c != f.c {
		return unix.EXDEV
	}
	return f.simple(ctx, &trename{FID: f.fid, DirFID: newDir.fid, Name: newName}, &rrename{})
}

// UnlinkAt removes name from directory f; flags may be RemoveDir
// (Tunlinkat, or Twalk+Tremove on servers without it).
func (f *Fid) UnlinkAt(ctx context.Context, name string, flags uint32) error {
	if !checkString(name) {
		return unix.ENAMETOOLONG
	}
	err := f.simple(ctx, &tunlinkat{DirFID: f.fid, Name: name, Flags: flags}, &runlinkat{})
	if !errors.Is(err, unix.EOPNOTSUPP) {
		return err
	}
	// Servers without Tunlinkat (older diod) take Tremove.
	qids, victim, err := f.Walk(ctx, []string{name})
	if err != nil {
		return err
	}
	isDir := qids[0].Type&QTDir != 0
	if isDir != (flags&RemoveDir != 0) {
		victim.Clunk(context.Background())
		if isDir {
			return unix.EISDIR
		}
		return unix.ENOTDIR
	}
	return victim.Remove(ctx)
}

// Readlink returns the target of symlink f.
func (f *Fid) Readlink(ctx context.Context) (string, error) {
	r := &rreadlink{}
	err := f.simple(ctx, &treadlink{fidOnly{f.fid}}, r)
	return r.Target, err
}

// StatFS returns the statistics of the filesystem holding f.
func (f *Fid) StatFS(ctx context.Context) (StatFS, error) {
	r := &rstatfs{}
	err := f.simple(ctx, &tstatfs{fidOnly{f.fid}}, r)
	return r.StatFS, err
}

// FSync flushes the open file f to stable storage.
func (f *Fid) FSync(ctx context.Context, dataSync bool) error {
	var ds uint32
	if dataSync {
		ds = 1
	}
	return f.simple(ctx, &tfsync{FID: f.fid, DataSync: ds}, &rfsync{})
}

// Lock tries to take, or releases, a POSIX lock on the open file f. The
// server never blocks: with LockBlock, the caller retries on LockBlocked.
func (f *Fid) Lock(ctx context.Context, l Lock) (LockStatus, error) {
	if !checkString(l.ClientID) {
		return LockError, unix.ENAMETOOLONG
	}
	r := &rlock{}
	err := f.simple(ctx, &tlock{FID: f.fid, Lock: l}, r)
	return r.Status, err
}

// GetLock returns the first lock that would conflict with l, or l with
// Type LockUnlock when none would.
func (f *Fid) GetLock(ctx context.Context, l Lock) (Lock, error) {
	if !checkString(l.ClientID) {
		return Lock{}, unix.ENAMETOOLONG
	}
	r := &rgetlock{}
	err := f.simple(ctx, &tgetlock{FID: f.fid, Lock: l}, r)
	return r.Lock, err
}

// Clunk releases f. The fid is gone even when the server reports an error.
func (f *Fid) Clunk(ctx context.Context) error {
	err := f.simple(ctx, &tclunk{fidOnly{f.fid}}, &rclunk{})
	if !errors.Is(err, ErrClosed) {
		f.c.freeFID(f.fid)
	}
	return err
}

// ClunkAsync releases f without waiting: it sends Tclunk, and whoever reads
// the reply frees the fid and the tag. Without a free tag it clunks from
// a goroutine instead.
func (f *Fid) ClunkAsync() {
	c := f.c
	var tag uint16
	select {
	case tag = <-c.tags:
	default:
		go f.Clunk(context.Background())
		return
	}
	if _, err := c.send(tag, &tclunk{fidOnly{f.fid}}, &rclunk{}, nil, func() {
		c.tags <- tag
		c.freeFID(f.fid)
	}); err != nil {
		c.tags <- tag
	}
}

// Remove removes the file f and clunks it (9P's Tremove).
func (f *Fid) Remove(ctx context.Context) error {
	err := f.simple(ctx, &tremove{fidOnly{f.fid}}, &rremove{})
	if !errors.Is(err, ErrClosed) {
		f.c.freeFID(f.fid)
	}
	return err
}

// GetXattr returns the value of extended attribute name.
func (f *Fid) GetXattr(ctx context.Context, name string) ([]byte, error) {
	if name == "" {
		return nil, unix.EINVAL
	}
	return f.xattrRead(ctx, name)
}

// ListXattr returns the names of f's extended attributes.
func (f *Fid) ListXattr(ctx context.Context) ([]string, error) {
	b, err := f.xattrRead(ctx, "")
	if err != nil {
		return nil, err
	}
	var names []string
	for n := range bytes.SplitSeq(b, []byte{0}) {
		if len(n) > 0 {
			names = append(names, string(n))
		}
	}
	return names, nil
}

func (f *Fid) xattrRead(ctx context.Context, name string) ([]byte, error) {
	if !checkString(name) {
		return nil, unix.ERANGE
	}
	nf := f.c.allocFID()
	r := &rxattrwalk{}
	if err := f.simple(ctx, &txattrwalk{FID: f.fid, NewFID: nf, Name: name}, r); err != nil {
		f.c.freeFID(nf)
		return nil, err
	}
	x := &Fid{f.c, nf}
	defer x.Clunk(context.Background())
	if r.Size > MaxXattrSize {
		return nil, unix.E2BIG
	}
	buf := make([]byte, r.Size)
	n, err := x.ReadAt(ctx, buf, 0)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(buf)) {
		return nil, err
	}
	return buf[:n], nil
}

// SetXattr sets extended attribute name; flags may be XattrCreate or
// XattrReplace.
func (f *Fid) SetXattr(ctx context.Context, name string, value []byte, flags uint32) error {
	if name == "" {
		return unix.EINVAL
	}
	if len(value) > MaxXattrSize {
		return unix.E2BIG
	}
	return f.xattrWrite(ctx, name, value, flags)
}

// RemoveXattr removes extended attribute name (sent, as Linux does, as an
// empty Txattrcreate with XattrReplace).
func (f *Fid) RemoveXattr(ctx context.Context, name string) error {
	if name == "" {
		return unix.EINVAL
	}
	return f.xattrWrite(ctx, name, nil, XattrReplace)
}

func (f *Fid) xattrWrite(ctx context.Context, name string, value []byte, flags uint32) error {
	if !checkString(name) {
		return unix.ERANGE
	}
	// Txattrcreate turns its fid into an xattr fid: do that to a clone.
	_, x, err := f.Walk(ctx, nil)
	if err != nil {
		return err
	}
	err = x.simple(ctx, &txattrcreate{FID: x.fid, Name: name, Size: uint64(len(value)), Flags: flags}, &rxattrcreate{})
	if err == nil && len(value) > 0 {
		_, err = x.WriteAt(ctx, value, 0)
	}
	// The value is applied at clunk, which reports its error.
	if cerr := x.Clunk(context.Background()); err == nil {
		err = cerr
	}
	return err
}
