package ramfs

// Name implements fs.Namer.
func (d *dentry) Name() string { return d.name }
