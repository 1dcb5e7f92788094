package boot

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"

	"runsc.dev/runsc/gofer"
	"runsc.dev/runsc/p9"
	fsgofer "runsc.dev/runsc/sentry/fs/gofer"
)

// GoferExport is one host tree a gofer serves, on its own connection.
type GoferExport struct {
	Path     string `json:"path"`
	ReadOnly bool   `json:"ro,omitempty"`
}

// Gofer is a running gofer process and the sentry's ends of its
// connections, one per export in order (seed 003's fd dispenser).
type Gofer struct {
	Cmd   *exec.Cmd
	Socks []*os.File
}

// StartGofer starts "runsc gofer" (self is the runsc binary) serving
// exports. The gofer dies with its parent.
func StartGofer(self string, exports []GoferExport) (*Gofer, error) {
	spec, err := json.Marshal(exports)
	if err != nil {
		return nil, err
	}
	g := &Gofer{}
	var theirs []*os.File
	defer func() {
		for _, f := range theirs {
			f.Close()
		}
	}()
	for range exports {
		ours, their, err := p9.Socketpair()
		if err != nil {
			g.Close()
			return nil, err
		}
		g.Socks = append(g.Socks, ours)
		theirs = append(theirs, their)
	}
	g.Cmd = exec.Command(self, "gofer", "--exports", string(spec))
	g.Cmd.ExtraFiles = theirs
	g.Cmd.Stderr = os.Stderr
	g.Cmd.SysProcAttr = gofer.SysProcAttr()
	if err := g.Cmd.Start(); err != nil {
		g.Close()
		return nil, fmt.Errorf("start gofer: %w", err)
	}
	return g, nil
}

// Mount returns the file system served on connection i.
func (g *Gofer) Mount(i int, cache fsgofer.CacheMode) (*fsgofer.FS, error) {
	c, err := p9.NewClient(context.Background(), g.Socks[i], p9.ClientOptions{CallerReads: true})
	if err != nil {
		return nil, fmt.Errorf("gofer connection %d: %w", i, err)
	}
	f, err := fsgofer.New(c, fsgofer.Options{Cache: cache})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("gofer connection %d: %w", i, err)
	}
	return f, nil
}

// Close closes the connections (the gofer exits when all are gone) and
// reaps the process.
func (g *Gofer) Close() {
	for _, s := range g.Socks {
		s.Close()
	}
	if g.Cmd != nil && g.Cmd.Process != nil {
		g.Cmd.Process.Kill()
		g.Cmd.Wait()
	}
}

// ServeGofer is the body of "runsc gofer": it opens the exports given as
// JSON, confines the process and serves export i on fd 3+i until every
// connection is closed.
func ServeGofer(exportsJSON string) error {
	var exports []GoferExport
	if err := json.Unmarshal([]byte(exportsJSON), &exports); err != nil {
		return fmt.Errorf("gofer: bad --exports: %w", err)
	}
	served := make([]*gofer.Export, len(exports))
	for i, e := range exports {
		ex, err := gofer.OpenExport(e.Path, e.ReadOnly)
		if err != nil {
			return err
		}
		served[i] = ex
	}
	if err := gofer.Confine(); err != nil {
		return err
	}
	errs := make(chan error, len(served))
	for i, ex := range served {
		sock := os.NewFile(uintptr(3+i), "gofer-server")
		go func() { errs <- ex.Serve(sock) }()
	}
	var first error
	for range served {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
