package p9

// Server side: one reader goroutine per connection decodes requests and
// hands each to its own goroutine (at most MaxInFlight at once), so a slow
// request does not hold up the others.
//
// Lock order: conn.wmu (tags in flight + the socket's write side) before
// conn.fmu (fid table) before fid.mu. No lock is held across a backend call.
//
// Invariants:
//   - A tag is in conn.inflight from the moment its request is read until its
//     reply has been written; removal and the write happen under wmu, so a
//     Tflush that finds its old tag gone knows the reply is already out, and
//     a client reusing a tag never collides with a request still replying.
//   - Every fid in conn.fids holds one reference to its fidState; every
//     request holds one more while it uses the fid. The backend File is
//     closed when the last reference goes.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Attacher creates the root File of a Tattach. aname is the client's choice
// of tree; uid is the attaching user (NoUID when the client sent none).
type Attacher interface {
	Attach(aname string, uid UID) (File, error)
}

// File is the backend object behind one fid. The server calls its methods
// from many goroutines at once (never Close concurrently with the others),
// validates every name with ValidName before passing it on, and rejects
// reads, writes and readdir on fids that are not open. Errors should be
// unix.Errno values; anything else reaches the client as EIO.
type File interface {
	// Walk walks names (0 names clones the file). It returns the QIDs of the
	// elements it resolved; the new File only when all of them resolved.
	Walk(names []string) ([]QID, File, error)
	GetAttr(mask AttrMask) (QID, AttrMask, Attr, error)
	SetAttr(valid SetAttrMask, attr SetAttr) error
	// Open opens the file for I/O. A non-nil *os.File is donated to the
	// client (sent with SCM_RIGHTS) and closed by the server afterwards.
	Open(flags OpenFlags) (QID, uint32, *os.File, error)
	// Create creates name in this directory and returns the opened new file,
	// which replaces this one on the fid.
	Create(name string, flags OpenFlags, mode uint32, uid UID, gid GID) (File, QID, uint32, *os.File, error)
	ReadAt(p []byte, off uint64) (int, error)
	WriteAt(p []byte, off uint64) (int, error)
	// Readdir returns entries after the cookie off; their encoded size
	// (Dirent.EncodedSize) should not exceed count.
	Readdir(off uint64, count uint32) ([]Dirent, error)
	Mkdir(name string, mode uint32, uid UID, gid GID) (QID, error)
	Mknod(name string, mode, major, minor uint32, uid UID, gid GID) (QID, error)
	Symlink(name, target string, uid UID, gid GID) (QID, error)
	// Link creates name in this directory as a hard link to target.
	Link(target File, name string) error
	RenameAt(oldName string, newDir File, newName string) error
	// Rename and Remove act on the file itself (Trename, Tremove).
	Rename(newDir File, newName string) error
	Remove() error
	UnlinkAt(name string, flags uint32) error
	Readlink() (string, error)
	StatFS() (StatFS, error)
	FSync(dataSync bool) error
	GetXattr(name string) ([]byte, error)
	ListXattr() ([]string, error)
	SetXattr(name string, value []byte, flags uint32) error
	RemoveXattr(name string) error
	Lock(l Lock) (LockStatus, error)
	GetLock(l Lock) (Lock, error)
	Close() error
}

// ServerOptions bound what one connection may use. Zero values pick the
// defaults.
type ServerOptions struct {
	// MaxMessageSize caps the negotiated msize (default DefaultMessageSize).
	MaxMessageSize uint32
	// MaxFIDs caps the fids one connection may hold (default 65536).
	MaxFIDs int
	// MaxInFlight caps requests handled at once per connection (default 64).
	MaxInFlight int
}

// Server serves 9P2000.L connections from one Attacher.
type Server struct {
	attacher Attacher
	opts     ServerOptions
}

