package p9

import (
	"reflect"
	"testing"
)

// sampleMessages has one filled-in value of every message type.
func sampleMessages() []message {
	q := QID{Type: QTDir, Version: 7, Path: 0x0102030405060708}
	attr := Attr{Mode: S_IFREG | 0o644, UID: 1, GID: 2, NLink: 3, RDev: 4, Size: 5, BlockSize: 6,
		Blocks: 7, ATimeSec: 8, ATimeNsec: 9, MTimeSec: 10, MTimeNsec: 11, CTimeSec: 12,
		CTimeNsec: 13, BTimeSec: 14, BTimeNsec: 15, Gen: 16, DataVersion: 17}
	lk := Lock{Type: LockWrite, Flags: LockBlock, Start: 1, Length: 2, ProcID: 3, ClientID: "host"}
	glk := lk
	glk.Flags = 0
	return []message{
		&rlerror{Ecode: 2},
		&tversion{MSize: 8192, Version: VersionL},
		&rversion{MSize: 4096, Version: VersionExt},
		&tauth{AFID: 1, UName: "u", AName: "a", NUName: 1000},
		&rauth{qidReply{q}},
		&tattach{FID: 1, AFID: NoFID, UName: "root", AName: "/", NUName: 0},
		&rattach{qidReply{q}},
		&tflush{OldTag: 9},
		&rflush{},
		&twalk{FID: 1, NewFID: 2, Names: []string{"a", "bb", "ccc"}},
		&rwalk{QIDs: []QID{q, q}},
		&twalkgetattr{twalk{FID: 1, NewFID: 2, Names: []string{"x"}}},
		&rwalkgetattr{QIDs: []QID{q}, Valid: AttrAll, Attr: attr},
		&tstatfs{fidOnly{3}},
		&rstatfs{StatFS{Type: 1, BlockSize: 2, Blocks: 3, BFree: 4, BAvail: 5, Files: 6, FFree: 7, FSID: 8, NameLen: 9}},
		&tlopen{FID: 1, Flags: ReadWrite | OpenTrunc},
		&rlopen{ropen{QID: q, IOUnit: 4096}},
		&tlcreate{FID: 1, Name: "f", Flags: WriteOnly, Mode: 0o600, GID: 5},
		&rlcreate{ropen{QID: q, IOUnit: 1}},
		&tsymlink{FID: 1, Name: "l", Target: "../t", GID: 5},
		&rsymlink{qidReply{q}},
		&tmknod{DirFID: 1, Name: "n", Mode: S_IFIFO | 0o600, Major: 1, Minor: 2, GID: 3},
		&rmknod{qidReply{q}},
		&trename{FID: 1, DirFID: 2, Name: "r"},
		&rrename{},
		&treadlink{fidOnly{4}},
		&rreadlink{Target: "/abs"},
		&tgetattr{FID: 1, Mask: AttrBasic},
		&rgetattr{Valid: AttrBasic, QID: q, Attr: attr},
		&tsetattr{FID: 1, Valid: SetAttrMode | SetAttrSize, Attr: SetAttr{Mode: 1, UID: 2, GID: 3, Size: 4, ATimeSec: 5, ATimeNsec: 6, MTimeSec: 7, MTimeNsec: 8}},
		&rsetattr{},
		&txattrwalk{FID: 1, NewFID: 2, Name: "user.a"},
		&rxattrwalk{Size: 12},
		&txattrcreate{FID: 1, Name: "user.b", Size: 3, Flags: XattrCreate},
		&rxattrcreate{},
		&treaddir{FID: 1, Offset: 99, Count: 4000},
		&rreaddir{Data: encodeDirents([]Dirent{{QID: q, Offset: 1, Type: 4, Name: "d"}, {QID: q, Offset: 2, Type: 8, Name: "file"}})},
		&tfsync{FID: 1, DataSync: 1},
		&rfsync{},
		&tlock{FID: 1, Lock: lk},
		&rlock{Status: LockBlocked},
		&tgetlock{FID: 1, Lock: glk},
		&rgetlock{Lock: glk},
		&tlink{DirFID: 1, FID: 2, Name: "h"},
		&rlink{},
		&tmkdir{DirFID: 1, Name: "d", Mode: 0o755, GID: 3},
		&rmkdir{qidReply{q}},
		&trenameat{OldDirFID: 1, OldName: "a", NewDirFID: 2, NewName: "b"},
		&rrenameat{},
		&tunlinkat{DirFID: 1, Name: "u", Flags: RemoveDir},
		&runlinkat{},
		&tread{FID: 1, Offset: 5, Count: 100},
		&rread{Data: []byte("hello")},
		&twrite{FID: 1, Offset: 6, Data: []byte("world")},
		&rwrite{Count: 5},
		&tclunk{fidOnly{1}},
		&rclunk{},
		&tremove{fidOnly{1}},
		&rremove{},
	}
}

