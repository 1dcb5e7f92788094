package overlay

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// Export writes the upper as an OCI image layer (a tar in PAX format):
// whiteouts become ".wh.<name>" entries, opaque directories get a
// ".wh..wh..opq" entry, hard links are tar links, and xattrs other than the
// overlay's own travel as SCHILY.xattr records. This is the changeset
// `docker diff` lists and `docker commit` stores. Entries come parents
// first, names sorted, so the bytes depend only on the tree.
func (f *FS) Export(w io.Writer) error {
	if f.upper == nil {
		return unix.EROFS
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	e := &exporter{tw: tar.NewWriter(w), links: map[uint64]string{}}
	if err := e.dir(f.upper.Root(), ""); err != nil {
		return err
	}
	return e.tw.Close()
}

type exporter struct {
	tw    *tar.Writer
	links map[uint64]string // upper inode -> first name written
}

func (e *exporter) dir(d fs.Dentry, rel string) error {
	var names []string
	if err := d.Readdir(2, func(de fs.DirEntry) bool { names = append(names, de.Name); return true }); err != nil {
		return err
	}
	sort.Strings(names)
	for _, n := range names {
		c, err := d.Lookup(n)
		if err != nil {
			return err
		}
		if err := e.entry(c, path.Join(rel, n)); err != nil {
			return err
		}
	}
	return nil
}

func tsTime(t unix.Timespec) time.Time { return time.Unix(t.Sec, t.Nsec) }

func (e *exporter) entry(d fs.Dentry, name string) error {
	st, err := d.Stat()
	if err != nil {
		return err
	}
	if st.Type() == unix.S_IFCHR && st.Rdev == 0 {
		dir, base := path.Split(name)
		return e.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dir + ociWhPrefix + base, Mode: 0o600,
			ModTime: tsTime(st.Mtime), Format: tar.FormatPAX})
	}
	h := &tar.Header{Name: name, Mode: int64(st.Mode & 0o7777), Uid: int(st.UID), Gid: int(st.GID),
		ModTime: tsTime(st.Mtime), AccessTime: tsTime(st.Atime), Format: tar.FormatPAX}
	opaque := false
	switch st.Type() {
	case unix.S_IFDIR:
		h.Typeflag, h.Name = tar.TypeDir, name+"/"
		v, err := d.Getxattr(opaqueXattr)
		opaque = err == nil && string(v) == "y"
	case unix.S_IFREG:
		if first, ok := e.links[st.Ino]; ok && st.Nlink > 1 {
			h.Typeflag, h.Linkname = tar.TypeLink, first
			return e.tw.WriteHeader(h)
		}
		e.links[st.Ino] = name
		h.Typeflag, h.Size = tar.TypeReg, st.Size
	case unix.S_IFLNK:
		h.Typeflag = tar.TypeSymlink
		if h.Linkname, err = d.Readlink(); err != nil {
			return err
		}
	case unix.S_IFCHR, unix.S_IFBLK:
		h.Typeflag = tar.TypeChar
		if st.Type() == unix.S_IFBLK {
			h.Typeflag = tar.TypeBlock
		}
		h.Devmajor, h.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		h.Typeflag = tar.TypeFifo
	default:
		return nil // sockets have no place in a layer
	}
	if err := e.xattrs(d, h); err != nil {
		return err
	}
	if err := e.tw.WriteHeader(h); err != nil {
		return err
	}
	switch {
	case h.Typeflag == tar.TypeReg && h.Size > 0:
		if err := e.data(d, h.Size); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	case h.Typeflag == tar.TypeDir:
		if opaque {
			if err := e.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name + "/" + ociOpaque, Mode: 0o600,
				ModTime: tsTime(st.Mtime), Format: tar.FormatPAX}); err != nil {
				return err
			}
		}
		return e.dir(d, name)
	}
	return nil
}

func (e *exporter) xattrs(d fs.Dentry, h *tar.Header) error {
	names, err := d.Listxattr()
	if err != nil {
		return err
	}
	for _, n := range names {
		if private(n) {
			continue
		}
		v, err := d.Getxattr(n)
		if err != nil {
			return err
		}
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		h.PAXRecords["SCHILY.xattr."+n] = string(v)
	}
	return nil
}

func (e *exporter) data(d fs.Dentry, size int64) error {
	f, err := d.Open(unix.O_RDONLY)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(e.tw, io.NewSectionReader(readerAt{f}, 0, size))
	return err
}

type readerAt struct{ f fs.File }

func (r readerAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.f.ReadAt(p, off)
	if n == 0 && err == nil && len(p) > 0 {
		err = io.EOF
	}
	return n, err
}

// Import unpacks an image layer tar into root, the root of a file system
// nothing else uses yet (a fresh ramfs or tmpfs), to serve as a lower. With
// FormatOverlay the layer's ".wh." entries become char 0/0 whiteouts and
// opaque marks; with FormatOCI they are kept as they are and the lower must
// be given to New with FormatOCI.
func Import(r io.Reader, root fs.Dentry, format Format) error {
	im := &importer{root: root, format: format}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := im.entry(h, tr); err != nil {
			return fmt.Errorf("layer entry %q: %w", h.Name, err)
		}
	}
	// Directories last: creating their entries changed their times.
	for i := len(im.dirs) - 1; i >= 0; i-- {
		if err := setTimes(im.dirs[i].d, im.dirs[i].h); err != nil {
			return err
		}
	}
	return nil
}