// NewServer returns a server that attaches through a.
func NewServer(a Attacher, opts ServerOptions) *Server {
	if opts.MaxMessageSize == 0 || opts.MaxMessageSize > DefaultMessageSize {
		opts.MaxMessageSize = DefaultMessageSize
	}
	opts.MaxMessageSize = max(opts.MaxMessageSize, MinMessageSize)
	if opts.MaxFIDs <= 0 {
		opts.MaxFIDs = 1 << 16
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 64
	}
	return &Server{attacher: a, opts: opts}
}

type fidState struct {
	refs atomic.Int32
	file File // nil for an xattrwalk fid
	uid  UID

	mu     sync.Mutex
	opened bool
	// xattr is the value or list read through an xattrwalk fid.
	xattr []byte
	// xw is non-nil once Txattrcreate turned the fid into a write fid.
	xw *xattrWrite
}

type xattrWrite struct {
	name  string
	flags uint32
	size  uint64
	buf   []byte
}

func (f *fidState) decRef() {
	if f.refs.Add(-1) == 0 && f.file != nil {
		f.file.Close()
	}
}

type inflight struct {
	done chan struct{}
}

type conn struct {
	s *Server
	t *transport

	msize   atomic.Uint32
	ext     bool // VersionExt negotiated; set only while nothing is in flight
	handled sync.WaitGroup
	sem     chan struct{}
	bufs    sync.Pool
	// dropped: a reply could not be sent (the client is gone) and the
	// connection was closed for it.
	dropped atomic.Bool

	wmu      sync.Mutex
	inflight map[uint16]*inflight

	fmu  sync.Mutex
	fids map[uint32]*fidState
}

// Serve serves one connection on sock (a connected SOCK_SEQPACKET unix
// socket, or any SOCK_STREAM socket, which cannot donate fds) until the peer
// goes away. It takes ownership of sock. A clean disconnect returns nil.
func (s *Server) Serve(sock *os.File) error {
	t, err := newTransport(sock)
	if err != nil {
		return err
	}
	c := &conn{
		s:        s,
		t:        t,
		sem:      make(chan struct{}, s.opts.MaxInFlight),
		inflight: make(map[uint16]*inflight),
		fids:     make(map[uint32]*fidState),
	}
	c.msize.Store(min(s.opts.MaxMessageSize, uint32(t.maxMsg)))
	err = c.readLoop()
	t.close()
	c.handled.Wait()
	c.clunkAll()
	if errors.Is(err, io.EOF) || errors.Is(err, unix.ECONNRESET) || errors.Is(err, os.ErrClosed) || c.dropped.Load() {
		return nil
	}
	return err
}

func (c *conn) getBuf() []byte {
	if b, ok := c.bufs.Get().(*[]byte); ok && len(*b) == int(c.msize.Load()) {
		return *b
	}
	return make([]byte, c.msize.Load())
}

func (c *conn) putBuf(b []byte) {
	if len(b) == int(c.msize.Load()) {
		c.bufs.Put(&b)
	}
}

func (c *conn) readLoop() error {
	versioned := false
	for {
		c.sem <- struct{}{}
		buf := c.getBuf()
		n, fd, err := c.t.readMsg(buf)
		if fd >= 0 {
			unix.Close(fd) // clients have nothing to donate
		}
		if err != nil {
			return err
		}
		typ, tag := msgType(buf[4]), uint16(buf[5])|uint16(buf[6])<<8
		m := newTMessage(typ)
		if m == nil {
			c.replyNow(tag, &rlerror{uint32(unix.EOPNOTSUPP)})
			c.release(buf)
			continue
		}
		if err := decodeBody(m, buf[headerSize:n]); err != nil {
			c.replyNow(tag, &rlerror{uint32(unix.EINVAL)})
			c.release(buf)
			continue
		}
		if tv, ok := m.(*tversion); ok {
			c.handled.Wait()
			versioned = c.version(tag, tv)
			c.release(buf)
			continue
		}
		if !versioned {
			c.replyNow(tag, &rlerror{uint32(unix.EINVAL)})
			c.release(buf)
			continue
		}
		inf := &inflight{done: make(chan struct{})}
		c.wmu.Lock()
		_, dup := c.inflight[tag]
		if !dup {
			c.inflight[tag] = inf
		}
		c.wmu.Unlock()
		if dup || tag == NoTag {
			return fmt.Errorf("p9: tag %d reused while in flight", tag)
		}
		c.handled.Add(1)
		go func() {
			defer c.handled.Done()
			defer c.release(buf)
			c.handle(tag, m, inf)
		}()
	}
}

