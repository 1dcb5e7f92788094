package boot

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
)

// CopyIn copies the host tree at src into the VFS directory dst (which
// must exist): files with their data, directories, symlinks, device nodes,
// fifos, modes, owners, times and hard links. It is how tests and the
// developer command fill a tmpfs root without a gofer.
func CopyIn(v *fs.VFS, dst fs.Loc, src string) error {
	ctx := &fs.Context{Creds: fs.Root(), Root: v.Root()}
	links := map[[2]uint64]string{}
	return filepath.Walk(src, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		if err := copyOne(v, ctx, dst, rel, path, &st, links); err != nil {
			return fmt.Errorf("copy %q: %w", path, err)
		}
		return nil
	})
}

func copyOne(v *fs.VFS, ctx *fs.Context, dst fs.Loc, rel, path string, st *unix.Stat_t, links map[[2]uint64]string) error {
	perm := st.Mode & 0o7777
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := v.Mkdir(ctx, dst, rel, perm); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := os.Readlink(path)
		if err != nil {
			return err
		}
		if err := v.Symlink(ctx, target, dst, rel); err != nil {
			return err
		}
	case unix.S_IFREG:
		key := [2]uint64{st.Dev, st.Ino}
		if first, ok := links[key]; ok && st.Nlink > 1 {
			return v.Link(ctx, dst, first, dst, rel, 0)
		}
		links[key] = rel
		if err := copyFile(v, ctx, dst, rel, path, perm); err != nil {
			return err
		}
	default:
		if err := v.Mknod(ctx, dst, rel, st.Mode, st.Rdev); err != nil {
			return err
		}
	}
	flags := unix.AT_SYMLINK_NOFOLLOW
	if err := v.Chown(ctx, dst, rel, int64(st.Uid), int64(st.Gid), flags); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := v.Chmod(ctx, dst, rel, perm, 0); err != nil {
			return err
		}
	}
	return v.Utimens(ctx, dst, rel, &[2]unix.Timespec{st.Atim, st.Mtim}, flags)
}

func copyFile(v *fs.VFS, ctx *fs.Context, dst fs.Loc, rel, path string, perm uint32) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := v.Open(ctx, dst, rel, fs.OpenHow{Flags: unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL, Mode: perm})
	if err != nil {
		return err
	}
	defer out.Close()
	_, err = io.Copy(descWriter{out}, in)
	return err
}

type descWriter struct{ d *fs.FileDescription }

func (w descWriter) Write(p []byte) (int, error) { return w.d.Write(p) }
