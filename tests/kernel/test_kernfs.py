"""kernfs on its own: generic_permission (fs/namei.c), setattr_prepare's chown_ok /
chgrp_ok / inode_owner_or_capable (fs/attr.c) as kernfs_iop_setattr applies them,
kernfs_fop_open's KERNFS_ROOT_EXTRA_OPEN_PERM_CHECK, kernfs_fop_write_iter's E2BIG before
kernfs_get_active, kernfs_remove's deactivation, kernfs_rename_ns, and nlink."""

from __future__ import annotations

import errno

import pytest

from mpam.kernel.kernfs import (
    MAY_EXEC,
    MAY_READ,
    MAY_WRITE,
    ROOT,
    Cred,
    KernfsNode,
    KernfsOps,
    KernfsRoot,
    generic_permission,
)

ALICE = Cred(uid=1000, gid=1000)
BOB = Cred(uid=1001, gid=1001, groups=frozenset({1000}))
EVE = Cred(uid=1002, gid=1002)


def _tree() -> tuple[KernfsRoot, KernfsNode, KernfsNode]:
    clock = iter(range(1, 1 << 30))
    kf = KernfsRoot(lambda: next(clock))
    seen: list[str] = []
    ops = KernfsOps(lambda n, cred: "text\n", lambda n, data, cred: seen.append(data) or 0)
    d = kf.create_dir(kf.kn, "g", 0o750, uid=1000, gid=1000)
    assert isinstance(d, KernfsNode)
    f = kf.create_file(d, "tasks", 0o640, ops, uid=1000, gid=1000)
    assert isinstance(f, KernfsNode)
    return kf, d, f


@pytest.mark.parametrize(
    ("cred", "mask", "err"),
    [
        (ALICE, MAY_READ | MAY_WRITE, 0),  # owner bits rw-
        (ALICE, MAY_EXEC, -errno.EACCES),
        (BOB, MAY_READ, 0),  # group bits r-- through a supplementary group
        (BOB, MAY_WRITE, -errno.EACCES),
        (EVE, MAY_READ, -errno.EACCES),  # other bits ---
        (ROOT, MAY_READ | MAY_WRITE, 0),  # CAP_DAC_OVERRIDE
        (ROOT, MAY_EXEC, -errno.EACCES),  # ...but exec needs some x bit on a file
    ],
)
def test_generic_permission_on_a_file(cred: Cred, mask: int, err: int) -> None:
    _, _, f = _tree()
    assert generic_permission(f, cred, mask) == err


def test_root_searches_any_directory() -> None:
    kf, d, _ = _tree()
    kf.setattr(d, ROOT, mode=0)
    assert generic_permission(d, ROOT, MAY_EXEC | MAY_WRITE) == 0
    assert generic_permission(d, ALICE, MAY_EXEC) == -errno.EACCES
    assert kf.lookup(["g", "tasks"], ALICE) == -errno.EACCES


def test_setattr_checks() -> None:
    kf, _, f = _tree()
    assert kf.setattr(f, EVE, uid=1000) == -errno.EPERM  # chown_ok: not even to itself
    assert kf.setattr(f, ALICE, uid=1000) == 0  # the owner, to itself
    assert kf.setattr(f, ALICE, uid=1001) == -errno.EPERM  # only CAP_CHOWN gives it away
    assert kf.setattr(f, ALICE, gid=1002) == -errno.EPERM  # chgrp_ok: not a group it is in
    assert kf.setattr(f, BOB, gid=1000) == -errno.EPERM  # in the group, but not the owner
    assert kf.setattr(f, EVE, mode=0o777) == -errno.EPERM  # inode_owner_or_capable
    assert kf.setattr(f, ALICE, mode=0o600) == 0 and f.perm == 0o600
    assert kf.setattr(f, ROOT, uid=0, gid=0) == 0 and (f.uid, f.gid) == (0, 0)
    before = f.ctime
    assert kf.setattr(f, ROOT, times=(5, 6)) == 0
    assert (f.atime, f.mtime) == (5, 6) and f.ctime > before


def test_open_checks_bits_and_ops_even_for_root() -> None:
    kf, d, f = _tree()
    kf.setattr(f, ROOT, mode=0o200)
    assert kf.open(f, ROOT, read=True, write=False) == -errno.EACCES
    kf.setattr(f, ROOT, mode=0o444)
    assert kf.open(f, ROOT, read=False, write=True) == -errno.EACCES
    show_only = kf.create_file(d, "value", 0o644, KernfsOps(lambda n, cred: "1\n"))
    assert isinstance(show_only, KernfsNode)
    assert kf.open(show_only, ROOT, read=False, write=True) == -errno.EACCES  # no write op


def test_writes_are_whole_and_stale_descriptors_get_enodev() -> None:
    kf, d, f = _tree()
    of = kf.open(f, ROOT, read=True, write=True)
    assert not isinstance(of, int)
    assert of.write(b"x" * 4096) == 4096
    assert of.write(b"x" * 4097) == -errno.E2BIG
    kf.remove(d)
    assert not f.active and "g" not in kf.kn.children
    assert of.write(b"x" * 4097) == -errno.E2BIG  # checked before kernfs_get_active
    assert of.write(b"1\n") == -errno.ENODEV
    assert of.read() == -errno.ENODEV


def test_rename_and_nlink() -> None:
    kf, d, f = _tree()
    assert kf.kn.nlink == 3 and d.nlink == 2 and f.nlink == 1
    other = kf.create_dir(kf.kn, "h", 0o755)
    assert isinstance(other, KernfsNode)
    assert kf.rename(f, other, "tasks") == 0 and f.parent is other
    assert kf.rename(f, other, "tasks") == 0  # nothing to do
    assert kf.create_dir(kf.kn, "h", 0o755) == -errno.EEXIST
    assert kf.rename(d, kf.kn, "h") == -errno.EEXIST
    kf.destroy()
    assert kf.lookup([]) is kf.kn and kf.lookup(["h"]) == -errno.ENOENT