func (c *conn) release(buf []byte) {
	c.putBuf(buf)
	<-c.sem
}

// version negotiates msize and resets the session (9P: Tversion aborts all
// outstanding I/O and clunks every fid).
func (c *conn) version(tag uint16, tv *tversion) bool {
	c.clunkAll()
	ver := "unknown"
	switch {
	case tv.Version == VersionExt:
		ver = VersionExt
	case tv.Version == VersionL || strings.HasPrefix(tv.Version, VersionL+"."):
		ver = VersionL
	}
	msize := min(tv.MSize, c.s.opts.MaxMessageSize, uint32(c.t.maxMsg))
	if msize < MinMessageSize {
		ver = "unknown"
		msize = min(c.s.opts.MaxMessageSize, uint32(c.t.maxMsg))
	}
	c.replyNow(tag, &rversion{MSize: msize, Version: ver})
	if ver == "unknown" {
		return false
	}
	c.msize.Store(msize)
	c.ext = ver == VersionExt
	return true
}

// replyNow sends a reply for a request that was never put in flight.
func (c *conn) replyNow(tag uint16, m message) {
	b := encodeMessage(make([]byte, 0, 64), tag, m)
	c.wmu.Lock()
	c.t.writeMsg(b, -1)
	c.wmu.Unlock()
}

func (c *conn) handle(tag uint16, m message, inf *inflight) {
	var donate *os.File
	var reply message
	rbuf := c.getBuf()
	defer c.putBuf(rbuf)
	switch req := m.(type) {
	case *tflush:
		c.flush(tag, req, inf)
		return
	case *tread:
		reply = c.read(req, rbuf)
	default:
		reply, donate = c.dispatch(m)
	}
	var b []byte
	if rr, ok := reply.(*rread); ok {
		// The data was read in place at offset readHeaderSize of rbuf.
		b = encodeReadHeader(rbuf, tag, len(rr.Data))
	} else {
		b = encodeMessage(rbuf, tag, reply)
	}
	fd := -1
	if donate != nil {
		fd = int(donate.Fd())
	}
	c.wmu.Lock()
	delete(c.inflight, tag)
	err := c.t.writeMsg(b, fd)
	c.wmu.Unlock()
	close(inf.done)
	if donate != nil {
		donate.Close()
	}
	if err != nil {
		// A reply that cannot be sent leaves the client waiting forever:
		// drop the connection so it sees an error instead.
		c.dropped.Store(true)
		c.t.close()
	}
}

func encodeReadHeader(buf []byte, tag uint16, n int) []byte {
	size := readHeaderSize + n
	e := encoder{buf: buf[:0]}
	e.u32(uint32(size))
	e.u8(uint8(mRread))
	e.u16(tag)
	e.u32(uint32(n))
	return buf[:size]
}

func (c *conn) flush(tag uint16, req *tflush, inf *inflight) {
	c.wmu.Lock()
	old := c.inflight[req.OldTag]
	c.wmu.Unlock()
	if old != nil && req.OldTag != tag {
		// Backends finish promptly; wait so the old reply precedes Rflush.
		<-old.done
	}
	b := encodeMessage(make([]byte, 0, 16), tag, &rflush{})
	c.wmu.Lock()
	delete(c.inflight, tag)
	c.t.writeMsg(b, -1)
	c.wmu.Unlock()
	close(inf.done)
}

func (c *conn) clunkAll() {
	c.fmu.Lock()
	fids := c.fids
	c.fids = make(map[uint32]*fidState)
	c.fmu.Unlock()
	for _, f := range fids {
		f.decRef()
	}
}

