package p9

// Little-endian 9P primitives. The decoder never trusts a size or count read
// from the wire: every read is bounds-checked against the bytes actually
// received, and the first violation latches d.err so callers check once at
// the end instead of after every field.

import (
	"encoding/binary"
	"errors"
)

var errShort = errors.New("p9: message truncated")

type encoder struct {
	buf []byte
}

func (e *encoder) u8(v uint8)   { e.buf = append(e.buf, v) }
func (e *encoder) u16(v uint16) { e.buf = binary.LittleEndian.AppendUint16(e.buf, v) }
func (e *encoder) u32(v uint32) { e.buf = binary.LittleEndian.AppendUint32(e.buf, v) }
func (e *encoder) u64(v uint64) { e.buf = binary.LittleEndian.AppendUint64(e.buf, v) }

// str encodes s; callers guarantee len(s) fits in 16 bits (checked where
// strings enter the package, see checkName and checkString).
func (e *encoder) str(s string) {
	e.u16(uint16(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) bytes(b []byte) {
	e.u32(uint32(len(b)))
	e.buf = append(e.buf, b...)
}

func (e *encoder) qid(q QID) {
	e.u8(uint8(q.Type))
	e.u32(q.Version)
	e.u64(q.Path)
}

type decoder struct {
	buf []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.buf) {
		d.err = errShort
		d.buf = nil
		return nil
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}

func (d *decoder) u8() uint8 {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if b := d.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) str() string {
	n := d.u16()
	return string(d.take(int(n)))
}

// bytes returns a slice aliasing the receive buffer: no allocation, and the
// length is bounded by what was received.
func (d *decoder) bytes() []byte {
	n := d.u32()
	if uint64(n) > uint64(len(d.buf)) {
		d.err = errShort
		return nil
	}
	return d.take(int(n))
}

func (d *decoder) qid() QID {
	return QID{Type: QIDType(d.u8()), Version: d.u32(), Path: d.u64()}
}

// qids decodes a count-prefixed QID array of at most maxWalkElements.
func (d *decoder) qids() []QID {
	n := int(d.u16())
	if n > MaxWalkElements {
		d.err = errTooMany
		return nil
	}
	if n*qidSize > len(d.buf) {
		d.err = errShort
		return nil
	}
	qs := make([]QID, n)
	for i := range qs {
		qs[i] = d.qid()
	}
	return qs
}

// names decodes a count-prefixed string array of at most MaxWalkElements.
func (d *decoder) names() []string {
	n := int(d.u16())
	if n > MaxWalkElements {
		d.err = errTooMany
		return nil
	}
	if n*2 > len(d.buf) {
		d.err = errShort
		return nil
	}
	ns := make([]string, n)
	for i := range ns {
		ns[i] = d.str()
	}
	return ns
}

var errTooMany = errors.New("p9: too many walk elements")

const qidSize = 13
