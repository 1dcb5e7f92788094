// Package p9 implements the 9P2000.L file protocol: the codec for every
// message, a client that keeps many requests in flight on one connection, and
// a concurrent server over a backend File interface. It knows nothing of the
// sentry or the gofer.
//
// # Transport
//
// The intended transport is a SOCK_SEQPACKET unix socketpair (see
// Socketpair): every 9P message is exactly one datagram, so message framing
// costs nothing and a file descriptor passed as SCM_RIGHTS is attached to
// exactly one message. On a SOCK_STREAM socket the kernel may merge or split
// the byte ranges that control messages are attached to, which would make
// donated fds ambiguous. Stream sockets (unix or TCP) are supported too, for
// interoperating with standard peers such as diod, but never carry fds.
//
// # Extensions
//
// Both are backwards compatible: a standard 9P2000.L peer never sees them.
//
// Donated fds: on a unix socket, the server may attach one open host file
// descriptor as SCM_RIGHTS ancillary data to the Rlopen or Rlcreate that
// opens a regular file. The client (the sentry) can hand that fd to a
// sandboxed program for native read, write and mmap. The message itself is
// unchanged; a client that ignores ancillary data just closes the fd.
// Which fds a server donates is its policy (the gofer documents its own).
//
// Version "9P2000.L.runsc": the client proposes it first. A server that knows
// it answers with the same string and then accepts Twalkgetattr (type 200):
// fid[4] newfid[4] nwname[2] nwname*(wname[s]), answered by Rwalkgetattr
// (type 201): nwqid[2] nwqid*(qid[13]) valid[8] followed by the Rgetattr
// attribute fields from mode[4] to data_version[8]. The attributes are those
// of the last element and are present only when every element was walked.
// A standard server truncates the version at the period and answers
// "9P2000.L", and the client then walks and gets attributes in two messages.
//
// # Errors
//
// Rlerror codes come back from the client as unix.Errno values, so
// errors.Is(err, unix.ENOENT) works. A lost connection makes every pending
// and later call fail with an error matching ErrClosed (and unix.EIO).
//
// # Limits
//
// The decoder bounds every size and count by the bytes actually received,
// and receive buffers are msize bytes, so a hostile peer cannot make either
// side allocate more than a few msize-sized buffers per request in flight.
// A malformed request gets Rlerror(EINVAL); a message longer than msize, a
// reused tag or unexpected control data close the connection.
package p9