// lookup returns fid's state with a reference the caller must drop.
func (c *conn) lookup(fid uint32) (*fidState, error) {
	c.fmu.Lock()
	defer c.fmu.Unlock()
	f, ok := c.fids[fid]
	if !ok {
		return nil, unix.EBADF
	}
	f.refs.Add(1)
	return f, nil
}

// lookupFile is lookup for requests that need a backend file (not an xattr
// fid).
func (c *conn) lookupFile(fid uint32) (*fidState, error) {
	f, err := c.lookup(fid)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	bad := f.file == nil || f.xw != nil
	f.mu.Unlock()
	if bad {
		f.decRef()
		return nil, unix.EINVAL
	}
	return f, nil
}

// install adds a new fid. With replace, an existing fid of that number is
// replaced (a walk with newfid == fid); otherwise it must be free.
func (c *conn) install(fid uint32, f *fidState, replace bool) error {
	if fid == NoFID {
		return unix.EBADF
	}
	f.refs.Store(1)
	c.fmu.Lock()
	old, exists := c.fids[fid]
	switch {
	case exists && !replace:
		c.fmu.Unlock()
		return unix.EBADF
	case !exists && len(c.fids) >= c.s.opts.MaxFIDs:
		c.fmu.Unlock()
		return unix.EMFILE
	}
	c.fids[fid] = f
	c.fmu.Unlock()
	if exists {
		old.decRef()
	}
	return nil
}

// remove takes fid out of the table and returns the table's reference.
func (c *conn) remove(fid uint32) (*fidState, error) {
	c.fmu.Lock()
	defer c.fmu.Unlock()
	f, ok := c.fids[fid]
	if !ok {
		return nil, unix.EBADF
	}
	delete(c.fids, fid)
	return f, nil
}

// errno maps a backend error to the errno sent in Rlerror.
func errno(err error) *rlerror {
	var e unix.Errno
	if errors.As(err, &e) && e != 0 {
		return &rlerror{uint32(e)}
	}
	return &rlerror{uint32(unix.EIO)}
}

func checkNameErr(name string) error {
	if len(name) > 255 && !strings.ContainsAny(name, "/\x00") {
		return unix.ENAMETOOLONG
	}
	if !ValidName(name) {
		return unix.EINVAL
	}
	return nil
}

func (c *conn) read(req *tread, rbuf []byte) message {
	f, err := c.lookup(req.FID)
	if err != nil {
		return errno(err)
	}
	defer f.decRef()
	count := min(int(req.Count), len(rbuf)-readHeaderSize)
	dst := rbuf[readHeaderSize : readHeaderSize+count]
	f.mu.Lock()
	opened, xattr := f.opened, f.xattr
	f.mu.Unlock()
	if f.file == nil {
		if req.Offset >= uint64(len(xattr)) {
			return &rread{}
		}
		return &rread{dst[:copy(dst, xattr[req.Offset:])]}
	}
	if !opened {
		return errno(unix.EBADF)
	}
	n, err := f.file.ReadAt(dst, req.Offset)
	if err != nil && n == 0 && !errors.Is(err, io.EOF) {
		return errno(err)
	}
	return &rread{dst[:n]}
}

func (c *conn) dispatch(m message) (message, *os.File) {
	switch req := m.(type) {
	case *tattach:
		return c.attach(req), nil
	case *tauth:
		// No authentication: ENOENT is how diod (and its clients) say
		// "not required".
		return errno(unix.ENOENT), nil
	case *twalk:
		return c.walk(req, false), nil
	case *twalkgetattr:
		if !c.ext {
			return errno(unix.EOPNOTSUPP), nil
		}
		return c.walk(&req.twalk, true), nil
	case *tlopen:
		return c.open(req)
	case *tlcreate:
		return c.create(req)
	case *tclunk:
		return c.clunk(req.FID), nil
	case *tremove:
		f, err := c.remove(req.FID)
		if err != nil {
			return errno(err), nil
		}
		defer f.decRef()
		if f.file == nil {
			return errno(unix.EINVAL), nil
		}
		if err := f.file.Remove(); err != nil {
			return errno(err), nil
		}
		return &rremove{}, nil
	case *twrite:
		return c.write(req), nil
	case *txattrwalk:
		return c.xattrWalk(req), nil
	case *txattrcreate:
		return c.xattrCreate(req), nil
	}
	return c.fileOp(m), nil
}

