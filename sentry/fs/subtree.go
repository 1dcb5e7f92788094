package fs

// MountSubtree attaches the tree of f below root (a dentry of f, which may
// be a file) at path: how a bind mount of one file or directory of a
// larger export is made.
func (v *VFS) MountSubtree(ctx *Context, at Loc, path string, f Filesystem, root Dentry, flags uint32, source string) (*Mount, error) {
	return v.mount(ctx, at, path, f, root, flags, source)
}
