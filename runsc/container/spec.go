package container

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// LoadSpec reads and checks bundle/config.json. Errors name the file, and
// the line and column or the JSON path of what is wrong.
func LoadSpec(bundle string) (*specs.Spec, error) {
	name := filepath.Join(bundle, "config.json")
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading OCI spec: %w", err)
	}
	var s specs.Spec
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&s); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			line, col := position(b, se.Offset)
			return nil, fmt.Errorf("%s:%d:%d: malformed JSON: %v", name, line, col, se)
		case errors.As(err, &te):
			line, col := position(b, te.Offset)
			return nil, fmt.Errorf("%s:%d:%d: %s: expected %s, got JSON %s", name, line, col, te.Field, te.Type, te.Value)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := check(&s, bundle); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &s, nil
}

func position(b []byte, off int64) (int, int) {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	before := b[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// check refuses specs runsc cannot run, naming the field.
func check(s *specs.Spec, bundle string) error {
	if !semver.MatchString(s.Version) {
		return fmt.Errorf("ociVersion: %q is not a version", s.Version)
	}
	if s.Root == nil || s.Root.Path == "" {
		return errors.New("root.path: missing")
	}
	rootfs := RootfsPath(s, bundle)
	st, err := os.Stat(rootfs)
	if err != nil {
		return fmt.Errorf("root.path: rootfs %q: %w", rootfs, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("root.path: rootfs %q is not a directory", rootfs)
	}
	if s.Process == nil {
		return errors.New("process: missing")
	}
	if len(s.Process.Args) == 0 {
		return errors.New("process.args: empty")
	}
	// Refuse at create what the sandbox could only refuse at start.
	if _, err := processCreds(s.Process); err != nil {
		return err
	}
	if _, err := processRlimits(s.Process); err != nil {
		return err
	}
	if s.Process.Cwd == "" || s.Process.Cwd[0] != '/' {
		return fmt.Errorf("process.cwd: %q is not an absolute path", s.Process.Cwd)
	}
	for i, m := range s.Mounts {
		if m.Destination == "" || m.Destination[0] != '/' {
			return fmt.Errorf("mounts[%d].destination: %q is not an absolute path", i, m.Destination)
		}
	}
	return checkHooks(s.Hooks)
}

// RootfsPath returns the host path of the container's root.
func RootfsPath(s *specs.Spec, bundle string) string {
	if filepath.IsAbs(s.Root.Path) {
		return s.Root.Path
	}
	return filepath.Join(bundle, s.Root.Path)
}

// semver matches the versions runtime-spec uses ("1.0.2", "1.2.0-rc.1").
var semver = regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
