//! Fixed-offset fields of on-disk records, each declared once with its type.
//!
//! A prober reads a record (a superblock, a header) with one bounded
//! [`Reader`](super::Reader) call and picks numbers and strings out of it.
//! [`layout!`](crate::probe::field::layout) declares the record's length and
//! each field's offset and type; it checks at compile time that every field
//! lies inside the record, so reading a field of a record read at its declared
//! length cannot go out of bounds. The field's type says how it is decoded
//! (`Le32`, `Be16`, `Bytes<16>`…), so a field is never read with the wrong width;
//! numbers are decoded by byteorder's `ByteOrder`.
//!
//! ```ignore
//! layout! { SB_LEN = 128;
//!     BLKSZBITS: U8 = 12;
//!     UUID: Uuid = 48;
//! }
//! let sb = ctx.read(1024, SB_LEN)?;
//! let bits = sb.at(BLKSZBITS);
//! ```
//!
//! For offsets computed at run time (table entries, chained blocks),
//! [`Fields::try_at`] returns `None` instead of reading outside the slice.
#![forbid(unsafe_code)]

use byteorder::{BigEndian, ByteOrder, LittleEndian};

/// The byte order of numbers in records written in their host's order
/// (minix, sysv, vxfs…), read with [`Fields::at_in`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

/// A field at a fixed offset: how many bytes it takes and how they decode.
pub trait Field: Copy {
    /// Bytes the field takes.
    const LEN: usize;
    type Value;
    /// Offset of the field in its record.
    fn off(self) -> usize;
    /// Decode exactly [`Field::LEN`] bytes; `e` matters only for [`U16`], [`U32`], [`U64`].
    fn decode(b: &[u8], e: Endian) -> Self::Value;
}

/// A field whose byte order is part of its type.
pub trait Fixed: Field {}

/// The widths of numbers in records, read through byteorder's [`ByteOrder`].
trait Word {
    fn read<B: ByteOrder>(b: &[u8]) -> Self;
}

impl Word for u8 {
    fn read<B: ByteOrder>(b: &[u8]) -> u8 {
        b[0]
    }
}

impl Word for u16 {
    fn read<B: ByteOrder>(b: &[u8]) -> u16 {
        B::read_u16(b)
    }
}

impl Word for u32 {
    fn read<B: ByteOrder>(b: &[u8]) -> u32 {
        B::read_u32(b)
    }
}

impl Word for u64 {
    fn read<B: ByteOrder>(b: &[u8]) -> u64 {
        B::read_u64(b)
    }
}