// fileOp handles the requests that act on one backend file (plus, for some,
// a second fid) and need no fid table changes.
func (c *conn) fileOp(m message) message {
	var fid uint32
	switch req := m.(type) {
	case *tgetattr:
		fid = req.FID
	case *tsetattr:
		fid = req.FID
	case *treaddir:
		fid = req.FID
	case *tmkdir:
		fid = req.DirFID
	case *tmknod:
		fid = req.DirFID
	case *tsymlink:
		fid = req.FID
	case *tlink:
		fid = req.DirFID
	case *trenameat:
		fid = req.OldDirFID
	case *trename:
		fid = req.FID
	case *tunlinkat:
		fid = req.DirFID
	case *treadlink:
		fid = req.FID
	case *tstatfs:
		fid = req.FID
	case *tfsync:
		fid = req.FID
	case *tlock:
		fid = req.FID
	case *tgetlock:
		fid = req.FID
	default:
		return errno(unix.EOPNOTSUPP)
	}
	f, err := c.lookupFile(fid)
	if err != nil {
		return errno(err)
	}
	defer f.decRef()
	r, err := c.fileOpOn(f, m)
	if err != nil {
		return errno(err)
	}
	return r
}

func (c *conn) fileOpOn(f *fidState, m message) (message, error) {
	file := f.file
	switch req := m.(type) {
	case *tgetattr:
		qid, valid, attr, err := file.GetAttr(req.Mask)
		return &rgetattr{Valid: valid, QID: qid, Attr: attr}, err
	case *tsetattr:
		return &rsetattr{}, file.SetAttr(req.Valid, req.Attr)
	case *treaddir:
		f.mu.Lock()
		opened := f.opened
		f.mu.Unlock()
		if !opened {
			return nil, unix.EBADF
		}
		count := min(req.Count, c.msize.Load()-readHeaderSize)
		ents, err := file.Readdir(req.Offset, count)
		if err != nil {
			return nil, err
		}
		size := 0
		for i := range ents {
			if size += ents[i].EncodedSize(); size > int(count) {
				ents = ents[:i]
				break
			}
		}
		return &rreaddir{Data: encodeDirents(ents)}, nil
	case *tmkdir:
		if err := checkNameErr(req.Name); err != nil {
			return nil, err
		}
		qid, err := file.Mkdir(req.Name, req.Mode, f.uid, req.GID)
		return &rmkdir{qidReply{qid}}, err
	case *tmknod:
		if err := checkNameErr(req.Name); err != nil {
			return nil, err
		}
		qid, err := file.Mknod(req.Name, req.Mode, req.Major, req.Minor, f.uid, req.GID)
		return &rmknod{qidReply{qid}}, err
	case *tsymlink:
		if err := checkNameErr(req.Name); err != nil {
			return nil, err
		}
		qid, err := file.Symlink(req.Name, req.Target, f.uid, req.GID)
		return &rsymlink{qidReply{qid}}, err
	case *tlink:
		if err := checkNameErr(req.Name); err != nil {
			return nil, err
		}
		t, err := c.lookupFile(req.FID)
		if err != nil {
			return nil, err
		}
		defer t.decRef()
		return &rlink{}, file.Link(t.file, req.Name)
	case *trenameat:
		if err := checkNameErr(req.OldName); err != nil {
			return nil, err
		}
		if err := checkNameErr(req.NewName); err != nil {
			return nil, err
		}
		nd, err := c.lookupFile(req.NewDirFID)
		if err != nil {
			return nil, err
		}
		defer nd.decRef()
		return &rrenameat{}, file.RenameAt(req.OldName, nd.file, req.NewName)
	case *trename:
		if err := checkNameErr(req.Name); err != nil {
			return nil, err
		}
		nd, err := c.lookupFile(req.DirFID)
		if err != nil {
			return nil, err
		}
		defer nd.decRef()
		return &rrename{}, file.Rename(nd.file, req.Name)
	case *tunlinkat:
		if err := checkNameErr(req.Name); err != nil {
			return nil, err
		}
		return &runlinkat{}, file.UnlinkAt(req.Name, req.Flags)
	case *treadlink:
		t, err := file.Readlink()
		if err == nil && !checkString(t) {
			err = unix.ENAMETOOLONG
		}
		return &rreadlink{t}, err
	case *tstatfs:
		st, err := file.StatFS()
		return &rstatfs{st}, err
	case *tfsync:
		return &rfsync{}, file.FSync(req.DataSync != 0)
	case *tlock:
		st, err := file.Lock(req.Lock)
		return &rlock{st}, err
	case *tgetlock:
		l, err := file.GetLock(req.Lock)
		if err == nil && !checkString(l.ClientID) {
			l.ClientID = ""
		}
		return &rgetlock{l}, err
	}
	return nil, unix.EOPNOTSUPP
}

