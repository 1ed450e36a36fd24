#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    eci_imagecache_fuzz::check_json_wire(data);
});
