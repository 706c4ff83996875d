//! The superblock probers, one module per family, and their table.
//!
//! To add a type: write `superblocks/<family>.rs` with `pub static NAME: Prober`,
//! declare the module here and put the prober in [`PROBERS`] where libblkid 2.38.1
//! has it (`superblocks.c`, `idinfos[]`).

use super::Prober;

mod apfs;
mod bcache;
mod btrfs;
mod erofs;
mod exfat;
mod ext;
mod f2fs;
mod hfs;
mod iso9660;
mod jfs;
mod luks;
mod lvm;
mod mdraid;
mod nilfs;
mod ntfs;
mod reiserfs;
mod squashfs;
mod swap;
mod udf;
mod vfat;
mod xfs;
mod zfs;

pub use ntfs::is_ntfs;
pub use vfat::is_vfat;

/// Every superblock prober, in libblkid 2.38.1's order: the order decides which
/// result comes first, and so the tags and ambivalence. Types libblkid knows and
/// krazybox does not yet are listed as comments, so the place of a new one is clear.
pub static PROBERS: &[&Prober] = &[
    &mdraid::LINUX_RAID,
    // ddf_raid_member, isw_raid_member, lsi_mega_raid_member, via_raid_member,
    // silicon_medley_raid_member, nvidia_raid_member, promise_fasttrack_raid_member,
    // hpt45x_raid_member, hpt37x_raid_member, adaptec_raid_member, jmicron_raid_member
    &bcache::BCACHE,
    // ceph_bluestore, drbd, drbdmanage_control_volume, drbdproxy_datalog
    &lvm::LVM2,
    // LVM1_member, DM_snapshot_cow, DM_verity_hash, DM_integrity
    &luks::LUKS,
    // VMFS_volume_member, ubi, vdo, stratis, BitLocker
    &vfat::VFAT,
    &swap::SWSUSPEND,
    &swap::SWAP,
    &xfs::XFS,
    &xfs::XFS_EXTERNAL_LOG,
    // exfs
    &ext::EXT4DEV,
    &ext::EXT4,
    &ext::EXT3,
    &ext::EXT2,
    &ext::JBD,
    &reiserfs::REISERFS,
    &reiserfs::REISER4,
    &jfs::JFS,
    &udf::UDF,
    &iso9660::ISO9660,
    &zfs::ZFS,
    &hfs::HFSPLUS,
    &hfs::HFS,
    // ufs, hpfs, sysv, xenix
    &ntfs::NTFS,
    // ReFS, cramfs, romfs, minix, gfs, gfs2, ocfs, ocfs2, oracleasm, vxfs
    &squashfs::SQUASHFS,
    &squashfs::SQUASHFS3,
    // netware
    &btrfs::BTRFS,
    // ubifs, bfs, VMFS, befs
    &nilfs::NILFS2,
    &exfat::EXFAT,
    &f2fs::F2FS,
    // mpool
    &apfs::APFS,
    // zonefs
    &erofs::EROFS,
];