func (c *conn) attach(req *tattach) message {
	if req.AFID != NoFID {
		return errno(unix.EOPNOTSUPP)
	}
	file, err := c.s.attacher.Attach(req.AName, req.NUName)
	if err != nil {
		return errno(err)
	}
	qid, _, _, err := file.GetAttr(AttrMode)
	if err == nil {
		err = c.install(req.FID, &fidState{file: file, uid: req.NUName}, false)
	}
	if err != nil {
		file.Close()
		return errno(err)
	}
	return &rattach{qidReply{qid}}
}

func (c *conn) walk(req *twalk, getattr bool) message {
	for _, n := range req.Names {
		if err := checkNameErr(n); err != nil {
			return errno(err)
		}
	}
	f, err := c.lookupFile(req.FID)
	if err != nil {
		return errno(err)
	}
	defer f.decRef()
	if req.NewFID != req.FID {
		c.fmu.Lock()
		_, used := c.fids[req.NewFID]
		c.fmu.Unlock()
		if used {
			return errno(unix.EBADF)
		}
	}
	qids, nf, err := f.file.Walk(req.Names)
	if len(qids) != len(req.Names) || nf == nil || err != nil {
		if nf != nil {
			nf.Close()
		}
		if len(qids) == 0 || len(qids) >= len(req.Names) {
			if err == nil {
				err = unix.EIO // a backend bug: no file or too many QIDs
			}
			return errno(err)
		}
		// 9P: a walk that fails after the first element returns the QIDs
		// it resolved and does not create newfid.
		if getattr {
			return &rwalkgetattr{QIDs: qids}
		}
		return &rwalk{QIDs: qids}
	}
	var r message = &rwalk{QIDs: qids}
	if getattr {
		_, valid, attr, err := nf.GetAttr(AttrAll)
		if err != nil {
			nf.Close()
			return errno(err)
		}
		r = &rwalkgetattr{QIDs: qids, Valid: valid, Attr: attr}
	}
	if err := c.install(req.NewFID, &fidState{file: nf, uid: f.uid}, req.NewFID == req.FID); err != nil {
		nf.Close()
		return errno(err)
	}
	return r
}

func (c *conn) open(req *tlopen) (message, *os.File) {
	f, err := c.lookupFile(req.FID)
	if err != nil {
		return errno(err), nil
	}
	defer f.decRef()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.opened {
		return errno(unix.EBADF), nil
	}
	qid, iounit, donate, err := f.file.Open(req.Flags)
	if err != nil {
		return errno(err), nil
	}
	f.opened = true
	return &rlopen{ropen{QID: qid, IOUnit: iounit}}, donate
}