func newOfType(m message) message {
	return reflect.New(reflect.TypeOf(m).Elem()).Interface().(message)
}

func TestCodecRoundTrip(t *testing.T) {
	seen := map[msgType]bool{}
	for _, m := range sampleMessages() {
		b := encodeMessage(nil, 42, m)
		if int(b[0])|int(b[1])<<8 != len(b) || msgType(b[4]) != m.typ() || b[5] != 42 {
			t.Fatalf("%T: bad header % x", m, b[:7])
		}
		got := newOfType(m)
		if err := decodeBody(got, b[headerSize:]); err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%T: got %+v, want %+v", m, got, m)
		}
		if tm := newTMessage(m.typ()); tm != nil && reflect.TypeOf(tm) != reflect.TypeOf(m) {
			t.Errorf("newTMessage(%d) = %T, want %T", m.typ(), tm, m)
		}
		// Every strict prefix must fail cleanly, and so must a trailing byte.
		for i := headerSize; i < len(b); i++ {
			if err := decodeBody(newOfType(m), b[headerSize:i]); err == nil {
				t.Errorf("%T: prefix of %d bytes decoded", m, i)
			}
		}
		if err := decodeBody(newOfType(m), append(b[headerSize:len(b):len(b)], 0)); err == nil {
			t.Errorf("%T: trailing byte accepted", m)
		}
		seen[m.typ()] = true
	}
	for typ := range 256 {
		if newTMessage(msgType(typ)) != nil && !seen[msgType(typ)] {
			t.Errorf("T-message %d has no sample", typ)
		}
	}
}

func TestDirents(t *testing.T) {
	ents := []Dirent{{QID: QID{Path: 1}, Offset: 1, Type: 4, Name: "a"}, {QID: QID{Path: 2}, Offset: 2, Type: 8, Name: "bcd"}}
	got, err := parseDirents(encodeDirents(ents))
	if err != nil || !reflect.DeepEqual(got, ents) {
		t.Fatalf("got %v, %v", got, err)
	}
	b := encodeDirents(ents)
	if _, err := parseDirents(b[:len(b)-1]); err == nil {
		t.Fatal("truncated dirents parsed")
	}
}

func TestDecoderHostileCounts(t *testing.T) {
	// nwname claims 65535 names in a 10-byte body: must fail without
	// allocating for the claim.
	body := []byte{1, 0, 0, 0, 2, 0, 0, 0, 0xff, 0xff}
	if err := decodeBody(&twalk{}, body); err == nil {
		t.Fatal("accepted 65535 walk names")
	}
	// A data count larger than the message.
	body = []byte{0xff, 0xff, 0xff, 0x7f, 'x'}
	if err := decodeBody(&rread{}, body); err == nil {
		t.Fatal("accepted oversized Rread count")
	}
}

func TestValidName(t *testing.T) {
	for name, ok := range map[string]bool{
		"a": true, "a.b": true, "...": true, "": false, ".": false, "..": false,
		"a/b": false, "/": false, "a\x00": false, string(make([]byte, 256)): false,
	} {
		if ValidName(name) != ok {
			t.Errorf("ValidName(%q) = %v", name, !ok)
		}
	}
}
