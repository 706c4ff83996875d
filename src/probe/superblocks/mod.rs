//! The superblock probers, one module per family, and their table.

use super::Prober;

/// Every superblock prober, in libblkid's order (`superblocks.c` `idinfos[]`):
/// the order decides which result comes first and so the tag order and ambivalence.
pub static PROBERS: &[&Prober] = &[];
