package p9

// One struct per 9P2000.L message. Each encodes its body (after the
// size[4] type[1] tag[2] header) and decodes it from a bounds-checked
// decoder; decode must consume the body exactly.

import "fmt"

type msgType uint8

// Message types of 9P2000.L (Linux's include/net/9p/9p.h numbering) plus the
// runsc extension Twalkgetattr/Rwalkgetattr.
const (
	mTlerror      msgType = 6
	mRlerror      msgType = 7
	mTstatfs      msgType = 8
	mRstatfs      msgType = 9
	mTlopen       msgType = 12
	mRlopen       msgType = 13
	mTlcreate     msgType = 14
	mRlcreate     msgType = 15
	mTsymlink     msgType = 16
	mRsymlink     msgType = 17
	mTmknod       msgType = 18
	mRmknod       msgType = 19
	mTrename      msgType = 20
	mRrename      msgType = 21
	mTreadlink    msgType = 22
	mRreadlink    msgType = 23
	mTgetattr     msgType = 24
	mRgetattr     msgType = 25
	mTsetattr     msgType = 26
	mRsetattr     msgType = 27
	mTxattrwalk   msgType = 30
	mRxattrwalk   msgType = 31
	mTxattrcreate msgType = 32
	mRxattrcreate msgType = 33
	mTreaddir     msgType = 40
	mRreaddir     msgType = 41
	mTfsync       msgType = 50
	mRfsync       msgType = 51
	mTlock        msgType = 52
	mRlock        msgType = 53
	mTgetlock     msgType = 54
	mRgetlock     msgType = 55
	mTlink        msgType = 70
	mRlink        msgType = 71
	mTmkdir       msgType = 72
	mRmkdir       msgType = 73
	mTrenameat    msgType = 74
	mRrenameat    msgType = 75
	mTunlinkat    msgType = 76
	mRunlinkat    msgType = 77
	mTversion     msgType = 100
	mRversion     msgType = 101
	mTauth        msgType = 102
	mRauth        msgType = 103
	mTattach      msgType = 104
	mRattach      msgType = 105
	mTflush       msgType = 108
	mRflush       msgType = 109
	mTwalk        msgType = 110
	mRwalk        msgType = 111
	mTread        msgType = 116
	mRread        msgType = 117
	mTwrite       msgType = 118
	mRwrite       msgType = 119
	mTclunk       msgType = 120
	mRclunk       msgType = 121
	mTremove      msgType = 122
	mRremove      msgType = 123
	// Extension (VersionExt only): walk then getattr of the last element.
	mTwalkgetattr msgType = 200
	mRwalkgetattr msgType = 201
)

type message interface {
	typ() msgType
	encode(e *encoder)
	decode(d *decoder)
}

type rlerror struct{ Ecode uint32 }

func (*rlerror) typ() msgType        { return mRlerror }
func (m *rlerror) encode(e *encoder) { e.u32(m.Ecode) }
func (m *rlerror) decode(d *decoder) { m.Ecode = d.u32() }

type tversion struct {
	MSize   uint32
	Version string
}

func (*tversion) typ() msgType        { return mTversion }
func (m *tversion) encode(e *encoder) { e.u32(m.MSize); e.str(m.Version) }
func (m *tversion) decode(d *decoder) { m.MSize = d.u32(); m.Version = d.str() }

type rversion tversion

func (*rversion) typ() msgType        { return mRversion }
func (m *rversion) encode(e *encoder) { (*tversion)(m).encode(e) }
func (m *rversion) decode(d *decoder) { (*tversion)(m).decode(d) }

type tauth struct {
	AFID   uint32
	UName  string
	AName  string
	NUName UID
}

func (*tauth) typ() msgType { return mTauth }
func (m *tauth) encode(e *encoder) {
	e.u32(m.AFID)
	e.str(m.UName)
	e.str(m.AName)
	e.u32(uint32(m.NUName))
}
func (m *tauth) decode(d *decoder) {
	m.AFID = d.u32()
	m.UName = d.str()
	m.AName = d.str()
	m.NUName = UID(d.u32())
}

type qidReply struct{ QID QID }

func (m *qidReply) encode(e *encoder) { e.qid(m.QID) }
func (m *qidReply) decode(d *decoder) { m.QID = d.qid() }

type rauth struct{ qidReply }

func (*rauth) typ() msgType { return mRauth }

type tattach struct {
	FID    uint32
	AFID   uint32
	UName  string
	AName  string
	NUName UID
}