func (c *conn) create(req *tlcreate) (message, *os.File) {
	if err := checkNameErr(req.Name); err != nil {
		return errno(err), nil
	}
	f, err := c.lookupFile(req.FID)
	if err != nil {
		return errno(err), nil
	}
	defer f.decRef()
	f.mu.Lock()
	opened := f.opened
	f.mu.Unlock()
	if opened {
		return errno(unix.EBADF), nil
	}
	nf, qid, iounit, donate, err := f.file.Create(req.Name, req.Flags, req.Mode, f.uid, req.GID)
	if err != nil {
		return errno(err), nil
	}
	ns := &fidState{file: nf, uid: f.uid, opened: true}
	if err := c.install(req.FID, ns, true); err != nil {
		nf.Close()
		if donate != nil {
			donate.Close()
		}
		return errno(err), nil
	}
	return &rlcreate{ropen{QID: qid, IOUnit: iounit}}, donate
}

func (c *conn) write(req *twrite) message {
	f, err := c.lookup(req.FID)
	if err != nil {
		return errno(err)
	}
	defer f.decRef()
	f.mu.Lock()
	if xw := f.xw; xw != nil {
		defer f.mu.Unlock()
		end := req.Offset + uint64(len(req.Data))
		if req.Offset != uint64(len(xw.buf)) || end > xw.size {
			return errno(unix.EINVAL)
		}
		xw.buf = append(xw.buf, req.Data...)
		return &rwrite{uint32(len(req.Data))}
	}
	opened := f.opened
	f.mu.Unlock()
	if !opened || f.file == nil {
		return errno(unix.EBADF)
	}
	n, err := f.file.WriteAt(req.Data, req.Offset)
	if err != nil && n == 0 {
		return errno(err)
	}
	return &rwrite{uint32(n)}
}

func (c *conn) clunk(fid uint32) message {
	f, err := c.remove(fid)
	if err != nil {
		return errno(err)
	}
	defer f.decRef()
	f.mu.Lock()
	xw := f.xw
	f.mu.Unlock()
	if xw == nil {
		return &rclunk{}
	}
	switch {
	case uint64(len(xw.buf)) != xw.size:
		err = unix.EINVAL
	case xw.size == 0 && xw.flags == XattrReplace:
		// Linux's v9fs sends removexattr as an empty replace.
		err = f.file.RemoveXattr(xw.name)
	default:
		err = f.file.SetXattr(xw.name, xw.buf, xw.flags)
	}
	if err != nil {
		return errno(err)
	}
	return &rclunk{}
}

func (c *conn) xattrWalk(req *txattrwalk) message {
	f, err := c.lookupFile(req.FID)
	if err != nil {
		return errno(err)
	}
	defer f.decRef()
	var val []byte
	if req.Name == "" {
		var names []string
		if names, err = f.file.ListXattr(); err == nil {
			for _, n := range names {
				val = append(append(val, n...), 0)
			}
		}
	} else {
		val, err = f.file.GetXattr(req.Name)
	}
	if err == nil && len(val) > MaxXattrSize {
		err = unix.E2BIG
	}
	if err == nil {
		err = c.install(req.NewFID, &fidState{xattr: val, uid: f.uid}, false)
	}
	if err != nil {
		return errno(err)
	}
	return &rxattrwalk{uint64(len(val))}
}

func (c *conn) xattrCreate(req *txattrcreate) message {
	if req.Name == "" || strings.IndexByte(req.Name, 0) >= 0 {
		return errno(unix.EINVAL)
	}
	if req.Size > MaxXattrSize {
		return errno(unix.E2BIG)
	}
	f, err := c.lookupFile(req.FID)
	if err != nil {
		return errno(err)
	}
	defer f.decRef()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.opened {
		return errno(unix.EBADF)
	}
	f.xw = &xattrWrite{name: req.Name, flags: req.Flags, size: req.Size, buf: make([]byte, 0, req.Size)}
	return &rxattrcreate{}
}
