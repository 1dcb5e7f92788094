package p9

// The transport moves whole 9P messages over a socket held as a non-blocking
// *os.File (so Close wakes a blocked reader through Go's poller). It avoids
// package net on purpose: a binary that links net with cgo cannot use
// syscall.AllThreadsSyscall, which the gofer's confinement needs.
//
// Invariants: one goroutine reads (readMsg); writers serialise on wmu so a
// stream message is never interleaved with another.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Socketpair returns a connected pair of SOCK_SEQPACKET unix sockets, the
// transport this package is designed for: one datagram per message, so a
// donated fd is bound to exactly the message that carries it.
func Socketpair() (*os.File, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("p9: socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "p9-a"), os.NewFile(uintptr(fds[1]), "p9-b"), nil
}

type transport struct {
	f      *os.File
	rc     syscall.RawConn
	packet bool // SOCK_SEQPACKET (else SOCK_STREAM)
	unix   bool // AF_UNIX: may carry SCM_RIGHTS
	// maxMsg is the largest message this side can send (datagram sockets
	// are limited by the send buffer).
	maxMsg int

	// blocking: reads and writes block in the kernel (transport.block),
	// not in Go's netpoller.
	blocking bool

	wmu sync.Mutex
	br  *bufio.Reader // stream sockets only; used by the reading goroutine
	oob []byte        // packet sockets only; used by the reading goroutine
}

// newTransport takes ownership of f, a connected SOCK_SEQPACKET or
// SOCK_STREAM socket (unix or TCP).
func newTransport(f *os.File) (*transport, error) {
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("p9: %w", err)
	}
	fd := -1
	cerr := rc.Control(func(raw uintptr) {
		fd, err = unix.FcntlInt(raw, unix.F_DUPFD_CLOEXEC, 0)
	})
	if cerr != nil {
		return nil, fmt.Errorf("p9: %w", cerr)
	}
	if err != nil {
		return nil, fmt.Errorf("p9: dup: %w", err)
	}
	t := &transport{maxMsg: DefaultMessageSize}
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err == nil {
		var dom int
		dom, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
		t.unix = dom == unix.AF_UNIX
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("p9: not a socket: %w", err)
	}
	switch typ {
	case unix.SOCK_SEQPACKET:
		t.packet = true
		t.maxMsg = packetLimit(fd)
		t.oob = make([]byte, unix.CmsgSpace(4*maxRecvFDs))
	case unix.SOCK_STREAM:
	default:
		unix.Close(fd)
		return nil, fmt.Errorf("p9: socket type %d: %w", typ, unix.ESOCKTNOSUPPORT)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("p9: %w", err)
	}
	t.f = os.NewFile(uintptr(fd), "p9")
	if t.rc, err = t.f.SyscallConn(); err != nil {
		t.f.Close()
		return nil, fmt.Errorf("p9: %w", err)
	}
	if !t.packet {
		t.br = bufio.NewReaderSize(rawReader{t.rc}, 64<<10)
	}
	return t, nil
}

// maxRecvFDs is how many fds one received message may carry before the
// connection is considered hostile (the protocol uses at most one).
const maxRecvFDs = 4

// packetLimit grows the send buffer so a DefaultMessageSize datagram fits,
// and returns the largest datagram the kernel will then accept (it rejects
// datagrams above sk_sndbuf-32 with EMSGSIZE).
func packetLimit(fd int) int {
	want := DefaultMessageSize + 4096
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, want) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, want)
	}
	n, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
	if err != nil || n-64 < MinMessageSize {
		return MinMessageSize
	}
	return min(n-64, DefaultMessageSize)
}

type rawReader struct{ rc syscall.RawConn }

