package proc

import "runsc.dev/runsc/sentry/fs"

// Cached returns how many children directory d keeps.
func Cached(d fs.Dentry) int {
	dir := d.(*Dir)
	dir.mu.Lock()
	defer dir.mu.Unlock()
	return len(dir.children)
}