func (*tattach) typ() msgType { return mTattach }
func (m *tattach) encode(e *encoder) {
	e.u32(m.FID)
	e.u32(m.AFID)
	e.str(m.UName)
	e.str(m.AName)
	e.u32(uint32(m.NUName))
}
func (m *tattach) decode(d *decoder) {
	m.FID = d.u32()
	m.AFID = d.u32()
	m.UName = d.str()
	m.AName = d.str()
	m.NUName = UID(d.u32())
}

type rattach struct{ qidReply }

func (*rattach) typ() msgType { return mRattach }

type tflush struct{ OldTag uint16 }

func (*tflush) typ() msgType        { return mTflush }
func (m *tflush) encode(e *encoder) { e.u16(m.OldTag) }
func (m *tflush) decode(d *decoder) { m.OldTag = d.u16() }

// empty is the body of the R-messages that carry nothing.
type empty struct{}

func (empty) encode(*encoder) {}
func (empty) decode(*decoder) {}

type rflush struct{ empty }

func (*rflush) typ() msgType { return mRflush }

type twalk struct {
	FID    uint32
	NewFID uint32
	Names  []string
}

func (*twalk) typ() msgType { return mTwalk }
func (m *twalk) encode(e *encoder) {
	e.u32(m.FID)
	e.u32(m.NewFID)
	e.u16(uint16(len(m.Names)))
	for _, n := range m.Names {
		e.str(n)
	}
}
func (m *twalk) decode(d *decoder) {
	m.FID = d.u32()
	m.NewFID = d.u32()
	m.Names = d.names()
}

type rwalk struct{ QIDs []QID }

func (*rwalk) typ() msgType { return mRwalk }
func (m *rwalk) encode(e *encoder) {
	e.u16(uint16(len(m.QIDs)))
	for _, q := range m.QIDs {
		e.qid(q)
	}
}
func (m *rwalk) decode(d *decoder) { m.QIDs = d.qids() }

type twalkgetattr struct{ twalk }

func (*twalkgetattr) typ() msgType { return mTwalkgetattr }

type rwalkgetattr struct {
	QIDs  []QID
	Valid AttrMask
	Attr  Attr
}

func (*rwalkgetattr) typ() msgType { return mRwalkgetattr }
func (m *rwalkgetattr) encode(e *encoder) {
	(&rwalk{m.QIDs}).encode(e)
	e.u64(uint64(m.Valid))
	e.attr(&m.Attr)
}
func (m *rwalkgetattr) decode(d *decoder) {
	m.QIDs = d.qids()
	m.Valid = AttrMask(d.u64())
	d.attr(&m.Attr)
}

// fidOnly is the body of T-messages that name just a fid.
type fidOnly struct{ FID uint32 }

func (m *fidOnly) encode(e *encoder) { e.u32(m.FID) }
func (m *fidOnly) decode(d *decoder) { m.FID = d.u32() }

type tstatfs struct{ fidOnly }

func (*tstatfs) typ() msgType { return mTstatfs }

type rstatfs struct{ StatFS StatFS }

func (*rstatfs) typ() msgType { return mRstatfs }
func (m *rstatfs) encode(e *encoder) {
	s := &m.StatFS
	e.u32(s.Type)
	e.u32(s.BlockSize)
	e.u64(s.Blocks)
	e.u64(s.BFree)
	e.u64(s.BAvail)
	e.u64(s.Files)
	e.u64(s.FFree)
	e.u64(s.FSID)
	e.u32(s.NameLen)
}
func (m *rstatfs) decode(d *decoder) {
	s := &m.StatFS
	s.Type = d.u32()
	s.BlockSize = d.u32()
	s.Blocks = d.u64()
	s.BFree = d.u64()
	s.BAvail = d.u64()
	s.Files = d.u64()
	s.FFree = d.u64()
	s.FSID = d.u64()
	s.NameLen = d.u32()
}

type tlopen struct {
	FID   uint32
	Flags OpenFlags
}

func (*tlopen) typ() msgType        { return mTlopen }
func (m *tlopen) encode(e *encoder) { e.u32(m.FID); e.u32(uint32(m.Flags)) }
func (m *tlopen) decode(d *decoder) { m.FID = d.u32(); m.Flags = OpenFlags(d.u32()) }

type ropen struct {
	QID    QID
	IOUnit uint32
}

func (m *ropen) encode(e *encoder) { e.qid(m.QID); e.u32(m.IOUnit) }
func (m *ropen) decode(d *decoder) { m.QID = d.qid(); m.IOUnit = d.u32() }

