//! `cargo +nightly fuzz run probe`: any bytes, probed as a device.
#![no_main]

use krazybox::probe::{probe_reader, Options, Probed, Reader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::from_bytes(data.to_vec());
    match probe_reader(&mut r, &Options::default()) {
        Ok(Probed::Tags(tags)) => assert!(tags.iter().all(|t| !t.value.contains(&0))),
        Ok(Probed::Ambivalent(found)) => assert!(found.len() >= 2),
        Ok(Probed::Nothing) => {}
        Err(e) => panic!("reading bytes failed: {e}"),
    }
});