func (r rawReader) Read(p []byte) (int, error) {
	var n int
	var err error
	rerr := r.rc.Read(func(fd uintptr) bool {
		n, err = unix.Read(int(fd), p)
		return err != unix.EAGAIN
	})
	if rerr != nil {
		return 0, rerr
	}
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

var errTooBig = errors.New("p9: message larger than msize")

// readMsg reads one message into buf (len(buf) is the receive limit). It
// returns the message length and a received fd, or -1.
func (t *transport) readMsg(buf []byte) (int, int, error) {
	if !t.packet {
		if _, err := io.ReadFull(t.br, buf[:4]); err != nil {
			return 0, -1, err
		}
		size := int(uint32(buf[0]) | uint32(buf[1])<<8 | uint32(buf[2])<<16 | uint32(buf[3])<<24)
		if size < headerSize || size > len(buf) {
			return 0, -1, fmt.Errorf("%w: size %d", errTooBig, size)
		}
		if _, err := io.ReadFull(t.br, buf[4:size]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, -1, err
		}
		return size, -1, nil
	}
	var n, oobn, flags int
	var err error
	rerr := t.rc.Read(func(fd uintptr) bool {
		n, oobn, flags, _, err = unix.Recvmsg(int(fd), buf, t.oob, unix.MSG_CMSG_CLOEXEC)
		return err != unix.EAGAIN
	})
	if rerr != nil {
		return 0, -1, rerr
	}
	if err != nil {
		return 0, -1, err
	}
	fds, ferr := parseRights(t.oob[:oobn])
	if ferr == nil && flags&unix.MSG_CTRUNC != 0 {
		ferr = errors.New("p9: control data truncated")
	}
	if ferr == nil && len(fds) > 1 {
		ferr = errors.New("p9: more than one fd in a message")
	}
	switch {
	case ferr != nil:
	case n == 0:
		ferr = io.EOF
	case flags&unix.MSG_TRUNC != 0:
		ferr = errTooBig
	case n < headerSize || int(uint32(buf[0])|uint32(buf[1])<<8|uint32(buf[2])<<16|uint32(buf[3])<<24) != n:
		ferr = fmt.Errorf("p9: datagram of %d bytes does not match its size field", n)
	}
	if ferr != nil {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return 0, -1, ferr
	}
	if len(fds) == 1 {
		return n, fds[0], nil
	}
	return n, -1, nil
}

func parseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("p9: control data: %w", err)
	}
	var fds []int
	var perr error
	for i := range msgs {
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			perr = fmt.Errorf("p9: control data: %w", err)
			continue
		}
		fds = append(fds, got...)
	}
	return fds, perr
}

// writeMsg sends one encoded message, with fd attached as SCM_RIGHTS when
// fd >= 0 (unix sockets only; elsewhere the fd is not sent).
func (t *transport) writeMsg(b []byte, fd int) error {
	if len(b) > t.maxMsg {
		return errTooBig
	}
	var oob []byte
	if fd >= 0 && t.unix {
		oob = unix.UnixRights(fd)
	}
	t.wmu.Lock()
	defer t.wmu.Unlock()
	for len(b) > 0 {
		var n int
		var err error
		werr := t.rc.Write(func(raw uintptr) bool {
			n, err = unix.SendmsgN(int(raw), b, oob, nil, unix.MSG_NOSIGNAL)
			return err != unix.EAGAIN
		})
		if werr != nil {
			return werr
		}
		if err != nil {
			return err
		}
		if t.packet {
			return nil
		}
		b, oob = b[n:], nil
	}
	return nil
}

// block makes reads and writes block in the kernel, so that the peer's
// send wakes the reading thread directly (ClientOptions.CallerReads).
func (t *transport) block() error {
	var err error
	if cerr := t.rc.Control(func(fd uintptr) { err = unix.SetNonblock(int(fd), false) }); cerr != nil {
		return cerr
	}
	t.blocking = err == nil
	return err
}

// readable waits up to timeout for a message (or the peer's hang-up) to
// read.
func (t *transport) readable(timeout time.Duration) bool {
	ready := true
	_ = t.rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(timeout.Milliseconds()))
		ready = (err != nil && err != unix.EINTR) || n > 0 // readMsg reports an error
	})
	return ready
}

// close closes the socket. A reader blocked in the kernel (block) is woken
// by shutting the socket down first: closing alone would wait for it.
func (t *transport) close() error {
	if t.blocking {
		_ = t.rc.Control(func(fd uintptr) { _ = unix.Shutdown(int(fd), unix.SHUT_RDWR) })
	}
	return t.f.Close()
}