type rlopen struct{ ropen }

func (*rlopen) typ() msgType { return mRlopen }

type tlcreate struct {
	FID   uint32
	Name  string
	Flags OpenFlags
	Mode  uint32
	GID   GID
}

func (*tlcreate) typ() msgType { return mTlcreate }
func (m *tlcreate) encode(e *encoder) {
	e.u32(m.FID)
	e.str(m.Name)
	e.u32(uint32(m.Flags))
	e.u32(m.Mode)
	e.u32(uint32(m.GID))
}
func (m *tlcreate) decode(d *decoder) {
	m.FID = d.u32()
	m.Name = d.str()
	m.Flags = OpenFlags(d.u32())
	m.Mode = d.u32()
	m.GID = GID(d.u32())
}

type rlcreate struct{ ropen }

func (*rlcreate) typ() msgType { return mRlcreate }

type tsymlink struct {
	FID    uint32
	Name   string
	Target string
	GID    GID
}

func (*tsymlink) typ() msgType { return mTsymlink }
func (m *tsymlink) encode(e *encoder) {
	e.u32(m.FID)
	e.str(m.Name)
	e.str(m.Target)
	e.u32(uint32(m.GID))
}
func (m *tsymlink) decode(d *decoder) {
	m.FID = d.u32()
	m.Name = d.str()
	m.Target = d.str()
	m.GID = GID(d.u32())
}

type rsymlink struct{ qidReply }

func (*rsymlink) typ() msgType { return mRsymlink }

type tmknod struct {
	DirFID uint32
	Name   string
	Mode   uint32
	Major  uint32
	Minor  uint32
	GID    GID
}

func (*tmknod) typ() msgType { return mTmknod }
func (m *tmknod) encode(e *encoder) {
	e.u32(m.DirFID)
	e.str(m.Name)
	e.u32(m.Mode)
	e.u32(m.Major)
	e.u32(m.Minor)
	e.u32(uint32(m.GID))
}
func (m *tmknod) decode(d *decoder) {
	m.DirFID = d.u32()
	m.Name = d.str()
	m.Mode = d.u32()
	m.Major = d.u32()
	m.Minor = d.u32()
	m.GID = GID(d.u32())
}

type rmknod struct{ qidReply }

func (*rmknod) typ() msgType { return mRmknod }

type trename struct {
	FID    uint32
	DirFID uint32
	Name   string
}

func (*trename) typ() msgType { return mTrename }
func (m *trename) encode(e *encoder) {
	e.u32(m.FID)
	e.u32(m.DirFID)
	e.str(m.Name)
}
func (m *trename) decode(d *decoder) {
	m.FID = d.u32()
	m.DirFID = d.u32()
	m.Name = d.str()
}

type rrename struct{ empty }

func (*rrename) typ() msgType { return mRrename }

type treadlink struct{ fidOnly }

func (*treadlink) typ() msgType { return mTreadlink }

type rreadlink struct{ Target string }

func (*rreadlink) typ() msgType        { return mRreadlink }
func (m *rreadlink) encode(e *encoder) { e.str(m.Target) }
func (m *rreadlink) decode(d *decoder) { m.Target = d.str() }

type tgetattr struct {
	FID  uint32
	Mask AttrMask
}

func (*tgetattr) typ() msgType        { return mTgetattr }
func (m *tgetattr) encode(e *encoder) { e.u32(m.FID); e.u64(uint64(m.Mask)) }
func (m *tgetattr) decode(d *decoder) { m.FID = d.u32(); m.Mask = AttrMask(d.u64()) }

type rgetattr struct {
	Valid AttrMask
	QID   QID
	Attr  Attr
}

func (*rgetattr) typ() msgType { return mRgetattr }
func (m *rgetattr) encode(e *encoder) {
	e.u64(uint64(m.Valid))
	e.qid(m.QID)
	e.attr(&m.Attr)
}
func (m *rgetattr) decode(d *decoder) {
	m.Valid = AttrMask(d.u64())
	m.QID = d.qid()
	d.attr(&m.Attr)
}

type tsetattr struct {
	FID   uint32
	Valid SetAttrMask
	Attr  SetAttr
}

