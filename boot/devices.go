package boot

import (
	"fmt"
	"path"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"runsc.dev/runsc/sentry/fs"
	"runsc.dev/runsc/sentry/kernel"
)

// SetDevices applies the spec's devices: the nodes of linux.devices are
// made in the sandbox's VFS and their host devices made openable, and
// linux.resources.devices, followed by runc's own rules, becomes the
// device cgroup that the VFS asks before an open or mknod of a device node
// (runc writes the same rules to the devices controller).
func (s *Sandbox) SetDevices(devices []specs.LinuxDevice, rules []specs.LinuxDeviceCgroup) error {
	ctx := &fs.Context{Creds: fs.Root(), Root: s.VFS.Root()}
	for _, d := range devices {
		if err := s.addDevice(ctx, d); err != nil {
			return fmt.Errorf("linux.devices %q: %w", d.Path, err)
		}
	}
	if rules == nil {
		return nil
	}
	out := make([]kernel.DeviceRule, 0, len(rules))
	for i, r := range rules {
		typ := byte('a')
		switch r.Type {
		case "", "a":
		case "c", "b":
			typ = r.Type[0]
		default:
			return fmt.Errorf("linux.resources.devices[%d].type: %q is not a, c or b", i, r.Type)
		}
		major, minor := int64(-1), int64(-1)
		if r.Major != nil {
			major = *r.Major
		}
		if r.Minor != nil {
			minor = *r.Minor
		}
		access := r.Access
		if access == "" {
			access = "rwm"
		}
		out = append(out, kernel.DeviceRule{Allow: r.Allow, Type: typ, Major: major, Minor: minor, Access: access})
	}
	s.devices.SetRules(append(out, runcDevices...))
	return nil
}

// runcDevices are the rules runc appends to every spec's (its
// AllowedDevices), so they win: mknod of any device, the standard devices,
// ptys and tun.
var runcDevices = []kernel.DeviceRule{
	{Allow: true, Type: 'c', Major: -1, Minor: -1, Access: "m"},
	{Allow: true, Type: 'b', Major: -1, Minor: -1, Access: "m"},
	{Allow: true, Type: 'c', Major: 1, Minor: 3, Access: "rwm"},
	{Allow: true, Type: 'c', Major: 1, Minor: 8, Access: "rwm"},
	{Allow: true, Type: 'c', Major: 1, Minor: 7, Access: "rwm"},
	{Allow: true, Type: 'c', Major: 5, Minor: 0, Access: "rwm"},
	{Allow: true, Type: 'c', Major: 1, Minor: 5, Access: "rwm"},
	{Allow: true, Type: 'c', Major: 1, Minor: 9, Access: "rwm"},
	{Allow: true, Type: 'c', Major: 136, Minor: -1, Access: "rwm"},
	{Allow: true, Type: 'c', Major: 5, Minor: 2, Access: "rwm"},
	{Allow: true, Type: 'c', Major: 10, Minor: 200, Access: "rwm"},
}

func (s *Sandbox) addDevice(ctx *fs.Context, d specs.LinuxDevice) error {
	if !path.IsAbs(d.Path) {
		return fmt.Errorf("not an absolute path")
	}
	var typ uint32
	switch d.Type {
	case "c", "u":
		typ = unix.S_IFCHR
	case "b":
		typ = unix.S_IFBLK
	case "p":
		typ = unix.S_IFIFO
	default:
		return fmt.Errorf("type %q is not c, u, b or p", d.Type)
	}
	rdev := uint64(0)
	if typ != unix.S_IFIFO {
		rdev = unix.Mkdev(uint32(d.Major), uint32(d.Minor))
		if err := s.devices.Add(typ, rdev); err != nil {
			return err
		}
	}
	mode := uint32(0o666)
	if d.FileMode != nil {
		mode = uint32(*d.FileMode) & 0o7777
	}
	if err := mkdirAll(s.VFS, ctx, path.Dir(d.Path)); err != nil {
		return err
	}
	// runc replaces what the image has there.
	if err := s.VFS.Unlink(ctx, ctx.Root, d.Path); err != nil && err != unix.ENOENT {
		return err
	}
	if err := s.VFS.Mknod(ctx, ctx.Root, d.Path, typ|mode, rdev); err != nil {
		return err
	}
	if err := s.VFS.Chmod(ctx, ctx.Root, d.Path, mode, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	uid, gid := int64(0), int64(0)
	if d.UID != nil {
		uid = int64(*d.UID)
	}
	if d.GID != nil {
		gid = int64(*d.GID)
	}
	return s.VFS.Chown(ctx, ctx.Root, d.Path, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
}