type importer struct {
	root   fs.Dentry
	format Format
	dirs   []dirTimes
}

type dirTimes struct {
	d fs.Dentry
	h *tar.Header
}

// parent walks to the directory holding name, making missing ones.
func (im *importer) parent(name string) (fs.Dentry, string, error) {
	name = strings.Trim(path.Clean("/"+name), "/")
	if name == "" {
		return nil, "", nil
	}
	d := im.root
	parts := strings.Split(name, "/")
	for _, c := range parts[:len(parts)-1] {
		next, err := d.Lookup(c)
		if err == unix.ENOENT {
			next, err = d.Create(c, &fs.CreateAttrs{Mode: unix.S_IFDIR | 0o755})
		}
		if err != nil {
			return nil, "", err
		}
		d = next
	}
	return d, parts[len(parts)-1], nil
}

func (im *importer) entry(h *tar.Header, r io.Reader) error {
	dir, base, err := im.parent(h.Name)
	if err != nil || dir == nil {
		return err
	}
	if im.format == FormatOverlay && strings.HasPrefix(base, ociWhPrefix) {
		if base == ociOpaque {
			return dir.Setxattr(opaqueXattr, []byte("y"), 0)
		}
		_, err := dir.Create(base[len(ociWhPrefix):], &fs.CreateAttrs{Mode: unix.S_IFCHR})
		return err
	}
	if old, err := dir.Lookup(base); err == nil {
		// A layer may name a directory twice (parents made implicitly
		// first); anything else replaces what is there.
		st, err := old.Stat()
		if err != nil {
			return err
		}
		if st.IsDir() && h.Typeflag == tar.TypeDir {
			return im.attrs(old, h)
		}
		if st.IsDir() {
			err = dir.Rmdir(base)
		} else {
			err = dir.Unlink(base)
		}
		if err != nil {
			return err
		}
	}
	a := &fs.CreateAttrs{Mode: uint32(h.Mode) & 0o7777, UID: uint32(h.Uid), GID: uint32(h.Gid)}
	switch h.Typeflag {
	case tar.TypeDir:
		a.Mode |= unix.S_IFDIR
	case tar.TypeReg:
		a.Mode |= unix.S_IFREG
	case tar.TypeSymlink:
		a.Mode, a.Target = unix.S_IFLNK|0o777, h.Linkname
	case tar.TypeChar, tar.TypeBlock:
		a.Mode |= unix.S_IFCHR
		if h.Typeflag == tar.TypeBlock {
			a.Mode = a.Mode&^unix.S_IFMT | unix.S_IFBLK
		}
		a.Rdev = unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor))
	case tar.TypeFifo:
		a.Mode |= unix.S_IFIFO
	case tar.TypeLink:
		tdir, tbase, err := im.parent(h.Linkname)
		if err != nil {
			return err
		}
		if tdir == nil {
			return unix.EINVAL
		}
		target, err := tdir.Lookup(tbase)
		if err != nil {
			return err
		}
		_, err = dir.Link(base, target)
		return err
	default:
		return nil // nothing else belongs in a layer
	}
	d, err := dir.Create(base, a)
	if err != nil {
		return err
	}
	if h.Typeflag == tar.TypeReg && h.Size > 0 {
		if err := writeAll(d, r); err != nil {
			return err
		}
	}
	return im.attrs(d, h)
}

// attrs applies a header's xattrs, mode, owner and (for non-directories)
// times; directories get their times at the end.
func (im *importer) attrs(d fs.Dentry, h *tar.Header) error {
	keys := make([]string, 0, len(h.PAXRecords))
	for k := range h.PAXRecords {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if n, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if err := d.Setxattr(n, []byte(h.PAXRecords[k]), 0); err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
				return err
			}
		}
	}
	if h.Typeflag == tar.TypeSymlink {
		return setTimes(d, h)
	}
	if err := d.SetStat(&fs.SetStat{Mask: fs.SetMode | fs.SetUID | fs.SetGID, Mode: uint32(h.Mode) & 0o7777,
		UID: uint32(h.Uid), GID: uint32(h.Gid)}); err != nil {
		return err
	}
	if h.Typeflag == tar.TypeDir {
		im.dirs = append(im.dirs, dirTimes{d, h})
		return nil
	}
	return setTimes(d, h)
}

func setTimes(d fs.Dentry, h *tar.Header) error {
	at := h.AccessTime
	if at.IsZero() {
		at = h.ModTime
	}
	return d.SetStat(&fs.SetStat{Mask: fs.SetAtime | fs.SetMtime,
		Atime: unix.NsecToTimespec(at.UnixNano()), Mtime: unix.NsecToTimespec(h.ModTime.UnixNano())})
}

func writeAll(d fs.Dentry, r io.Reader) error {
	f, err := d.Open(unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, copyChunk)
	var off int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			// Zero blocks stay holes, as the layer's files were sparse
			// or would be on a file system that can.
			if !allZero(buf[:n]) {
				if _, werr := f.WriteAt(buf[:n], off); werr != nil {
					return werr
				}
			}
			off += int64(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	return d.SetStat(&fs.SetStat{Mask: fs.SetSize, Size: off})
}