func (*tsetattr) typ() msgType { return mTsetattr }
func (m *tsetattr) encode(e *encoder) {
	e.u32(m.FID)
	e.u32(uint32(m.Valid))
	e.u32(m.Attr.Mode)
	e.u32(uint32(m.Attr.UID))
	e.u32(uint32(m.Attr.GID))
	e.u64(m.Attr.Size)
	e.u64(m.Attr.ATimeSec)
	e.u64(m.Attr.ATimeNsec)
	e.u64(m.Attr.MTimeSec)
	e.u64(m.Attr.MTimeNsec)
}
func (m *tsetattr) decode(d *decoder) {
	m.FID = d.u32()
	m.Valid = SetAttrMask(d.u32())
	m.Attr.Mode = d.u32()
	m.Attr.UID = UID(d.u32())
	m.Attr.GID = GID(d.u32())
	m.Attr.Size = d.u64()
	m.Attr.ATimeSec = d.u64()
	m.Attr.ATimeNsec = d.u64()
	m.Attr.MTimeSec = d.u64()
	m.Attr.MTimeNsec = d.u64()
}

type rsetattr struct{ empty }

func (*rsetattr) typ() msgType { return mRsetattr }

type txattrwalk struct {
	FID    uint32
	NewFID uint32
	Name   string
}

func (*txattrwalk) typ() msgType { return mTxattrwalk }
func (m *txattrwalk) encode(e *encoder) {
	e.u32(m.FID)
	e.u32(m.NewFID)
	e.str(m.Name)
}
func (m *txattrwalk) decode(d *decoder) {
	m.FID = d.u32()
	m.NewFID = d.u32()
	m.Name = d.str()
}

type rxattrwalk struct{ Size uint64 }

func (*rxattrwalk) typ() msgType        { return mRxattrwalk }
func (m *rxattrwalk) encode(e *encoder) { e.u64(m.Size) }
func (m *rxattrwalk) decode(d *decoder) { m.Size = d.u64() }

type txattrcreate struct {
	FID   uint32
	Name  string
	Size  uint64
	Flags uint32
}

func (*txattrcreate) typ() msgType { return mTxattrcreate }
func (m *txattrcreate) encode(e *encoder) {
	e.u32(m.FID)
	e.str(m.Name)
	e.u64(m.Size)
	e.u32(m.Flags)
}
func (m *txattrcreate) decode(d *decoder) {
	m.FID = d.u32()
	m.Name = d.str()
	m.Size = d.u64()
	m.Flags = d.u32()
}

type rxattrcreate struct{ empty }

func (*rxattrcreate) typ() msgType { return mRxattrcreate }

type treaddir struct {
	FID    uint32
	Offset uint64
	Count  uint32
}

func (*treaddir) typ() msgType { return mTreaddir }
func (m *treaddir) encode(e *encoder) {
	e.u32(m.FID)
	e.u64(m.Offset)
	e.u32(m.Count)
}
func (m *treaddir) decode(d *decoder) {
	m.FID = d.u32()
	m.Offset = d.u64()
	m.Count = d.u32()
}

// rreaddir carries the encoded entries; parse them with parseDirents.
type rreaddir struct{ Data []byte }

func (*rreaddir) typ() msgType        { return mRreaddir }
func (m *rreaddir) encode(e *encoder) { e.bytes(m.Data) }
func (m *rreaddir) decode(d *decoder) { m.Data = d.bytes() }

func encodeDirents(ents []Dirent) []byte {
	e := encoder{}
	for i := range ents {
		e.qid(ents[i].QID)
		e.u64(ents[i].Offset)
		e.u8(ents[i].Type)
		e.str(ents[i].Name)
	}
	return e.buf
}

func parseDirents(b []byte) ([]Dirent, error) {
	d := decoder{buf: b}
	// Each entry takes at least direntSize bytes, which bounds the count.
	ents := make([]Dirent, 0, len(b)/direntSize)
	for len(d.buf) > 0 && d.err == nil {
		ent := Dirent{QID: d.qid(), Offset: d.u64(), Type: d.u8(), Name: d.str()}
		if d.err == nil {
			ents = append(ents, ent)
		}
	}
	return ents, d.err
}

type tfsync struct {
	FID      uint32
	DataSync uint32
}

func (*tfsync) typ() msgType        { return mTfsync }
func (m *tfsync) encode(e *encoder) { e.u32(m.FID); e.u32(m.DataSync) }
func (m *tfsync) decode(d *decoder) { m.FID = d.u32(); m.DataSync = d.u32() }

type rfsync struct{ empty }

func (*rfsync) typ() msgType { return mRfsync }

type tlock struct {
	FID  uint32
	Lock Lock
}