macro_rules! number {
    ($($(#[$m:meta])* $name:ident: $t:ty, $len:literal, $order:ident;)*) => {$(
        $(#[$m])*
        #[derive(Clone, Copy, Debug)]
        pub struct $name(pub usize);
        impl $name {
            pub const fn new(off: usize) -> $name {
                $name(off)
            }
        }
        impl Field for $name {
            const LEN: usize = $len;
            type Value = $t;
            fn off(self) -> usize {
                self.0
            }
            #[allow(unused_variables)]
            fn decode(b: &[u8], e: Endian) -> $t {
                number!(@decode $order, $t, b, e)
            }
        }
        number!(@fixed $order, $name);
    )*};
    (@decode host, $t:ty, $b:ident, $e:ident) => {
        match $e {
            Endian::Little => <$t as Word>::read::<LittleEndian>($b),
            Endian::Big => <$t as Word>::read::<BigEndian>($b),
        }
    };
    (@decode $order:ident, $t:ty, $b:ident, $e:ident) => { <$t as Word>::read::<$order>($b) };
    (@fixed host, $name:ident) => {};
    (@fixed $o:ident, $name:ident) => { impl Fixed for $name {} };
}

number! {
    /// One byte.
    U8: u8, 1, LittleEndian;
    /// Little-endian numbers.
    Le16: u16, 2, LittleEndian;
    Le32: u32, 4, LittleEndian;
    Le64: u64, 8, LittleEndian;
    /// Big-endian numbers.
    Be16: u16, 2, BigEndian;
    Be32: u32, 4, BigEndian;
    Be64: u64, 8, BigEndian;
    /// Numbers in the record's own byte order ([`Fields::at_in`]).
    U16: u16, 2, host;
    U32: u32, 4, host;
    U64: u64, 8, host;
}

/// `N` raw bytes (a label, a magic, a UUID).
#[derive(Clone, Copy, Debug)]
pub struct Bytes<const N: usize>(pub usize);

/// A 16-byte UUID as libblkid prints it with `blkid_probe_set_uuid`
/// (see [`Ctx::set_uuid`](super::Ctx::set_uuid)).
pub type Uuid = Bytes<16>;

impl<const N: usize> Bytes<N> {
    pub const fn new(off: usize) -> Bytes<N> {
        Bytes(off)
    }

    /// Offset and length, for tables of fields of different lengths.
    pub const fn span(self) -> (usize, usize) {
        (self.0, N)
    }
}

impl<const N: usize> Field for Bytes<N> {
    const LEN: usize = N;
    type Value = [u8; N];
    fn off(self) -> usize {
        self.0
    }
    fn decode(b: &[u8], _: Endian) -> [u8; N] {
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        a
    }
}

impl<const N: usize> Fixed for Bytes<N> {}

/// Reading fields out of a record.
pub trait Fields {
    /// The field; the record must hold it, which [`layout!`] proves for a
    /// record read at its declared length.
    fn at<F: Fixed>(&self, f: F) -> F::Value;
    /// A field in byte order `e` (fixed-order fields ignore it).
    fn at_in<F: Field>(&self, e: Endian, f: F) -> F::Value;
    /// The field at a computed offset, `None` if the record does not hold it.
    fn try_at<F: Fixed>(&self, f: F) -> Option<F::Value>;
    /// [`Fields::try_at`] in byte order `e`.
    fn try_at_in<F: Field>(&self, e: Endian, f: F) -> Option<F::Value>;
    /// The field's bytes, as a slice of the record.
    fn slice<F: Field>(&self, f: F) -> &[u8];
}

impl Fields for [u8] {
    fn at<F: Fixed>(&self, f: F) -> F::Value {
        self.at_in(Endian::Little, f)
    }

    fn at_in<F: Field>(&self, e: Endian, f: F) -> F::Value {
        F::decode(self.slice(f), e)
    }

    fn try_at<F: Fixed>(&self, f: F) -> Option<F::Value> {
        self.try_at_in(Endian::Little, f)
    }

    fn try_at_in<F: Field>(&self, e: Endian, f: F) -> Option<F::Value> {
        let end = f.off().checked_add(F::LEN)?;
        self.get(f.off()..end).map(|b| F::decode(b, e))
    }

    fn slice<F: Field>(&self, f: F) -> &[u8] {
        &self[f.off()..f.off() + F::LEN]
    }
}

/// Writing fields, for tests that build images.
#[cfg(test)]
pub fn put(rec: &mut [u8], off: usize, value: &[u8]) {
    rec[off..off + value.len()].copy_from_slice(value);
}

/// Declare a record's length and its fields, with a compile-time check that
/// each field lies inside the record:
///
/// ```ignore
/// layout! { SB_LEN = 1024;
///     /// Doc comments and attributes are kept.
///     MAGIC: Le16 = 16;
///     LABEL: Bytes<16> = 0x40;
/// }
/// ```
///
/// makes `const SB_LEN: usize = 1024`, `const MAGIC: Le16 = Le16(16)`… A field
/// past the end (`LABEL: Bytes<16> = 1020`) does not compile.
macro_rules! layout {
    ($vis:vis $len:ident = $n:expr; $($(#[$m:meta])* $name:ident: $ty:ty = $off:expr;)*) => {
        $vis const $len: usize = $n;
        $(
            $(#[$m])*
            $vis const $name: $ty = <$ty>::new($off);
            const _: () = assert!(
                $off + <$ty as $crate::probe::field::Field>::LEN <= $len,
                concat!(stringify!($name), " lies outside ", stringify!($len)),
            );
        )*
    };
}
pub(crate) use layout;

#[cfg(test)]
mod tests {
    use super::*;

    layout! { REC_LEN = 16;
        A: Le16 = 0;
        B: Be32 = 2;
        C: U32 = 6;
        ID: Bytes<6> = 10;
    }

    #[test]
    fn reads_each_type_in_its_byte_order() {
        let rec: Vec<u8> = (1..=REC_LEN as u8).collect();
        assert_eq!(rec.at(A), 0x0201);
        assert_eq!(rec.at(B), 0x0304_0506);
        assert_eq!(rec.at_in(Endian::Little, C), 0x0a09_0807);
        assert_eq!(rec.at_in(Endian::Big, C), 0x0708_090a);
        assert_eq!(rec.at(ID), [11, 12, 13, 14, 15, 16]);
        assert_eq!(rec.slice(B), [3, 4, 5, 6]);
        assert_eq!(rec.at(Le64(8)), 0x100f_0e0d_0c0b_0a09);
        assert_eq!(rec.try_at(Le64(9)), None);
        assert_eq!(rec.try_at(Be16(usize::MAX)), None);
        assert_eq!(rec.try_at(U8(15)), Some(16));
        assert_eq!(rec.try_at_in(Endian::Big, U16(14)), Some(0x0f10));
    }
}
