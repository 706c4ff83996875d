//! The superblock probers, one module per family, and their table.
//!
//! To add a type: write `superblocks/<family>.rs` with `pub static NAME: Prober`,
//! declare the module here and put the prober in [`PROBERS`] where libblkid 2.38.1
//! has it (`superblocks.c`, `idinfos[]`).

use super::Prober;

mod ext;

/// Every superblock prober, in libblkid 2.38.1's order: the order decides which
/// result comes first, and so the tags and ambivalence. Types libblkid knows and
/// krazybox does not yet are listed as comments, so the place of a new one is clear.
pub static PROBERS: &[&Prober] = &[
    // linux_raid_member
    // ddf_raid_member, isw_raid_member, lsi_mega_raid_member, via_raid_member,
    // silicon_medley_raid_member, nvidia_raid_member, promise_fasttrack_raid_member,
    // hpt45x_raid_member, hpt37x_raid_member, adaptec_raid_member, jmicron_raid_member
    // bcache
    // ceph_bluestore, drbd, drbdmanage_control_volume, drbdproxy_datalog
    // LVM2_member
    // LVM1_member, DM_snapshot_cow, DM_verity_hash, DM_integrity
    // crypto_LUKS
    // VMFS_volume_member, ubi, vdo, stratis, BitLocker
    // vfat
    // swsuspend
    // swap
    // xfs
    // xfs_external_log, exfs
    &ext::EXT4DEV,
    &ext::EXT4,
    &ext::EXT3,
    &ext::EXT2,
    &ext::JBD,
    // reiserfs
    // reiser4
    // jfs
    // udf
    // iso9660
    // zfs_member
    // hfsplus
    // hfs
    // ufs, hpfs, sysv, xenix
    // ntfs
    // ReFS, cramfs, romfs, minix, gfs, gfs2, ocfs, ocfs2, oracleasm, vxfs
    // squashfs
    // squashfs3, netware
    // btrfs
    // ubifs, bfs, VMFS, befs
    // nilfs2
    // exfat
    // f2fs
    // mpool
    // apfs
    // zonefs
    // erofs
];