func (*tlock) typ() msgType { return mTlock }
func (m *tlock) encode(e *encoder) {
	e.u32(m.FID)
	e.u8(uint8(m.Lock.Type))
	e.u32(uint32(m.Lock.Flags))
	e.u64(m.Lock.Start)
	e.u64(m.Lock.Length)
	e.u32(m.Lock.ProcID)
	e.str(m.Lock.ClientID)
}
func (m *tlock) decode(d *decoder) {
	m.FID = d.u32()
	m.Lock.Type = LockType(d.u8())
	m.Lock.Flags = LockFlags(d.u32())
	m.Lock.Start = d.u64()
	m.Lock.Length = d.u64()
	m.Lock.ProcID = d.u32()
	m.Lock.ClientID = d.str()
}

type rlock struct{ Status LockStatus }

func (*rlock) typ() msgType        { return mRlock }
func (m *rlock) encode(e *encoder) { e.u8(uint8(m.Status)) }
func (m *rlock) decode(d *decoder) { m.Status = LockStatus(d.u8()) }

// getlockBody is the shared layout of Tgetlock (after the fid) and Rgetlock.
func (e *encoder) getlock(l *Lock) {
	e.u8(uint8(l.Type))
	e.u64(l.Start)
	e.u64(l.Length)
	e.u32(l.ProcID)
	e.str(l.ClientID)
}

func (d *decoder) getlock(l *Lock) {
	l.Type = LockType(d.u8())
	l.Start = d.u64()
	l.Length = d.u64()
	l.ProcID = d.u32()
	l.ClientID = d.str()
}

type tgetlock struct {
	FID  uint32
	Lock Lock
}

func (*tgetlock) typ() msgType        { return mTgetlock }
func (m *tgetlock) encode(e *encoder) { e.u32(m.FID); e.getlock(&m.Lock) }
func (m *tgetlock) decode(d *decoder) { m.FID = d.u32(); d.getlock(&m.Lock) }

type rgetlock struct{ Lock Lock }

func (*rgetlock) typ() msgType        { return mRgetlock }
func (m *rgetlock) encode(e *encoder) { e.getlock(&m.Lock) }
func (m *rgetlock) decode(d *decoder) { d.getlock(&m.Lock) }

type tlink struct {
	DirFID uint32
	FID    uint32
	Name   string
}

func (*tlink) typ() msgType { return mTlink }
func (m *tlink) encode(e *encoder) {
	e.u32(m.DirFID)
	e.u32(m.FID)
	e.str(m.Name)
}
func (m *tlink) decode(d *decoder) {
	m.DirFID = d.u32()
	m.FID = d.u32()
	m.Name = d.str()
}

type rlink struct{ empty }

func (*rlink) typ() msgType { return mRlink }

type tmkdir struct {
	DirFID uint32
	Name   string
	Mode   uint32
	GID    GID
}

func (*tmkdir) typ() msgType { return mTmkdir }
func (m *tmkdir) encode(e *encoder) {
	e.u32(m.DirFID)
	e.str(m.Name)
	e.u32(m.Mode)
	e.u32(uint32(m.GID))
}
func (m *tmkdir) decode(d *decoder) {
	m.DirFID = d.u32()
	m.Name = d.str()
	m.Mode = d.u32()
	m.GID = GID(d.u32())
}

type rmkdir struct{ qidReply }

func (*rmkdir) typ() msgType { return mRmkdir }

type trenameat struct {
	OldDirFID uint32
	OldName   string
	NewDirFID uint32
	NewName   string
}

func (*trenameat) typ() msgType { return mTrenameat }
func (m *trenameat) encode(e *encoder) {
	e.u32(m.OldDirFID)
	e.str(m.OldName)
	e.u32(m.NewDirFID)
	e.str(m.NewName)
}
func (m *trenameat) decode(d *decoder) {
	m.OldDirFID = d.u32()
	m.OldName = d.str()
	m.NewDirFID = d.u32()
	m.NewName = d.str()
}

type rrenameat struct{ empty }

func (*rrenameat) typ() msgType { return mRrenameat }

type tunlinkat struct {
	DirFID uint32
	Name   string
	Flags  uint32
}

func (*tunlinkat) typ() msgType { return mTunlinkat }
func (m *tunlinkat) encode(e *encoder) {
	e.u32(m.DirFID)
	e.str(m.Name)
	e.u32(m.Flags)
}
func (m *tunlinkat) decode(d *decoder) {
	m.DirFID = d.u32()
	m.Name = d.str()
	m.Flags = d.u32()
}

