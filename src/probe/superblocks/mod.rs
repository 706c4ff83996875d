//! The superblock probers, one module per family, and their table.
//!
//! To add a type: write `superblocks/<family>.rs` with `pub static NAME: Prober`,
//! declare the module here and put the prober in [`PROBERS`] where libblkid 2.38.1
//! has it (`superblocks.c`, `idinfos[]`).

use super::Prober;

mod adaptec;
mod apfs;
mod bcache;
mod befs;
mod bfs;
mod bitlocker;
mod bluestore;
mod btrfs;
mod cramfs;
mod ddf;
mod dm;
mod drbd;
mod drbdmanage;
mod drbdproxy;
mod erofs;
mod exfat;
mod exfs;
mod ext;
mod f2fs;
mod gfs;
mod hfs;
mod highpoint;
mod hpfs;
mod hwraid;
mod iso9660;
mod isw;
mod jfs;
mod jmicron;
mod lsi;
mod luks;
mod lvm;
mod mdraid;
mod minix;
mod mpool;
mod netware;
mod nilfs;
mod ntfs;
mod nvidia;
mod ocfs;
mod promise;
mod refs;
mod reiserfs;
mod romfs;
mod silicon;
mod squashfs;
mod stratis;
mod swap;
mod sysv;
mod ubi;
mod ubifs;
mod udf;
mod ufs;
mod vdo;
mod vfat;
mod via;
mod vmfs_fs;
mod vmfs_volume;
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
    &ddf::DDF,
    &isw::ISW,
    &lsi::LSI,
    &via::VIA,
    &silicon::SILICON,
    &nvidia::NVIDIA,
    &promise::PROMISE,
    &highpoint::HPT45X,
    &highpoint::HPT37X,
    &adaptec::ADAPTEC,
    &jmicron::JMICRON,
    &bcache::BCACHE,
    &bluestore::BLUESTORE,
    &drbd::DRBD,
    &drbdmanage::DRBDMANAGE,
    &drbdproxy::DRBDPROXY_DATALOG,
    &lvm::LVM2,
    &lvm::LVM1,
    &dm::SNAPSHOT_COW,
    &dm::VERITY_HASH,
    &dm::INTEGRITY,
    &luks::LUKS,
    &vmfs_volume::VMFS_VOLUME,
    &ubi::UBI,
    &vdo::VDO,
    &stratis::STRATIS,
    &bitlocker::BITLOCKER,
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
