//! The superblock probers, one module per family, and their table.
//!
//! To add a type: write `superblocks/<family>.rs` with `pub static NAME: Prober`,
//! declare the module here and put the prober in [`PROBERS`] where libblkid 2.38.1
//! has it (`superblocks.c`, `idinfos[]`).

use super::Prober;

mod apfs;
mod bcache;
mod befs;
mod bfs;
mod btrfs;
mod cramfs;
mod erofs;
mod exfat;
mod exfs;
mod ext;
mod f2fs;
mod gfs;
mod hfs;
mod hpfs;
mod iso9660;
mod jfs;
mod luks;
mod lvm;
mod mdraid;
mod minix;
mod mpool;
mod netware;
mod nilfs;
mod ntfs;
mod ocfs;
mod refs;
mod reiserfs;
mod romfs;
mod squashfs;
mod swap;
mod sysv;
mod ubifs;
mod udf;
mod ufs;
mod vfat;
mod vmfs_fs;
mod vxfs;
mod xfs;
mod zfs;
mod zonefs;

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
    &exfs::EXFS,
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
    &ufs::UFS,
    &hpfs::HPFS,
    &sysv::SYSV,
    &sysv::XENIX,
    &ntfs::NTFS,
    &refs::REFS,
    &cramfs::CRAMFS,
    &romfs::ROMFS,
    &minix::MINIX,
    &gfs::GFS,
    &gfs::GFS2,
    &ocfs::OCFS,
    &ocfs::OCFS2,
    &ocfs::ORACLEASM,
    &vxfs::VXFS,
    &squashfs::SQUASHFS,
    &squashfs::SQUASHFS3,
    &netware::NETWARE,
    &btrfs::BTRFS,
    &ubifs::UBIFS,
    &bfs::BFS,
    &vmfs_fs::VMFS,
    &befs::BEFS,
    &nilfs::NILFS2,
    &exfat::EXFAT,
    &f2fs::F2FS,
    &mpool::MPOOL,
    &apfs::APFS,
    &zonefs::ZONEFS,
    &erofs::EROFS,
];