type runlinkat struct{ empty }

func (*runlinkat) typ() msgType { return mRunlinkat }

type tread struct {
	FID    uint32
	Offset uint64
	Count  uint32
}

func (*tread) typ() msgType { return mTread }
func (m *tread) encode(e *encoder) {
	e.u32(m.FID)
	e.u64(m.Offset)
	e.u32(m.Count)
}
func (m *tread) decode(d *decoder) {
	m.FID = d.u32()
	m.Offset = d.u64()
	m.Count = d.u32()
}

type rread struct{ Data []byte }

func (*rread) typ() msgType        { return mRread }
func (m *rread) encode(e *encoder) { e.bytes(m.Data) }
func (m *rread) decode(d *decoder) { m.Data = d.bytes() }

type twrite struct {
	FID    uint32
	Offset uint64
	Data   []byte
}

func (*twrite) typ() msgType { return mTwrite }
func (m *twrite) encode(e *encoder) {
	e.u32(m.FID)
	e.u64(m.Offset)
	e.bytes(m.Data)
}
func (m *twrite) decode(d *decoder) {
	m.FID = d.u32()
	m.Offset = d.u64()
	m.Data = d.bytes()
}

type rwrite struct{ Count uint32 }

func (*rwrite) typ() msgType        { return mRwrite }
func (m *rwrite) encode(e *encoder) { e.u32(m.Count) }
func (m *rwrite) decode(d *decoder) { m.Count = d.u32() }

type tclunk struct{ fidOnly }

func (*tclunk) typ() msgType { return mTclunk }

type rclunk struct{ empty }

func (*rclunk) typ() msgType { return mRclunk }

type tremove struct{ fidOnly }

func (*tremove) typ() msgType { return mTremove }

type rremove struct{ empty }

func (*rremove) typ() msgType { return mRremove }

// newTMessage returns an empty T-message of type t, or nil if t is not a
// request this package serves.
func newTMessage(t msgType) message {
	switch t {
	case mTversion:
		return &tversion{}
	case mTauth:
		return &tauth{}
	case mTattach:
		return &tattach{}
	case mTflush:
		return &tflush{}
	case mTwalk:
		return &twalk{}
	case mTwalkgetattr:
		return &twalkgetattr{}
	case mTstatfs:
		return &tstatfs{}
	case mTlopen:
		return &tlopen{}
	case mTlcreate:
		return &tlcreate{}
	case mTsymlink:
		return &tsymlink{}
	case mTmknod:
		return &tmknod{}
	case mTrename:
		return &trename{}
	case mTreadlink:
		return &treadlink{}
	case mTgetattr:
		return &tgetattr{}
	case mTsetattr:
		return &tsetattr{}
	case mTxattrwalk:
		return &txattrwalk{}
	case mTxattrcreate:
		return &txattrcreate{}
	case mTreaddir:
		return &treaddir{}
	case mTfsync:
		return &tfsync{}
	case mTlock:
		return &tlock{}
	case mTgetlock:
		return &tgetlock{}
	case mTlink:
		return &tlink{}
	case mTmkdir:
		return &tmkdir{}
	case mTrenameat:
		return &trenameat{}
	case mTunlinkat:
		return &tunlinkat{}
	case mTread:
		return &tread{}
	case mTwrite:
		return &twrite{}
	case mTclunk:
		return &tclunk{}
	case mTremove:
		return &tremove{}
	}
	return nil
}

// decodeBody decodes body into m and requires that it is consumed exactly.
func decodeBody(m message, body []byte) error {
	d := decoder{buf: body}
	m.decode(&d)
	if d.err != nil {
		return fmt.Errorf("p9: decoding type %d: %w", m.typ(), d.err)
	}
	if len(d.buf) != 0 {
		return fmt.Errorf("p9: decoding type %d: %d trailing bytes", m.typ(), len(d.buf))
	}
	return nil
}

// encodeMessage appends a complete message (header included) to buf.
func encodeMessage(buf []byte, tag uint16, m message) []byte {
	e := encoder{buf: buf[:0]}
	e.u32(0)
	e.u8(uint8(m.typ()))
	e.u16(tag)
	m.encode(&e)
	b := e.buf
	b[0], b[1], b[2], b[3] = byte(len(b)), byte(len(b)>>8), byte(len(b)>>16), byte(len(b)>>24)
	return b
}
